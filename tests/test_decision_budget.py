"""The decision budget and admission control as units: what counts against the budget, and when a
request is answered at once with the fallback (the waiter, the broker and the database are
stand-ins here; tests/test_decisions.py runs the real ones)."""

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from django.utils import timezone

from api import endpoint
from fraudsite.kafka import DeliveryFailed
from transactions import decisions

VERDICT = {"transaction_id": "tx-1", "outcome": "decline", "score": 60.0, "status": "FRAUD",
           "reasons": "speed_above_limit", **dict.fromkeys(decisions.MEASUREMENTS)}
BODY = {"user_id": "user_1", "amount": 10.0, "lat": 51.5, "lng": -0.1, "transaction_id": "tx-1"}


class Waiter:
    """Like the shared consumer: start() takes start_seconds (not started yet when given); the
    verdict comes after verdict_seconds (never when None)."""

    def __init__(self, start_seconds=None, verdict_seconds=0.01):
        self.start_seconds, self.verdict_seconds = start_seconds, verdict_seconds
        self.started = start_seconds is None

    async def start(self):
        await asyncio.sleep(self.start_seconds)
        self.started = True

    def expect(self, user_id, transaction_id):
        future = asyncio.get_running_loop().create_future()
        if self.verdict_seconds is not None:
            asyncio.get_running_loop().call_later(self.verdict_seconds, future.set_result, VERDICT)
        return future

    def forget(self, transaction_id):
        pass


@pytest.fixture
def stand_ins(monkeypatch, settings):
    """The broker acknowledges at once, the customer exists, the database records everything."""
    settings.DECISION_BUDGET_MS = 200
    settings.DECISION_FALLBACK = "review"

    class Producer:
        sent = []

        def send(self, topic, key, value, failed):
            self.sent.append(key)

    async def recorded(item):
        return "recorded"

    async def customer(user_id):
        return SimpleNamespace(user_id=user_id, pk=1)

    monkeypatch.setattr(decisions, "request_producer", Producer)
    monkeypatch.setattr(endpoint.database, "submit", recorded)
    monkeypatch.setattr(endpoint.customers, "get", customer)
    monkeypatch.setattr(endpoint.admission, "loop_lag", 0.0)
    monkeypatch.setattr(endpoint.admission, "in_flight", 0)

    def use(waiter):
        monkeypatch.setattr(decisions, "shared_waiter", lambda: waiter)
        monkeypatch.setattr(endpoint.decisions, "shared_waiter", lambda: waiter)
        return Producer.sent
    return use


def answer(body=BODY, arrived=None):
    async def run():
        return await endpoint.answer_request(SimpleNamespace(id="key"), None, body,
                                             time.monotonic() if arrived is None else arrived)
    return asyncio.run(run())


def test_starting_the_shared_consumer_does_not_count_against_the_budget(stand_ins):
    stand_ins(Waiter(start_seconds=0.3, verdict_seconds=0.05))  # a process's first request
    status, payload, _ = answer()
    assert (status, payload["decision"], payload["timed_out"], payload["score"]) == (200, "decline", False, 60.0)


def test_no_verdict_within_the_budget_is_the_fallback_with_timed_out(stand_ins, settings):
    settings.DECISION_FALLBACK = "decline"
    stand_ins(Waiter(verdict_seconds=None))
    status, payload, _ = answer()
    assert (status, payload) == (200, {"transaction_id": "tx-1", "decision": "decline", "timed_out": True})


def test_a_full_process_answers_at_once_with_the_fallback_and_sends_nothing(stand_ins, settings):
    settings.DECISION_MAX_IN_FLIGHT = 3
    sent = stand_ins(Waiter(verdict_seconds=None))

    async def run():
        held = [asyncio.create_task(endpoint.answer_request(SimpleNamespace(id="key"), None,
                                                            {**BODY, "transaction_id": f"held-{i}"},
                                                            time.monotonic()))
                for i in range(3)]
        await asyncio.sleep(0.05)  # the three wait for verdicts that do not come
        refused = await endpoint.answer_request(SimpleNamespace(id="key"), None,
                                                {**BODY, "transaction_id": "one-too-many"}, time.monotonic())
        return refused, await asyncio.gather(*held)

    (status, payload, _), held = asyncio.run(run())
    assert (status, payload) == (200, {"transaction_id": "one-too-many", "decision": "review", "timed_out": False,
                                       "shed": True})
    assert len(sent) == 3  # the shed request produced nothing
    assert [answer[1]["timed_out"] for answer in held] == [True] * 3


