"""The decision API's service: produce a transaction and wait, within the time budget, for the
detection job's verdict. The verdict decides (its outcome band and score come from the job);
nothing here recomputes a rule."""

import time
from concurrent.futures import TimeoutError as WaitTimedOut

from django.conf import settings

from . import submission
from .verdict_waiter import shared_waiter

OUTCOMES = ["approve", "review", "decline"]
# What a verdict says about how it was reached, returned with the decision.
MEASUREMENTS = ["speed_kmh", "distance_km", "elapsed_seconds", "max_speed", "average_amount", "spend_factor",
                "local_hour", "prev_transaction_id"]


def decide(cleaned):
    """Submit the validated transaction (submission.validate) and return the answer: the verdict's
    outcome, or "review" with timed_out when no verdict came within DECISION_BUDGET_MS.
    Raises submission.DuplicateTransaction or submission.KafkaUnavailable like submit()."""
    waiter = shared_waiter()
    verdict = waiter.expect(cleaned["customer"].user_id, cleaned["transaction_id"])
    # From here: the first request of a process also starts the shared consumer, which is not
    # the verdict's time and must not make that request time out.
    started = time.monotonic()
    try:
        submission.submit(cleaned)
        remaining = settings.DECISION_BUDGET_MS / 1000 - (time.monotonic() - started)
        try:
            record = verdict.result(timeout=max(remaining, 0))
        except WaitTimedOut:
            return {"transaction_id": cleaned["transaction_id"], "decision": "review", "timed_out": True}
    finally:
        waiter.forget(cleaned["transaction_id"])
    return answer(record)


def answer(record):
    return {
        "transaction_id": record["transaction_id"], "decision": record["outcome"], "timed_out": False,
        "score": record["score"], "status": record["status"],
        "reasons": [reason for reason in record["reasons"].split(",") if reason],
        "measurements": {name: record[name] for name in MEASUREMENTS},
    }
