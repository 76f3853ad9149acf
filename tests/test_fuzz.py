"""Property-based fuzzing of both transaction endpoints: arbitrary JSON and headers never cause a
server error, and nothing invalid is ever produced to Kafka or recorded."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transactions import submission
from transactions.models import Transaction
from users.models import Customer

pytestmark = pytest.mark.django_db

# Leaves include numbers no float can hold and text with control characters (a NUL among them).
hostile_numbers = st.sampled_from([10**400, -(10**400), 2**64, float("1e308")])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | hostile_numbers | st.floats() | st.text(max_size=80)
    | st.text(alphabet=st.characters(max_codepoint=0x20), min_size=1, max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# JSON nested far deeper than any body of this site (and than Python's parser goes).
deeply_nested = st.integers(min_value=10, max_value=100_000).map(lambda depth: "[" * depth + "]" * depth)
FIELDS = ["user_id", "amount", "lat", "lng", "transaction_id", "timestamp", "latitude", "longitude"]
# Bodies shaped like submissions, with any values, around a real customer so validation goes deep.
submissions = st.fixed_dictionaries({}, optional={name: json_values for name in FIELDS}).map(
    lambda body: {**body, "user_id": body.get("user_id", "fuzz_customer")})
bodies = st.one_of(json_values.map(json.dumps), submissions.map(json.dumps), st.binary(max_size=200), deeply_nested)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@pytest.fixture
def fuzz_client(django_user_model, monkeypatch):
    Customer.objects.bulk_create([Customer(user_id="fuzz_customer", first_name="F", last_name="Z", max_speed=10)])
    user = django_user_model.objects.create_user(username="fuzzer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="add_transaction"))
    client = Client()
    client.force_login(user)
    produced = []

    def refuse_to_produce(producer, topic, key, value):  # a spy: a valid body would be the only reason
        produced.append(key)
        raise submission.DeliveryFailed("fuzzing does not produce")

    monkeypatch.setattr(submission, "produce_and_confirm", refuse_to_produce)
    return client, produced


@pytest.mark.parametrize("path", ["/api/transactions", "/submit-event"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=header_values, extra=header_values)
def test_arbitrary_bodies_and_headers_never_cause_a_server_error(fuzz_client, path, body, content_type, extra):
    client, produced = fuzz_client
    response = client.post(path, body, content_type=content_type or "application/json", HTTP_X_FUZZ=extra,
                           HTTP_ACCEPT=extra)
    assert response.status_code < 500 or (response.status_code == 503 and produced), response.content
    if response.status_code == 400:
        assert "errors" in response.json()
        assert not produced
    assert not Transaction.objects.exists()  # nothing is recorded as sent without Kafka's acknowledgement


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values.map(json.dumps), deeply_nested,
                      st.fixed_dictionaries({}, optional={"decision": json_values, "comment": json_values}).map(json.dumps)))
def test_arbitrary_review_bodies_never_cause_a_server_error(admin_user, body):
    from alerts.models import AlertReview
    from tests.support.reviews import verdict
    from transactions.models import Verdict

    alert = Verdict.objects.filter(transaction_id="fuzz-alert").first() or verdict(transaction_id="fuzz-alert")
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    reviews_before = AlertReview.objects.filter(verdict=alert).count()
    response = client.post(f"/api/alerts/{alert.transaction_id}/review", body, content_type="application/json")
    assert response.status_code in (200, 400), response.content
    recorded = AlertReview.objects.filter(verdict=alert).count() - reviews_before
    assert recorded == (1 if response.status_code == 200 else 0)  # a refused body records nothing
