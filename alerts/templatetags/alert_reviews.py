"""Review state for the pages of other apps that show alerts (the operator page, the customer
view): they load this library instead of importing the alerts app."""

from django import template

from ..models import DECISIONS, ReviewStatus

register = template.Library()


@register.simple_tag
def review_decisions():
    """{decision: label}: what an operator can decide about an alert."""
    return DECISIONS


@register.filter
def review_label(review_status):
    """The label of a review status ("Open" for an alert nobody decided yet)."""
    return ReviewStatus(review_status).label
