"""Verdicts as the tests make them: Avro verdict records, and Verdict rows stored directly."""

from datetime import datetime, timezone

from alerts.models import Alert
from alerts.signals import make_alerts
from fraudsite.topics import VERDICTS
from transactions import context
from transactions.models import Verdict

MOMENT = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def verdict_record(user_id, transaction_id, **overrides):
    record = {
        "user_id": user_id, "transaction_id": transaction_id, "timestamp": 1_700_000_000_000, "lat": 51.5,
        "lng": -0.12, "amount": 10.0, "received_at": 1_700_000_000_005, "prev_transaction_id": None,
        "prev_timestamp": None, "prev_lat": None, "prev_lng": None, "prev_amount": None, "first_name": "Lena",
        "last_name": "Whitaker", "max_speed": 10.0, "distance_km": None, "elapsed_seconds": None,
        "speed_kmh": None, "is_fraud": False, "status": "VALID", "reason": "no_history", "reasons": "no_history",
        "score": 0.0, "outcome": "approve", **dict.fromkeys(context.NAMES),
    }
    record.update(overrides)
    return record


def as_stored(verdict, **alert_state):
    """A Verdict made directly, as the worker leaves it: a FRAUD verdict with its alert (the alerts
    app makes them when verdicts_stored is sent), in alert_state (review_status, reviewed_at)."""
    if verdict.is_fraud:
        make_alerts([verdict.transaction_id])
        Alert.objects.filter(pk=verdict.pk).update(**alert_state)
    return verdict


def stored_verdict(transaction_id="tx-1", status="FRAUD"):
    """A stored verdict with its alert's state, as the pages read it (Verdict.with_alert_state)."""
    verdict = as_stored(Verdict.objects.create(
        transaction_id=transaction_id, user_id="user_1", timestamp=MOMENT, received_at=MOMENT, lat=48.85, lng=2.35,
        amount=20, prev_transaction_id="tx-0", prev_lat=51.5, prev_lng=-0.12, first_name="Lena", last_name="Whitaker",
        max_speed=10, distance_km=343.5, elapsed_seconds=3600, speed_kmh=343.5, is_fraud=status == "FRAUD",
        status=status, reason="speed_above_limit", kafka_topic="t", kafka_partition=0, kafka_offset=1))
    return Verdict.objects.with_alert_state().get(pk=verdict.pk)


class VerdictMessage:
    """What the worker reads from Kafka, for store_batch alone (no broker needed to test storage)."""

    def __init__(self, record, offset):
        self._key, self._value, self._offset = record["user_id"].encode(), VERDICTS.codec().encode(record), offset

    def key(self):
        return self._key

    def value(self):
        return self._value

    def topic(self):
        return "card-transactions-enriched"

    def partition(self):
        return 0

    def offset(self):
        return self._offset
