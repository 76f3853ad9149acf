"""What the decision path writes before it sends (api/recording.py), on the real PostgreSQL."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from api import recording
from tests.support.kafka import unique
from transactions.models import Transaction
from users.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)


def on_a_connection_of_its_own(work):
    """work()'s result, run as the decision store runs it: on a thread, so on a connection of its own."""
    results = []

    def run():
        try:
            results.append(work())
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return results[0]


def synchronous_commit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("configured", "expected"), [(False, "off"), (True, "on")])
def test_the_rows_are_committed_without_waiting_for_the_disk_unless_configured(settings, configured, expected):
    settings.DECISION_SYNCHRONOUS_COMMIT = configured
    customer = Customer.objects.create(user_id=unique("rec"), first_name="Lena", last_name="W", max_speed=10)
    cleaned = {"transaction_id": unique("tx"), "customer": customer, "timestamp": timezone.now(),
               "lat": 51.5, "lng": -0.1, "amount": 25.0}

    def record():
        return recording.claim_and_record([(cleaned, None)]), synchronous_commit()
    (claimed, recorded), mode = on_a_connection_of_its_own(record)

    assert (claimed, recorded, mode) == ({}, {cleaned["transaction_id"]}, expected)
    assert Transaction.objects.filter(transaction_id=cleaned["transaction_id"], customer=customer).exists()
