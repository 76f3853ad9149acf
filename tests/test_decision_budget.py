"""The decision budget as a unit: what counts against it (the waiter and the broker are stand-ins)."""

import threading
import time
from concurrent.futures import Future
from types import SimpleNamespace

from transactions import decisions

VERDICT = {"transaction_id": "tx-1", "outcome": "decline", "score": 60.0, "status": "FRAUD",
           "reasons": "speed_above_limit", **dict.fromkeys(decisions.MEASUREMENTS)}


class SlowStartingWaiter:
    """Like the shared consumer on a process's first request: expect() takes longer than the budget."""

    def expect(self, user_id, transaction_id):
        time.sleep(0.3)
        future = Future()
        threading.Timer(0.05, future.set_result, [VERDICT]).start()  # the verdict comes 50 ms later
        return future

    def forget(self, transaction_id):
        pass


def test_starting_the_shared_consumer_does_not_count_against_the_budget(monkeypatch, settings):
    settings.DECISION_BUDGET_MS = 200
    monkeypatch.setattr(decisions, "shared_waiter", SlowStartingWaiter)
    monkeypatch.setattr(decisions.submission, "submit", lambda cleaned: None)
    cleaned = {"customer": SimpleNamespace(user_id="user_1"), "transaction_id": "tx-1"}
    answer = decisions.decide(cleaned)
    assert (answer["decision"], answer["timed_out"], answer["score"]) == ("decline", False, 60.0)


def test_no_verdict_within_the_budget_is_review_with_timed_out(monkeypatch, settings):
    settings.DECISION_BUDGET_MS = 50

    class SilentWaiter(SlowStartingWaiter):
        def expect(self, user_id, transaction_id):
            return Future()  # the verdict never comes

    monkeypatch.setattr(decisions, "shared_waiter", SilentWaiter)
    monkeypatch.setattr(decisions.submission, "submit", lambda cleaned: None)
    answer = decisions.decide({"customer": SimpleNamespace(user_id="u"), "transaction_id": "tx-2"})
    assert answer == {"transaction_id": "tx-2", "decision": "review", "timed_out": True}