def test_a_request_that_waited_half_its_budget_before_it_was_handled_is_shed(stand_ins):
    stand_ins(Waiter())
    status, payload, _ = answer(arrived=time.monotonic() - 0.11)  # 110 ms of a 200 ms budget gone
    assert payload["shed"] is True


def test_a_late_event_loop_sheds(stand_ins, monkeypatch, settings):
    stand_ins(Waiter())
    monkeypatch.setattr(endpoint.admission, "loop_lag", (settings.DECISION_SHED_LAG_MS + 1) / 1000)
    assert answer()[1]["shed"] is True
    monkeypatch.setattr(endpoint.admission, "loop_lag", 0.0)
    assert "shed" not in answer()[1]


def test_a_broker_that_does_not_answer_does_not_hold_the_request_past_its_budget(stand_ins, monkeypatch):
    stand_ins(Waiter(verdict_seconds=None))  # no verdict, and the broker neither takes nor refuses

    async def run():
        return await decisions.decide({"customer": SimpleNamespace(user_id="u"), "transaction_id": "tx-9",
                                       "timestamp": timezone.now(),
                                       "lat": 1.0, "lng": 1.0, "amount": 1.0},
                                      time.monotonic() + 0.05, undelivered=lambda: None)
    assert asyncio.run(run()) == {"transaction_id": "tx-9", "decision": "review", "timed_out": True}


def test_a_refusal_by_the_broker_before_the_deadline_fails_the_decision_and_forgets_the_row(stand_ins, monkeypatch):
    stand_ins(Waiter(verdict_seconds=None))
    forgotten = []

    class RefusingProducer:
        def send(self, topic, key, value, failed):
            threading.Timer(0.01, failed, [DeliveryFailed("refused")]).start()  # on another thread, as librdkafka

    monkeypatch.setattr(decisions, "request_producer", RefusingProducer)

    async def run():
        return await decisions.decide({"customer": SimpleNamespace(user_id="u"), "transaction_id": "tx-10",
                                       "timestamp": timezone.now(), "lat": 1.0, "lng": 1.0, "amount": 1.0},
                                      time.monotonic() + 5, undelivered=lambda: forgotten.append("tx-10"))
    with pytest.raises(DeliveryFailed):
        asyncio.run(run())
    assert forgotten == ["tx-10"]


def test_a_request_the_database_reaches_after_half_its_budget_is_shed_and_nothing_is_written(stand_ins):
    stand_ins(Waiter())
    late = endpoint.Record({"transaction_id": "tx-late"}, None, send_by=time.monotonic() - 0.001)
    assert asyncio.run(endpoint.store([late])) == ["late"]  # no statement runs: the test has no database


def test_the_rate_is_counted_over_a_sliding_minute(monkeypatch):
    from api import authentication

    counter = authentication.RateCounter()
    monkeypatch.setattr(counter, "_thread", object())  # no syncing thread: this process's counts only
    clock = [60 * 1000 + 55.0]  # 55 s into a minute
    monkeypatch.setattr(authentication.time, "time", lambda: clock[0])
    assert [counter.allow("k", 5)[0] for _ in range(6)] == [True] * 5 + [False]
    clock[0] += 10  # 5 s into the next minute: the last minute's 6 still weigh 6 * 55/60
    allowed, wait = counter.allow("k", 5)
    assert not allowed and 0 < wait <= 55
    clock[0] += 50  # 55 s in: 6 * 5/60 = 0.5 of them left
    assert [counter.allow("k", 5)[0] for _ in range(4)] == [True] * 3 + [False]  # with the one refused above


@pytest.mark.django_db
def test_a_deeply_nested_body_is_a_400_through_the_drf_view_too(client):
    from api.models import ClientKey

    _, secret = ClientKey.objects.create_key(name="nested", scopes=["decisions"])
    answer = client.post("/api/v1/decisions", "[" * 100_000 + "]" * 100_000, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert answer.status_code == 400 and "nested" in answer.json()["detail"]


def test_a_broker_unreachable_when_the_shared_consumer_starts_is_a_503_not_a_500(stand_ins):
    from confluent_kafka import KafkaError, KafkaException

    class Unreachable(Waiter):
        async def start(self):
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Failed to get metadata"))

    sent = stand_ins(Unreachable(start_seconds=0))
    status, payload, _ = answer()
    assert status == 503 and "Kafka is unavailable" in payload["error"] and sent == []
