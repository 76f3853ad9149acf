"""POST /api/transactions and the original demo's POST /submit-event."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from fraudsite.topics import CARD_TRANSACTIONS
from tests.support.kafka import latest_records, unique
from transactions.models import Transaction
from users.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(django_capture_on_commit_callbacks):
    return Customer.objects.bulk_create([Customer(user_id=unique("api"), first_name="Lena", last_name="W", max_speed=10)])[0]


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user(username=unique("op"), password="pw")
    user.user_permissions.add(Permission.objects.get(codename="add_transaction"))
    return user


@pytest.fixture
def api(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.get(reverse("login"))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    def post(path, body, raw=False):
        data = body if raw else json.dumps(body)
        response = client.post(path, data, content_type="application/json", HTTP_X_CSRFTOKEN=token)
        return response.status_code, response.json()
    return post


def good(customer, **overrides):
    body = {"user_id": customer.user_id, "amount": 12.5, "lat": 51.5, "lng": -0.12}
    body.update(overrides)
    return body


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


NOW = datetime.now(timezone.utc)


@pytest.mark.parametrize("overrides, field, message", [
    ({"lat": 90.01}, "lat", "<= 90"),
    ({"lat": -91}, "lat", ">= -90"),
    ({"lng": 180.5}, "lng", "<= 180"),
    ({"lng": "12"}, "lng", "Must be a number"),
    ({"lat": True}, "lat", "Must be a number"),
    ({"lat": None}, "lat", "required"),
    ({"amount": 0}, "amount", "> 0"),
    ({"amount": -3}, "amount", "> 0"),
    ({"amount": 10_000_000}, "amount", "<= 1e+06"),
    ({"user_id": "nobody_at_all"}, "user_id", "No active customer"),
    ({"user_id": 7}, "user_id", "required"),
    ({"transaction_id": "has spaces"}, "transaction_id", "1 to 64"),
    ({"transaction_id": "x" * 65}, "transaction_id", "1 to 64"),
    ({"transaction_id": 12}, "transaction_id", "1 to 64"),
    ({"timestamp": "yesterday"}, "timestamp", "ISO-8601"),
    ({"timestamp": "2026-01-01T00:00:00"}, "timestamp", "time zone"),
    ({"timestamp": int((NOW + timedelta(hours=1)).timestamp() * 1000)}, "timestamp", "future"),
    ({"timestamp": iso(NOW - timedelta(days=3))}, "timestamp", "past"),
    ({"timestamp": 1e30}, "timestamp", "epoch milliseconds"),
    # The optional context (transactions/context.py): a card number is never taken for a token.
    ({"card_token": "4111 1111 1111 1111"}, "card_token", "looks like a card number (PAN)"),
    ({"card_token": "4111-1111-1111-1111"}, "card_token", "looks like a card number (PAN)"),
    ({"card_token": "5500005555555559"}, "card_token", "looks like a card number (PAN)"),
    ({"card_token": "tok en"}, "card_token", "letters, digits"),
    ({"card_token": 4111111111111111}, "card_token", "Must be text"),
    ({"card_bin": "41111"}, "card_bin", "6 or 8 digits"),
    ({"card_bin": "411111111111"}, "card_bin", "6 or 8 digits"),
    ({"merchant_id": "m" * 65}, "merchant_id", "1 to 64"),
    ({"merchant_category_code": "541"}, "merchant_category_code", "4 digits"),
    ({"merchant_country": "XX"}, "merchant_country", "ISO 3166-1 alpha-2"),
    ({"merchant_country": "gb"}, "merchant_country", "ISO 3166-1 alpha-2"),
    ({"channel": "phone"}, "channel", "card_present, ecommerce, atm"),
    ({"device_id": "dev\u0000ice"}, "device_id", "control characters"),
    ({"ip_address": "999.1.1.1"}, "ip_address", "IPv4 or IPv6"),
    ({"ip_address": "fe80::1%" + "e" * 100}, "ip_address", "without a zone"),
])
def test_invalid_submissions_get_per_field_errors_and_produce_nothing(api, customer, overrides, field, message):
    status, body = api("/api/transactions", good(customer, **overrides))
    assert status == 400
    assert message in " ".join(body["errors"][field])
    assert not Transaction.objects.exists()


def test_inactive_customers_cannot_transact(api, customer):
    Customer.objects.filter(pk=customer.pk).update(active=False)
    status, body = api("/api/transactions", good(customer))
    assert (status, list(body["errors"])) == (400, ["user_id"])


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"a string"'])
def test_a_body_that_is_not_a_json_object_is_a_400(api, customer, raw):
    status, body = api("/api/transactions", raw, raw=True)
    assert status == 400 and body["errors"]["__all__"]


def test_several_errors_are_reported_together(api, customer):
    status, body = api("/api/transactions", {"user_id": customer.user_id, "lat": 100, "lng": -200})
    assert status == 400 and set(body["errors"]) == {"lat", "lng", "amount"}


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_valid_submission_is_produced_recorded_and_accepted(kafka, api, customer, operator):
    context = {"card_token": "c1f0e8b2", "card_bin": "41111111", "merchant_id": "m-1", "merchant_category_code": "5812",
               "merchant_country": "GB", "channel": "ecommerce", "device_id": "", "ip_address": " 203.0.113.7 "}
    status, body = api("/api/transactions", good(customer, transaction_id="tx-ok-" + customer.user_id, **context))
    assert (status, body["status"]) == (202, "accepted")

    as_stored = {**context, "device_id": None, "ip_address": "203.0.113.7"}  # "" is not given; spaces trimmed
    recorded = Transaction.objects.get(transaction_id=body["transaction_id"])
    assert (recorded.customer, recorded.amount, recorded.submitted_by) == (customer, 12.5, operator)
    assert {name: getattr(recorded, name) for name in as_stored} == as_stored
    (value, _), = latest_records("card-transactions", customer.user_id)
    record = CARD_TRANSACTIONS.codec().decode(value)
    assert (record["transaction_id"], record["lat"], record["lng"], record["amount"]) == (
        body["transaction_id"], 51.5, -0.12, 12.5)
    assert {name: record[name] for name in as_stored} == as_stored
    assert abs(record["timestamp"] - recorded.timestamp.timestamp() * 1000) < 1

    status, body = api("/api/transactions", good(customer, transaction_id="tx-ok-" + customer.user_id))
    assert status == 409 and "already submitted" in body["errors"]["transaction_id"][0]
    assert len(latest_records("card-transactions", customer.user_id)) == 1


@pytest.mark.django_db(transaction=True)
def test_kafka_unreachable_is_a_503_and_nothing_is_recorded(api, customer, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = "localhost:1"  # nothing listens there
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 1000
    status, body = api("/api/transactions", good(customer))
    assert status == 503 and "Kafka is unavailable" in body["error"]
    assert not Transaction.objects.exists()


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_submit_event_accepts_the_original_demo_body(kafka, api, customer):
    body = {"transaction_id": unique("legacy"), "user_id": customer.user_id, "amount": 3.5,
            "latitude": 40.7, "longitude": -74.0, "timestamp": iso(NOW)}
    status, answer = api("/submit-event", body)
    assert (status, answer["transaction_id"]) == (202, body["transaction_id"])
    recorded = Transaction.objects.get(transaction_id=body["transaction_id"])
    assert (recorded.lat, recorded.lng) == (40.7, -74.0)


@pytest.mark.parametrize("overrides, field", [
    ({"latitude": 95}, "latitude"), ({"longitude": "west"}, "longitude"), ({"amount": 0}, "amount"),
    ({"timestamp": 1700000000000}, "timestamp"), ({"timestamp": "not a time"}, "timestamp"),
    ({"user_id": "ghost"}, "user_id"), ({"transaction_id": "bad id"}, "transaction_id"),
])
def test_submit_event_validates_like_the_api(api, customer, overrides, field):
    body = {"transaction_id": unique("legacy"), "user_id": customer.user_id, "amount": 3.5,
            "latitude": 40.7, "longitude": -74.0, "timestamp": iso(NOW)}
    body.update(overrides)
    status, answer = api("/submit-event", body)
    assert status == 400 and field in answer["errors"]
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("path", ["/api/transactions", "/submit-event"])
def test_endpoints_require_sign_in_permission_and_csrf(path, customer, operator, django_user_model):
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(path, "{}", content_type="application/json").status_code == 403

    unprivileged = Client()
    unprivileged.force_login(django_user_model.objects.create_user(username=unique("u"), password="pw"))
    response = unprivileged.post(path, json.dumps(good(customer)), content_type="application/json")
    assert response.status_code == 403 and "may not" in response.json()["error"]

    no_token = Client(enforce_csrf_checks=True)
    no_token.force_login(operator)
    assert no_token.post(path, json.dumps(good(customer)), content_type="application/json").status_code == 403
    assert not Transaction.objects.exists()


def test_get_is_not_allowed(api, operator):
    client = Client()
    client.force_login(operator)
    assert client.get("/api/transactions").status_code == 405
