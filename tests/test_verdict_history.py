"""History that never changes (issue 28): a stored verdict is never overwritten, a differing
redelivery is kept as a conflict, and a submitted transaction is related to its verdict by the
transaction id, whichever of the submitter and the worker commits first.

The worker's storage (store_batch, as the worker calls it) on the real database; the worker itself
reading a redelivery from Kafka is in tests/test_worker.py."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse

from alerts.models import Alert
from fraudsite import metrics
from fraudsite.topics import VERDICTS
from tests.support.kafka import unique
from tests.support.records import MOMENT, VerdictMessage, verdict_record
from transactions import health, submission, verdicts
from transactions.models import Transaction, Verdict, VerdictConflict
from transactions.signals import verdicts_stored
from transactions.verdicts import store_batch
from users.models import Customer
from webhooks.models import Delivery, Endpoint

# Transactional: each store_batch commits, as the worker's do (its staging table empties at commit).
pytestmark = pytest.mark.django_db(transaction=True)

FRAUD = dict(status="FRAUD", is_fraud=True, reason="speed_above_limit", reasons="speed_above_limit",
             speed_kmh=343.5, distance_km=343.5, elapsed_seconds=3600.0, score=100.0, outcome="decline")
HOLD_SECONDS = 30


def store(*records_at):
    """Store (record, offset) pairs as one batch read from Kafka; returns the rows stored."""
    stored, _ = store_batch([VerdictMessage(record, offset) for record, offset in records_at], VERDICTS.codec())
    return stored


def as_decoded(record):
    """The record as the worker decodes it from Kafka: every field of the schema."""
    codec = VERDICTS.codec()
    return codec.decode(codec.encode(record))


def snapshot(transaction_id):
    return Verdict.objects.filter(transaction_id=transaction_id).values().get()


@pytest.fixture(params=["postgresql", "orm"])
def storage(request, monkeypatch):
    """Both ways of storing: PostgreSQL's COPY and INSERT, and the ORM's for other databases."""
    if request.param == "postgresql" and connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL (make test sets it)")
    if request.param == "orm":
        monkeypatch.setattr(verdicts, "_store_postgresql", verdicts._store_generic)
    return request.param


# --- Immutable verdicts -------------------------------------------------------------------------

def test_the_first_verdict_stored_wins_and_a_differing_one_is_kept_as_a_conflict(storage, caplog):
    caplog.set_level(logging.WARNING, logger="fraudsite.verdicts")
    transaction_id = unique("tx")
    first = verdict_record("user_1", transaction_id)
    assert [row["transaction_id"] for row in store((first, 1))] == [transaction_id]
    stored = snapshot(transaction_id)

    assert store((first, 2)) == []  # the same verdict read again elsewhere: nothing changes
    assert snapshot(transaction_id) == stored and not VerdictConflict.objects.exists()
    assert not caplog.records

    differing = verdict_record("user_1", transaction_id, **FRAUD)
    assert store((differing, 3)) == []
    assert snapshot(transaction_id) == stored  # kafka_offset and stored_at included
    conflict = VerdictConflict.objects.get()
    assert (conflict.transaction_id, conflict.verdict_id) == (transaction_id, stored["id"])
    assert (conflict.kafka_topic, conflict.kafka_partition, conflict.kafka_offset) == ("card-transactions-enriched", 0, 3)
    assert conflict.record == as_decoded(differing)  # verbatim: times in epoch milliseconds, absent text null
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING and transaction_id in warning.getMessage()
    assert ("in distance_km, elapsed_seconds, speed_kmh, is_fraud, status, reason, reasons, score, outcome;"
            in warning.getMessage())
    assert '"status": "VALID"' in warning.getMessage() and '"status": "FRAUD"' in warning.getMessage()

    store((differing, 3))  # the same batch replayed after a crash
    assert VerdictConflict.objects.count() == 1
    # The very record stored, replayed: stored again (pushed again), and still unchanged.
    assert [row["kafka_offset"] for row in store((first, 1))] == [1]
    assert snapshot(transaction_id) == stored


def test_within_a_batch_the_first_record_read_wins(storage):
    transaction_id = unique("tx")
    first, differing = verdict_record("user_1", transaction_id), verdict_record("user_1", transaction_id, **FRAUD)

    stored = store((first, 1), (differing, 2), (first, 3))

    assert [row["kafka_offset"] for row in stored] == [1]
    assert (snapshot(transaction_id)["status"], snapshot(transaction_id)["kafka_offset"]) == ("VALID", 1)
    assert list(VerdictConflict.objects.values_list("kafka_offset", flat=True)) == [2]


def test_alerts_and_webhooks_follow_the_stored_verdict_only(storage):
    customer = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="W", max_speed=10)
    valid, fraud = unique("tx"), unique("tx")
    store((verdict_record(customer.user_id, valid), 1), (verdict_record(customer.user_id, fraud, **FRAUD), 2))
    assert list(Alert.objects.values_list("verdict__transaction_id", flat=True)) == [fraud]
    # Subscribed after the first storing: a delivery now could only come from a redelivery.
    Endpoint.objects.create(url="http://127.0.0.1:9/hooks", event_types=["verdict"])

    store((verdict_record(customer.user_id, valid, **FRAUD), 3),  # differs: would be a new alert
          (verdict_record(customer.user_id, fraud), 4))            # differs: would clear the alert
    store((verdict_record(customer.user_id, fraud, **FRAUD), 5))   # the same as stored

    assert list(Alert.objects.values_list("verdict__transaction_id", flat=True)) == [fraud]
    assert not Delivery.objects.exists()
    assert dict(Verdict.objects.values_list("transaction_id", "status")) == {valid: "VALID", fraud: "FRAUD"}
    assert VerdictConflict.objects.count() == 2


def test_conflicts_are_counted_for_health_and_metrics_and_shown_in_the_admin(admin_client):
    transaction_id = unique("tx")
    store((verdict_record("user_1", transaction_id), 1), (verdict_record("user_1", transaction_id, amount=99.0), 2))

    assert health.recent_conflicts() == 1
    text = metrics.exposition(lambda: {"verdict_conflicts": health.recent_conflicts(), "checks": {}}).decode()
    assert "fraudsite_verdict_conflicts 1.0" in text
    conflict = VerdictConflict.objects.get()
    listing = admin_client.get(reverse("admin:transactions_verdictconflict_changelist")).content.decode()
    assert transaction_id in listing and "amount" in listing  # what differs
    page = admin_client.get(reverse("admin:transactions_verdictconflict_change", args=[conflict.pk])).content.decode()
    assert "&quot;amount&quot;: 99" in page  # the record as received
    assert admin_client.post(reverse("admin:transactions_verdictconflict_delete", args=[conflict.pk])).status_code == 403
    assert VerdictConflict.objects.exists()


# --- The transaction and its verdict --------------------------------------------------------------

def test_a_transaction_is_unjudged_exactly_until_a_verdict_of_its_id_is_stored():
    customer = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="W", max_speed=10)
    submitted = Transaction.objects.create(transaction_id=unique("tx"), customer=customer, timestamp=MOMENT,
                                           lat=1, lng=2, amount=3)
    assert submitted.verdict is None and health.oldest_unjudged_seconds() > 0

    store((verdict_record(customer.user_id, submitted.transaction_id), 1))

    assert submitted.verdict == Verdict.objects.get(transaction_id=submitted.transaction_id)
    assert health.oldest_unjudged_seconds() is None


def in_thread(function):
    """function() in a thread of its own, on its own database connection (closed after)."""
    def run():
        try:
            return function()
        finally:
            connection.close()

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(run)
    executor.shutdown(wait=False)
    return future


@pytest.mark.stack
@pytest.mark.parametrize("held", ["submitter", "worker"])
def test_a_transaction_is_related_to_its_verdict_whichever_commits_first(kafka, monkeypatch, held):
    """One side is held at its critical point (its row written, its transaction not committed)
    while the other runs to its commit. A link column set by whichever wrote last stayed empty
    when the worker was held (issue 28); the relation by transaction id cannot miss."""
    customer = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="W", max_speed=10)
    cleaned, errors = submission.validate({"user_id": customer.user_id, "amount": 5, "lat": 48.85, "lng": 2.35})
    assert not errors
    transaction_id = cleaned["transaction_id"]
    message = VerdictMessage(verdict_record(customer.user_id, transaction_id), offset=1)
    written, go = threading.Event(), threading.Event()

    def hold(*args, **kwargs):
        written.set()
        assert go.wait(HOLD_SECONDS), "never released"

    real_produce = submission.produce_and_confirm

    def held_produce(*args):  # the submitter's produce: between its INSERT and its commit
        hold()
        return real_produce(*args)

    try:
        if held == "submitter":
            monkeypatch.setattr(submission, "produce_and_confirm", held_produce)
            held_side = in_thread(lambda: submission.submit(cleaned))
            assert written.wait(HOLD_SECONDS)
            store_batch([message], VERDICTS.codec())  # the worker, committed
            assert not Transaction.objects.filter(transaction_id=transaction_id).exists()  # not yet committed
        else:  # verdicts_stored is sent inside the storing transaction, after its INSERT
            verdicts_stored.connect(hold, dispatch_uid="hold-the-worker")
            held_side = in_thread(lambda: store_batch([message], VERDICTS.codec()))
            assert written.wait(HOLD_SECONDS)
            submission.submit(cleaned)  # the submitter, committed
            assert not Verdict.objects.filter(transaction_id=transaction_id).exists()  # not yet committed
    finally:
        go.set()
        verdicts_stored.disconnect(dispatch_uid="hold-the-worker")
    held_side.result(HOLD_SECONDS)

    assert Transaction.objects.get(transaction_id=transaction_id).verdict == Verdict.objects.get(
        transaction_id=transaction_id)
    assert health.oldest_unjudged_seconds() is None
    assert health.report()["oldest_unjudged_transaction_seconds"] is None
