"""The decision API (/api/v1/decisions) against the running site and the real stack: API keys,
scopes, rate limits, idempotency, the time budget, and the OpenAPI document's examples."""

import os
import secrets
import signal
import time

import pytest
import requests
from django.conf import settings
from openapi_spec_validator import validate

from api.models import ClientKey, Decision
from localstack.layout import paths
from outbox.publisher import publish_all_pending
from tests.support import wait_until
from tests.support.kafka import latest_records, unique
from tests.support.pipeline import LONDON_PARIS, wait_until_customers_read
from tests.support.site import running_site
from transactions import context
from transactions.models import Transaction, Verdict
from users.models import Customer

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

def key(scopes=("decisions",), **fields):
    _, secret = ClientKey.objects.create_key(name=unique("client"), scopes=list(scopes), **fields)
    return {"Authorization": f"Api-Key {secret}"}


def customer(max_speed=10):
    lena = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="Whitaker", max_speed=max_speed)
    publish_all_pending()
    wait_until_customers_read()
    return lena


def decide(site, headers, body, idempotency_key=None):
    if idempotency_key:
        headers = {**headers, "Idempotency-Key": idempotency_key}
    return requests.post(f"{site}/api/v1/decisions", json=body, headers=headers, timeout=30)


def payment(user_id, point, **fields):
    return {"user_id": user_id, "amount": 25.0, "lat": point[0], "lng": point[1], **fields}


# A transaction's optional context (transactions/context.py), every field given.
CONTEXT = {"card_token": "c1f0e8b2a9d4476f8e3b5a7c9d2e1f04", "card_bin": "412345", "merchant_id": "m-4471",
           "merchant_category_code": "5411", "merchant_country": "FR", "channel": "card_present", "device_id": "dev-93a1", "ip_address": "2001:DB8:0:0::7"}


def test_london_then_paris_an_hour_later_is_declined_for_a_ten_kmh_customer(live_site):
    """...and the second payment's context reaches the job and comes back on the verdict."""
    lena, headers = customer(), key()
    london, paris = LONDON_PARIS
    first = decide(live_site, headers, payment(lena.user_id, london, timestamp=_ms_ago(3600)))  # an hour before
    second = decide(live_site, headers, payment(lena.user_id, paris, timestamp=_ms_ago(0), **CONTEXT))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["decision"], first.json()["timed_out"]) == ("approve", False)
    answer = second.json()
    assert (answer["decision"], answer["timed_out"], answer["score"]) == ("decline", False, 60.0)
    assert answer["reasons"] == ["speed_above_limit"] and answer["status"] == "FRAUD"
    assert answer["measurements"]["speed_kmh"] == pytest.approx(343.5, rel=1e-2)
    assert answer["measurements"]["prev_transaction_id"] == first.json()["transaction_id"]
    as_stored = {**CONTEXT, "ip_address": "2001:db8::7"}  # an address in one spelling
    assert {name: getattr(Transaction.objects.get(transaction_id=answer["transaction_id"]), name)
            for name in context.NAMES} == as_stored
    verdict = wait_until(Verdict.objects.filter(transaction_id=answer["transaction_id"]).first, 30,
                         "the verdict to be stored")
    assert {name: getattr(verdict, name) for name in context.NAMES} == as_stored
    assert Verdict.objects.get(transaction_id=first.json()["transaction_id"]).merchant_id is None


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_sends_nothing(live_site):
    lena, headers = customer(), key()
    body = payment(lena.user_id, LONDON_PARIS[0])
    first = decide(live_site, headers, body, idempotency_key="order-1")
    sent = len(latest_records("card-transactions", lena.user_id))
    retry = decide(live_site, headers, body, idempotency_key="order-1")
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert len(latest_records("card-transactions", lena.user_id)) == sent == 1
    other_body = decide(live_site, headers, {**body, "amount": 99.0}, idempotency_key="order-1")
    assert other_body.status_code == 422 and "different request body" in other_body.json()["error"]
    assert Decision.objects.get(idempotency_key="order-1").answer == first.json()


