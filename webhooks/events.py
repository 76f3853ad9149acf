"""What each event says (its JSON payload), and writing it as Delivery rows for every endpoint that
subscribes, in the caller's transaction: stored first, sent later by the deliverer."""

import math
import uuid

from django.utils import timezone

from transactions.verdicts import MEASUREMENTS, time_of

from .models import Delivery, Endpoint

# Verdict event ids are derived from the transaction id, so that a batch the worker stores again
# after a crash (store_rows is idempotent) writes no second delivery.
VERDICT_EVENT_NAMESPACE = uuid.UUID("1f0c7a5e-7e1b-4a8e-9a55-3d1c2b6f0a11")


def _iso(moment):
    return None if moment is None else moment.isoformat()


def _json_value(value):
    # JSON (and PostgreSQL's jsonb) has no NaN or infinity: a delivery that could not be stored
    # would fail the worker's whole batch.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def subscribed_endpoints(event_type):
    """The active endpoints that receive event_type: one query (endpoints are few; the JSON list is
    filtered here, which every database can do)."""
    return [endpoint for endpoint in Endpoint.objects.filter(active=True).only("id", "event_types")
            if event_type in endpoint.event_types]


def record(event_type, events):
    """Write deliveries of events [(event id, ordering key, data)] to every subscribed endpoint, in
    the order given. events may be a generator: it is not consumed when nobody subscribes."""
    endpoints = subscribed_endpoints(event_type)
    if not endpoints:
        return 0
    now = timezone.now()
    deliveries = [
        Delivery(endpoint=endpoint, event_type=event_type, event_id=event_id, ordering_key=key,
                 payload={"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": data},
                 created_at=now, next_attempt_at=now)
        for event_id, key, data in events for endpoint in endpoints]
    return len(Delivery.objects.bulk_create(deliveries, ignore_conflicts=True))


def verdict_events(rows):
    """From store_rows's rows (dicts of the verdict's columns as the schema has them)."""
    for row in rows:
        data = {"transaction_id": row["transaction_id"], "user_id": row["user_id"], "status": row["status"],
                "outcome": row["outcome"], "score": _json_value(row["score"]),
                "reasons": [reason for reason in (row["reasons"] or "").split(",") if reason],
                "measurements": {name: _json_value(row.get(name)) for name in MEASUREMENTS},
                "received_at": _iso(time_of(row["received_at"]))}
        yield uuid.uuid5(VERDICT_EVENT_NAMESPACE, row["transaction_id"]), row["user_id"], data


def alert_reviewed_events(reviews):
    for review in reviews:
        data = {"transaction_id": review.verdict.transaction_id, "user_id": review.verdict.user_id,
                "decision": review.decision, "comment": review.comment, "reviewer": review.reviewer_username,
                "decided_at": _iso(review.decided_at)}
        yield uuid.uuid4(), review.verdict.user_id, data


def case_decided_events(case, decided_by, alerts):
    user_id = case.customer.user_id
    yield uuid.uuid4(), user_id, {"case_id": case.pk, "user_id": user_id, "decision": case.decision,
                                  "alerts": list(alerts), "decided_by": decided_by,
                                  "decided_at": _iso(case.decided_at)}
