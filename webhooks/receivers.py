"""Events from the other apps' signals, each sent inside the transaction of its change: the
deliveries commit or roll back with it (alerts/ and transactions/ know nothing of webhooks)."""

from django.dispatch import receiver

from alerts.signals import alert_reviewed, case_decided
from transactions.signals import verdicts_stored

from . import events
from .models import EventType


@receiver(verdicts_stored)
def verdicts_to_webhooks(sender, rows, **kwargs):
    # One query per batch when nobody subscribes: the worker stores thousands of verdicts a second.
    events.record(EventType.VERDICT, events.verdict_events(rows))


@receiver(alert_reviewed)
def reviews_to_webhooks(sender, reviews, **kwargs):
    events.record(EventType.ALERT_REVIEWED, events.alert_reviewed_events(reviews))


@receiver(case_decided)
def case_to_webhooks(sender, case, decided_by, alerts, **kwargs):
    events.record(EventType.CASE_DECIDED, events.case_decided_events(case, decided_by, alerts))