def test_a_stopped_taskmanager_gives_review_with_timed_out_and_the_late_verdict_is_stored(stack, tmp_path,
                                                                                           postgres_redis_env):
    lena, headers = customer(), key()
    # A budget short enough to be waited out here, long enough that a busy machine's database write
    # is not late (a decision not recorded within half its budget is shed: nothing sent).
    env = {**postgres_redis_env, "DECISION_BUDGET_MS": "1500"}
    with running_site(env, tmp_path / "site.log", worker_group="late-" + secrets.token_hex(4)) as site:
        # The site's first decision opens its connections and starts its producer; not this test's subject.
        assert decide(site.url, headers, payment(lena.user_id, LONDON_PARIS[0])).status_code == 200
        taskmanager = int(paths().pidfile("flink-taskmanager").read_text())
        os.kill(taskmanager, signal.SIGSTOP)  # verdicts held; shorter than the 10 s heartbeat timeout
        try:
            answer = decide(site.url, headers, payment(lena.user_id, LONDON_PARIS[0]))
        finally:
            os.kill(taskmanager, signal.SIGCONT)
        assert answer.status_code == 200
        assert answer.json() == {"transaction_id": answer.json()["transaction_id"], "decision": "review",
                                 "timed_out": True}
        late = Verdict.objects.filter(transaction_id=answer.json()["transaction_id"])
        wait_until(late.exists, 60, "the late verdict to be stored")


def test_keys_are_checked_scoped_revocable_and_rate_limited(live_site):
    bad = {"user_id": "x"}  # refused before anything is sent, so these tests produce nothing
    assert decide(live_site, {}, bad).status_code == 401
    assert decide(live_site, {"Authorization": "Api-Key nope.nope"}, bad).status_code == 401
    assert decide(live_site, key(scopes=()), bad).status_code == 403

    revoked = key()
    assert decide(live_site, revoked, bad).status_code == 400
    ClientKey.objects.filter(name__startswith="client").update(revoked=True)
    time.sleep(settings.LOOKUP_CACHE_SECONDS + 0.2)  # what the web process may have kept of the key
    assert decide(live_site, revoked, bad).status_code == 401

    limited = key(rate_limit_per_minute=2)
    codes = [decide(live_site, limited, bad).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert decide(live_site, key(), bad).status_code == 400  # the limit is per key


def test_session_users_cannot_call_the_machine_api(live_site, admin_client):
    assert admin_client.post("/api/v1/decisions", {"user_id": "x"}, content_type="application/json").status_code == 401


def test_the_openapi_document_validates_and_every_example_is_answered_as_documented(live_site):
    document = requests.get(f"{live_site}/api/v1/openapi.json", timeout=10).json()
    validate(document)
    for user_id in ("user_1", "user_2"):  # the examples' customers
        Customer.objects.get_or_create(user_id=user_id, defaults={"first_name": "Ex", "last_name": "Ample",
                                                                  "max_speed": 900})
    publish_all_pending()
    wait_until_customers_read()
    headers = key()
    operation = document["paths"]["/api/v1/decisions"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) >= 3
    for name, example in examples.items():
        expected = 400 if "out of range" in example.get("summary", name).lower() else 200
        response = decide(live_site, headers, example["value"])
        assert response.status_code == expected, (name, response.text)
        assert str(response.status_code) in operation["responses"]


def _ms_ago(seconds):
    return int((time.time() - seconds) * 1000)


def test_bodies_no_parser_or_database_takes_are_400s_with_a_reason(live_site):
    headers = {**key(), "Content-Type": "application/json"}
    nested = requests.post(f"{live_site}/api/v1/decisions", data="[" * 20_000 + "]" * 20_000, headers=headers,
                           timeout=30)
    assert nested.status_code == 400 and "nested" in nested.json()["detail"]
    too_large = requests.post(f"{live_site}/api/v1/decisions", data="[" * 100_000 + "]" * 100_000, headers=headers,
                              timeout=30)
    assert too_large.status_code == 413 and "65536 bytes" in too_large.json()["detail"]
    surrogate = requests.post(f"{live_site}/api/v1/decisions", headers=headers, timeout=30,
                              data='{"user_id": "\\ud800", "amount": 1, "lat": 1, "lng": 1}')
    assert surrogate.status_code == 400 and "control characters" in surrogate.json()["errors"]["user_id"][0]
    not_json = requests.post(f"{live_site}/api/v1/decisions", data="user_id=1", timeout=30,
                             headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 415
