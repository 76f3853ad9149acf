"""The decision API's service: produce a recorded transaction and wait, until the request's
deadline, for the detection job's verdict (which also says that the broker took the record). The verdict decides (its outcome band and score come
from the job); nothing here recomputes a rule. Runs on an event loop: the wait holds no thread."""

import asyncio
import time

from django.conf import settings

from fraudsite.batching import settle_from_thread
from fraudsite.kafka import request_producer
from fraudsite.topics import CARD_TRANSACTIONS

from . import submission
from .verdict_waiter import shared_waiter
from .verdicts import MEASUREMENTS

OUTCOMES = ["approve", "review", "decline"]


async def decide(cleaned, deadline, undelivered):
    """Produce the validated, recorded transaction (submission.validate, and recorded by the
    caller) and answer with its verdict, or with the fallback and timed_out when none came by
    deadline (time.monotonic()): the deadline holds even while the broker does not answer.
    Raises DeliveryFailed when the broker refused the transaction before the deadline, and
    BufferError or KafkaException when it could not even be queued. undelivered() is called
    (on the producer's thread) whenever the broker refuses it, answered or not: the caller
    forgets the recorded row then."""
    waiter = shared_waiter()
    user_id, transaction_id = cleaned["customer"].user_id, cleaned["transaction_id"]
    verdict = waiter.expect(user_id, transaction_id)

    def failed(error):
        undelivered()
        settle_from_thread([(verdict, None, error)])  # nothing, if the request has been answered

    try:
        request_producer().send(CARD_TRANSACTIONS.name, CARD_TRANSACTIONS.encode_key(user_id),
                                 submission.kafka_value(cleaned), failed)
        try:
            record = await asyncio.wait_for(verdict, max(deadline - time.monotonic(), 0))
        except TimeoutError:
            return fallback(transaction_id, timed_out=True)
    finally:
        waiter.forget(transaction_id)
    return answer(record)


def fallback(transaction_id, timed_out=False, shed=False):
    """The answer when the job's verdict cannot be given within the budget: DECISION_FALLBACK,
    flagged timed_out (sent; the verdict is stored when it comes) or shed (nothing was sent)."""
    flags = {"timed_out": timed_out} if not shed else {"timed_out": False, "shed": True}
    return {"transaction_id": transaction_id, "decision": settings.DECISION_FALLBACK, **flags}


def answer(record):
    return {
        "transaction_id": record["transaction_id"], "decision": record["outcome"], "timed_out": False,
        "score": record["score"], "status": record["status"],
        "reasons": [reason for reason in record["reasons"].split(",") if reason],
        "measurements": {name: record[name] for name in MEASUREMENTS},
    }
