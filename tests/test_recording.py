"""What the decision path writes before it sends (api/recording.py), on the real PostgreSQL."""

import asyncio
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from api import endpoint, idempotency, recording
from api.models import ClientKey, Decision
from tests.support.kafka import unique
from tests.support.reviews import verdict
from transactions import decisions
from transactions.models import Transaction
from users.models import Customer

# The decision path's connection is its own: it sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def payment(customer):
    return {"transaction_id": unique("tx"), "customer": customer, "timestamp": timezone.now(),
            "lat": 51.5, "lng": -0.1, "amount": 25.0}


@pytest.fixture(autouse=True)
def closed_at_the_end():
    yield
    recording.connection.close()  # or the test database could not be dropped


@pytest.fixture
def customer():
    return Customer.objects.create(user_id=unique("rec"), first_name="Lena", last_name="W", max_speed=10)


@pytest.mark.parametrize(("configured", "expected"), [(False, "off"), (True, "on")])
def test_the_rows_are_committed_without_waiting_for_the_disk_unless_configured(settings, customer, configured,
                                                                               expected):
    settings.DECISION_SYNCHRONOUS_COMMIT = configured
    cleaned = payment(customer)

    async def record():
        return (await recording.save_answers_claim_and_record([], [(cleaned, None)]),
                await recording.connection.execute("SHOW synchronous_commit", []))
    (claimed, recorded), mode = asyncio.run(record())

    assert (claimed, recorded, mode) == ({}, {cleaned["transaction_id"]}, [(expected,)])
    assert Transaction.objects.filter(transaction_id=cleaned["transaction_id"], customer=customer).exists()


def test_a_transaction_id_taken_before_is_not_recorded_again_and_forgotten_rows_go(customer):
    first, second = payment(customer), payment(customer)

    async def record():
        once = await recording.save_answers_claim_and_record([], [(first, None)])
        again = await recording.save_answers_claim_and_record([], [(first, None), (second, None)])
        await recording.forget([second["transaction_id"]], [])
        return once, again
    once, again = asyncio.run(record())

    assert once == ({}, {first["transaction_id"]}) and again == ({}, {second["transaction_id"]})
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == [first["transaction_id"]]


def test_a_retry_batched_with_its_keys_answer_gets_that_answer(customer):
    client_key, _ = ClientKey.objects.create_key(name=unique("client"), scopes=["decisions"])
    cleaned = payment(customer)

    def claim():
        return idempotency.Claim(client_key.id, "order-1", "digest", cleaned["transaction_id"])
    first, retry, answer = claim(), claim(), {"decision": "approve"}

    async def decide_then_retry():
        recorded = await endpoint.store([endpoint.Record(cleaned, first, send_by=time.monotonic() + 60)])
        answered_and_retried = await endpoint.store([
            endpoint.SaveAnswer(first.decision_id, answer),
            endpoint.Record(cleaned, retry, send_by=time.monotonic() + 60)])
        return recorded, answered_and_retried
    recorded, (saved, retried) = asyncio.run(decide_then_retry())

    assert recorded == ["recorded"] and saved is None
    assert retried is retry and retry.previous_answer == answer and retry.conflict is None
    assert Decision.objects.get(pk=first.decision_id).answer == answer
    assert Transaction.objects.filter(transaction_id=cleaned["transaction_id"]).count() == 1


@pytest.mark.parametrize("verdict_stored", [True, False])
def test_a_retry_of_a_claim_its_process_never_answered_gets_the_verdicts_answer_once_abandoned(customer,
                                                                                            verdict_stored):
    client_key, _ = ClientKey.objects.create_key(name=unique("client"), scopes=["decisions"])
    cleaned = payment(customer)

    def claim():
        return idempotency.Claim(client_key.id, "order-2", "digest", cleaned["transaction_id"])
    first, early_retry, late_retry = claim(), claim(), claim()

    def retried(retry):
        return asyncio.run(endpoint.store([endpoint.Record(cleaned, retry, send_by=time.monotonic() + 60)]))

    asyncio.run(endpoint.store([endpoint.Record(cleaned, first, send_by=time.monotonic() + 60)]))
    # The first request's process stopped before it saved an answer:
    assert retried(early_retry) == [early_retry] and early_retry.conflict.status == 409  # still answering
    Decision.objects.filter(pk=first.decision_id).update(
        created_at=timezone.now() - idempotency.abandoned_after() - timedelta(seconds=1))
    if verdict_stored:
        verdict(transaction_id=cleaned["transaction_id"], user_id=customer.user_id, outcome="decline", score=60.0)
    assert retried(late_retry) == [late_retry] and late_retry.conflict is None

    expected = ({"transaction_id": cleaned["transaction_id"], "decision": "decline", "timed_out": False,
                 "score": 60.0, "status": "FRAUD", "reasons": ["speed_above_limit", "velocity_exceeded"]}
                if verdict_stored else decisions.fallback(cleaned["transaction_id"], timed_out=True))
    assert {name: value for name, value in late_retry.previous_answer.items() if name != "measurements"} == expected
    assert Decision.objects.get(pk=first.decision_id).answer == late_retry.previous_answer  # for the next retry
    asyncio.run(recording.save_answers_claim_and_record([(first.decision_id, {"decision": "approve"})], []))
    assert Decision.objects.get(pk=first.decision_id).answer == late_retry.previous_answer  # the first answer stays
