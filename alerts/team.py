"""The team lead's view: who holds what, what is overdue, how fast alerts are decided."""

import statistics
from collections import Counter
from datetime import timedelta

from django.utils import timezone

from . import deadlines
from .models import Alert, AlertReview
from .reviews import OPEN_STATUSES, open_alerts


def workload(days=7, now=None):
    """Per analyst: alerts held now, decisions in the last `days` days and their median time from
    the alert's arrival to the decision; plus the overdue alerts and how many nobody holds."""
    now = now or timezone.now()
    held = Counter(Alert.objects.filter(holder__isnull=False, review_status__in=OPEN_STATUSES)
                   .values_list("holder__username", flat=True))
    recent = AlertReview.objects.filter(decided_at__gte=now - timedelta(days=days))
    waits = {}
    for reviewer, decided_at, received_at in recent.values_list("reviewer_username", "decided_at",
                                                                "verdict__received_at"):
        waits.setdefault(reviewer, []).append((decided_at - received_at).total_seconds())
    analysts = sorted(set(held) | set(waits))
    every_wait = [wait for analyst_waits in waits.values() for wait in analyst_waits]
    return {
        "days": days,
        "analysts": [{
            "username": name, "held": held.get(name, 0), "decided": len(waits.get(name, [])),
            "median_minutes_to_decision": _median_minutes(waits.get(name)),
        } for name in analysts],
        "median_minutes_to_decision": _median_minutes(every_wait),
        "overdue": deadlines.overdue(open_alerts(), now).select_related("verdict", "holder").order_by("waiting_since"),
        "unheld": open_alerts().filter(holder__isnull=True).count(),
    }


def _median_minutes(seconds):
    return round(statistics.median(seconds) / 60, 1) if seconds else None
