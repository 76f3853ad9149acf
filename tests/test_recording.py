"""What the decision path writes before it sends (api/recording.py), on the real PostgreSQL."""

import asyncio

import pytest
from django.utils import timezone

from api import recording
from tests.support.kafka import unique
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
        return (await recording.claim_and_record([(cleaned, None)]),
                await recording.connection.execute("SHOW synchronous_commit", []))
    (claimed, recorded), mode = asyncio.run(record())

    assert (claimed, recorded, mode) == ({}, {cleaned["transaction_id"]}, [(expected,)])
    assert Transaction.objects.filter(transaction_id=cleaned["transaction_id"], customer=customer).exists()


def test_a_transaction_id_taken_before_is_not_recorded_again_and_forgotten_rows_go(customer):
    first, second = payment(customer), payment(customer)

    async def record():
        once = await recording.claim_and_record([(first, None)])
        again = await recording.claim_and_record([(first, None), (second, None)])
        await recording.forget([second["transaction_id"]], [])
        return once, again
    once, again = asyncio.run(record())

    assert once == ({}, {first["transaction_id"]}) and again == ({}, {second["transaction_id"]})
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == [first["transaction_id"]]
