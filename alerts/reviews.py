"""Operators' decisions on alerts (FRAUD verdicts): one function every entry point calls, so the
map page, the alert pages and the admin record decisions the same way."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from fraudsite.validation import has_control_characters
from transactions.models import DECISIONS, ReviewStatus, Verdict

from .models import AlertReview

MAX_COMMENT_LENGTH = 2000
# Alerts still waiting for an operator: never decided, or decided to need a follow-up.
OPEN_STATUSES = (ReviewStatus.OPEN, ReviewStatus.NEEDS_FOLLOW_UP)


class ReviewError(ValueError):
    """A decision that cannot be recorded; the message says why."""


def validate_review(decision, comment):
    """{field: [message]} of what is wrong with a decision and its comment (empty when fine)."""
    errors = {}
    if not isinstance(decision, str) or decision not in DECISIONS:
        errors["decision"] = [f"Must be one of: {', '.join(DECISIONS)}."]
    if not isinstance(comment, str) or not comment.strip():
        errors["comment"] = ["Say why: a comment is required."]
    elif has_control_characters(comment, multiline=True):
        errors["comment"] = ["Must not contain control characters other than line breaks and tabs."]
    elif len(comment) > MAX_COMMENT_LENGTH:
        errors["comment"] = [f"At most {MAX_COMMENT_LENGTH} characters."]
    return errors


def not_an_alert(verdict):
    """Why the verdict cannot be reviewed, or None when it is an alert."""
    return None if verdict.is_fraud else f"{verdict.transaction_id} is not an alert: its verdict is {verdict.status}."


def review_alert(verdict_pk, decision, comment, user):
    """Record an operator's decision on an alert and make it the alert's status. Returns the review."""
    errors = validate_review(decision, comment)
    if errors:
        raise ReviewError(" ".join(message for messages in errors.values() for message in messages))
    with transaction.atomic():
        verdict = Verdict.objects.select_for_update().get(pk=verdict_pk)
        if problem := not_an_alert(verdict):
            raise ReviewError(problem)
        review = AlertReview.objects.create(verdict=verdict, decision=decision, comment=comment.strip(),
                                            reviewer=user, reviewer_username=user.get_username())
        verdict.review_status = decision
        verdict.reviewed_at = review.decided_at
        verdict.save(update_fields=["review_status", "reviewed_at"])
    return review


def alerts():
    return Verdict.objects.filter(is_fraud=True)


def counts_by_status():
    """{review status: number of alerts}, every status present."""
    counts = {row["review_status"]: row["n"] for row in alerts().values("review_status").annotate(n=Count("pk"))}
    return {value: counts.get(value, 0) for value, _ in ReviewStatus.choices}


def open_alerts():
    return alerts().filter(review_status__in=OPEN_STATUSES).order_by("received_at")


def review_message(review):
    return {
        "transaction_id": review.verdict.transaction_id, "decision": review.decision,
        "decision_label": review.get_decision_display(), "comment": review.comment,
        "reviewer": review.reviewer_username, "decided_at": timezone.localtime(review.decided_at).isoformat(),
    }
