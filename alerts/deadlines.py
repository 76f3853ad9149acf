"""How old an open alert is against its status's time limit (settings.ALERT_DEADLINE_MINUTES)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, DateTimeField, F, Q, When
from django.db.models.functions import Coalesce
from django.utils import timezone

# Past this share of its limit an alert is shown as nearly due.
NEARLY_DUE_SHARE = 0.75
LABELS = {"overdue": "Overdue", "nearly-due": "Nearly due", "in-time": "In time"}


def limit(review_status):
    return timedelta(minutes=settings.ALERT_DEADLINE_MINUTES[review_status])


def waiting_since(alert):
    """Undecided alerts wait from their arrival, follow-ups from the decision that asked for one."""
    return alert.reviewed_at if alert.review_status and alert.reviewed_at else alert.verdict.received_at


def standing(alert, now=None):
    """'overdue', 'nearly-due' or 'in-time' for an open alert."""
    age = (now or timezone.now()) - waiting_since(alert)
    allowed = limit(alert.review_status)
    if age > allowed:
        return "overdue"
    return "nearly-due" if age > allowed * NEARLY_DUE_SHARE else "in-time"


def with_waiting_since(alerts):
    """The alerts annotated with waiting_since, for sorting by age in the database."""
    return alerts.annotate(waiting_since=Case(
        When(review_status="", then=F("verdict__received_at")),
        default=Coalesce(F("reviewed_at"), F("verdict__received_at")), output_field=DateTimeField()))


def overdue(alerts, now=None):
    """The open alerts past their status's limit."""
    now = now or timezone.now()
    past_limit = Q()
    for status in settings.ALERT_DEADLINE_MINUTES:
        past_limit |= Q(review_status=status, waiting_since__lt=now - limit(status))
    return with_waiting_since(alerts).filter(past_limit)
