"""The history admin: read-only verdicts with filters and search, submitted transactions, dead letters."""

from datetime import datetime, timezone

import pytest
from django.urls import reverse

from transactions.models import DeadLetter, Verdict

pytestmark = pytest.mark.django_db


def verdict(transaction_id, status, is_fraud=False):
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    return Verdict(transaction_id=transaction_id, user_id="user_1", timestamp=moment, received_at=moment, lat=1,
                   lng=2, amount=3, is_fraud=is_fraud, status=status, reason="r", kafka_topic="t",
                   kafka_partition=0, kafka_offset=len(transaction_id))


@pytest.fixture
def verdicts():
    Verdict.objects.bulk_create([verdict("tx-valid", "VALID"), verdict("tx-fraud", "FRAUD", True),
                                 verdict("tx-unknown", "UNKNOWN_CUSTOMER")])


@pytest.mark.parametrize("query, shown, hidden", [
    ("status__exact=FRAUD", "tx-fraud", "tx-valid"),
    ("status__exact=UNKNOWN_CUSTOMER", "tx-unknown", "tx-fraud"),
    ("is_fraud__exact=0", "tx-valid", "tx-fraud"),
    ("q=tx-fraud", "tx-fraud", "tx-unknown"),
])
def test_verdict_list_filters_and_search(admin_client, verdicts, query, shown, hidden):
    page = admin_client.get(reverse("admin:transactions_verdict_changelist") + "?" + query).content.decode()
    assert shown in page and hidden not in page


def test_verdicts_are_read_only(admin_client, verdicts):
    pk = Verdict.objects.get(transaction_id="tx-fraud").pk
    assert admin_client.get(reverse("admin:transactions_verdict_add")).status_code == 403
    admin_client.post(reverse("admin:transactions_verdict_change", args=[pk]), {"status": "VALID"})
    assert Verdict.objects.get(pk=pk).status == "FRAUD"


def test_dead_letters_show_their_raw_bytes_and_error(admin_client):
    letter = DeadLetter.objects.create(topic="t", partition=1, offset=7, key=b"user_1", value=b"\x00\xff", error="bad")
    page = admin_client.get(reverse("admin:transactions_deadletter_change", args=[letter.pk])).content.decode()
    assert "b&#x27;\\x00\\xff&#x27;" in page and "bad" in page
    assert admin_client.get(reverse("admin:transactions_transaction_changelist")).status_code == 200


@pytest.mark.parametrize("page", ["admin:transactions_verdict_changelist", "admin:transactions_verdict_export"])
def test_a_date_typed_without_a_zone_is_read_in_the_sites_zone_without_a_warning(admin_client, page):
    import warnings

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    Verdict.objects.bulk_create([verdict("tx-day-before", "VALID"), verdict("tx-that-day", "FRAUD", True)])
    Verdict.objects.filter(transaction_id="tx-day-before").update(received_at=moment.replace(day=1, hour=23))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "received a naive datetime" fails the test
        response = admin_client.get(reverse(page) + "?received_at__gte=2026-01-02")
        content = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
    assert response.status_code == 200
    assert "tx-that-day" in content and "tx-day-before" not in content
