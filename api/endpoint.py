"""POST /api/v1/decisions, served on the event loop ahead of Django's request handling.

The card-authorization path needs an answer within its deadline at thousands of requests a
second. Django's handler runs this project's synchronous middleware on a thread per request,
and a synchronous view holds that thread (and its database connection) through the verdict wait;
one web process collapsed past about 50 requests a second that way. Here a request holds no
thread: its key and customer come from short-lived caches, its transaction row and Idempotency-Key
are written with other requests' in one INSERT on the event loop's own database connection
(api/recording.py, fraudsite.batching), the produce is acknowledged asynchronously and the
verdict is awaited. The DRF view (api/views.py) documents the operation in
the OpenAPI document and answers the same way for callers outside this ASGI application.

Admission control: a process answers at once with the fallback (`"shed": true`, nothing sent)
when DECISION_MAX_IN_FLIGHT decisions already wait in it, when its event loop runs late by more
than DECISION_SHED_LAG_MS (the process is out of CPU), or when the request has already used half
of its budget before anything was sent.
"""

import asyncio
import json
import logging
import threading
import time
import uuid

import psycopg
from confluent_kafka import KafkaException
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from rest_framework import exceptions

from fraudsite import metrics
from fraudsite.batching import Batcher
from fraudsite.caching import RecentLookups
from fraudsite.kafka import DeliveryFailed, connect_producer
from fraudsite.loops import LoopThread
from fraudsite.validation import BadBody, has_control_characters, parse_json_body
from transactions import decisions, submission

from . import idempotency, recording
from .authentication import KEYWORD, client_key_for, rates
from .models import Scope

PATH = "/api/v1/decisions"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_BODY_BYTES = 64 * 1024
LAG_PROBE_SECONDS = 0.01
logger = logging.getLogger("fraudsite.decisions")

customers = RecentLookups(submission.active_customers, settings.LOOKUP_CACHE_SECONDS)


# --- the database side, in batches -----------------------------------------------------------

class Record:
    """A validated request to record (its transaction row, and its key's claim if it sent one),
    unless the batch reaches it after send_by (time.monotonic()): then it is "late", and nothing
    is written or sent for it. The database's queue never holds a request past its budget."""

    def __init__(self, cleaned, claim, send_by):
        self.cleaned, self.claim, self.send_by = cleaned, claim, send_by


class SaveAnswer:
    def __init__(self, decision_id, answer):
        self.decision_id, self.answer = decision_id, answer


class Undo:
    """Nothing was sent: forget the transaction row and free the key for a retry."""

    def __init__(self, transaction_id, decision_id):
        self.transaction_id, self.decision_id = transaction_id, decision_id


async def store(items):
    """The Batcher's work: one statement for the answers and Records, one more only for what is
    rare (Undos, keys taken). A Record's result: "recorded", "duplicate" (its transaction id was
    taken), "late", or its Claim when its key was taken (a retry or a conflict, which the claim
    then says)."""
    results = [None] * len(items)
    freed = await _record(items, results)
    undos = [item for item in items if isinstance(item, Undo)]
    await recording.forget([item.transaction_id for item in undos],
                           freed + [item.decision_id for item in undos if item.decision_id])
    return results


async def _record(items, results):
    """Save the answers, claim the keys of the Records and record their transactions, in one
    statement; each Record's result goes to its place in results. Returns the decision ids whose
    keys are to be freed."""
    answers = [(item.decision_id, item.answer) for item in items if isinstance(item, SaveAnswer)]
    first = _first_of_each_transaction(items, results)
    if not first and not answers:
        return []
    claimed, recorded = await recording.save_answers_claim_and_record(
        answers, [(item.cleaned, item.claim) for _, item in first.values()])
    freed, taken = [], []
    for index, item in enumerate(items):
        if isinstance(item, Record) and results[index] is None:  # not late
            first_index, _ = first[item.cleaned["transaction_id"]]
            results[index] = (_first_result(item, claimed, recorded, taken, freed) if first_index == index
                              else "duplicate")
    if taken:
        await _resolve_taken(taken)
    return freed


def _first_of_each_transaction(items, results):
    """Marks "late" in results the Records the batch reaches after their send_by; returns the others
    as {transaction id: (index, the batch's first Record with it)}: a later one is a duplicate."""
    now = time.monotonic()
    first = {}
    for index, item in enumerate(items):
        if not isinstance(item, Record):
            continue
        if now > item.send_by:
            results[index] = "late"
        else:
            first.setdefault(item.cleaned["transaction_id"], (index, item))
    return first


async def _resolve_taken(taken):
    """Claims whose keys were taken get the key's first answer or a conflict; a first answer that
    was never saved (its process stopped first) is saved now, for the next retry."""
    idempotency.resolve_taken(taken, await recording.claims_of([claim.pair for claim in taken]), timezone.now())
    abandoned = [claim.answer_to_save for claim in taken if claim.answer_to_save]
    if abandoned:
        await recording.save_answers_claim_and_record(abandoned, [])


def _first_result(record, claimed, recorded, taken, freed):
    """The result of the batch's first Record of a transaction id: its Claim when its key was taken
    (added to taken), else whether its transaction was recorded (a duplicate's key added to freed)."""
    transaction_id, claim = record.cleaned["transaction_id"], record.claim
    if claim and transaction_id not in claimed:
        taken.append(claim)
        return claim
    if claim:
        claim.decision_id = claimed[transaction_id]
    result = "recorded" if transaction_id in recorded else "duplicate"
    if claim and result == "duplicate":
        freed.append(claim.decision_id)  # the key stays free for a retry with a new id
    return result


database = Batcher("decision-store", store)


# --- admission -----------------------------------------------------------------------------

class Admission:
    """This process's decisions in progress, and how late its event loop runs."""

    def __init__(self):
        self.in_flight = 0
        self.loop_lag = 0.0

    async def measure_lag(self):
        """Runs for the web process's life (started by lifespan)."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_PROBE_SECONDS)
            self.loop_lag = time.monotonic() - before - LAG_PROBE_SECONDS

    def refuses(self, arrived):
        return (self.in_flight >= settings.DECISION_MAX_IN_FLIGHT
                or self.loop_lag * 1000 > settings.DECISION_SHED_LAG_MS
                or (time.monotonic() - arrived) * 2000 > settings.DECISION_BUDGET_MS)


admission = Admission()


# --- the decision ---------------------------------------------------------------------------

def shed(body):
    given = body.get("transaction_id") if isinstance(body, dict) else None
    return decisions.fallback(given if isinstance(given, str) else uuid.uuid4().hex, shed=True)


async def answer_request(client_key, idempotency_key, body, arrived):
    """(status, payload, extra headers) for an authenticated request within its key's rate."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= idempotency.MAX_KEY_LENGTH:
        return 400, {"errors": {"Idempotency-Key": ["1 to 255 characters."]}}, {}
    waiter = decisions.shared_waiter()
    if not waiter.started:
        try:
            await waiter.start()
        except KafkaException as error:  # (the broker cannot be reached: nothing can be decided)
            return 503, {"error": f"Kafka is unavailable, nothing was sent: {error}"}, {}
        arrived = time.monotonic()  # starting the process's shared consumer is not this request's wait
    if admission.refuses(arrived):
        return 200, shed(body), {}
    admission.in_flight += 1
    metrics.WAITING.inc()
    try:
        return await _decide(client_key, idempotency_key, body, arrived)
    finally:
        admission.in_flight -= 1
        metrics.WAITING.dec()


async def _decide(client_key, idempotency_key, body, arrived):
    user_id = body.get("user_id") if isinstance(body, dict) else None
    # Looked up before validation (which must not wait), so only what validation would look up.
    lookable = isinstance(user_id, str) and user_id and not has_control_characters(user_id)
    try:
        customer = await customers.get(user_id) if lookable else None
    except DatabaseError as error:
        logger.error("customer %r not looked up: %s", user_id[:64], error)
        return 503, {"error": "The database is unavailable, nothing was sent."}, {}
    cleaned, errors = submission.validate(body, find_customer=lambda _: customer)
    if errors:
        return 400, {"errors": errors}, {}
    claim = idempotency_key and idempotency.Claim(client_key.id, idempotency_key, idempotency.digest(body),
                                                  cleaned["transaction_id"])
    budget = settings.DECISION_BUDGET_MS / 1000
    try:
        outcome = await database.submit(Record(cleaned, claim or None, send_by=arrived + budget / 2))
    except psycopg.Error as error:
        logger.error("decision %s not recorded: %s", cleaned["transaction_id"], error)
        return 503, {"error": "The database is unavailable, nothing was sent."}, {}
    if outcome != "recorded":
        return _unrecorded_answer(outcome, cleaned["transaction_id"])
    decision_id = claim.decision_id if claim else None
    undo = Undo(cleaned["transaction_id"], decision_id)
    try:
        answer = await decisions.decide(cleaned, arrived + budget, undelivered=lambda: database.submit_nowait(undo))
    except (DeliveryFailed, KafkaException, BufferError) as error:
        await database.submit(undo)  # gone before the answer says so (the same undo again is harmless)
        return 503, {"error": f"Kafka is unavailable, nothing was sent: {error}"}, {}
    if decision_id is not None:
        # Saved after the answer goes, by the next batch: waiting for the save cost the answer a
        # second batch's round (30 ms at 200/s, bench/RESULTS.md). A retry reaching this process
        # later is queued after the save and finds it; one reaching another process in the
        # milliseconds before it is told to retry shortly (409), as while the first is answered.
        database.submit_nowait(SaveAnswer(decision_id, answer))
    return 200, answer, {}


def _unrecorded_answer(outcome, transaction_id):
    """(status, payload, headers) for a Record that was not recorded: its key's Claim, "duplicate" or "late"."""
    if isinstance(outcome, idempotency.Claim):
        if outcome.previous_answer is not None:
            return 200, outcome.previous_answer, {REPLAYED_HEADER: "true"}
        return outcome.conflict.status, {"error": str(outcome.conflict)}, {}
    if outcome == "duplicate":
        return 409, {"errors": {"transaction_id": ["A transaction with this id was already submitted."]}}, {}
    return 200, decisions.fallback(transaction_id, shed=True), {}  # late


_synchronous_callers_loop = None
_synchronous_callers_lock = threading.Lock()


def answer_from_synchronous_code(client_key, idempotency_key, body, arrived):
    """answer_request for callers outside the ASGI server (the DRF view, under Django's test client
    or a WSGI server), on one loop thread of the process's own (fraudsite.loops): the decision
    store keeps one loop and one database connection."""
    global _synchronous_callers_loop
    with _synchronous_callers_lock:
        if _synchronous_callers_loop is None:
            _synchronous_callers_loop = LoopThread("decisions-for-synchronous-callers")
    return _synchronous_callers_loop.run(answer_request(client_key, idempotency_key, body, arrived))


# --- HTTP -----------------------------------------------------------------------------------

class DecisionEndpoint:
    """ASGI: POST /api/v1/decisions here, everything else to `app` (Django)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        arrived = time.monotonic()
        status, payload, headers = await self._handle(scope, receive, arrived)
        _count(status, payload, arrived)
        await _respond(send, status, payload, headers)

    async def _handle(self, scope, receive, arrived):
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        body = await _read_body(receive)
        if body is None:
            return 413, {"detail": f"The body exceeds {MAX_BODY_BYTES} bytes."}, {}
        words = headers.get("authorization", "").split()
        if len(words) != 2 or words[0] != KEYWORD:
            return 401, {"detail": "Authentication credentials were not provided."}, {"WWW-Authenticate": KEYWORD}
        try:
            client_key = await client_key_for(words[1])
        except exceptions.AuthenticationFailed as failure:
            return 401, {"detail": str(failure.detail)}, {"WWW-Authenticate": KEYWORD}
        except DatabaseError as error:
            logger.error("API key not looked up: %s", error)
            return 503, {"error": "The database is unavailable, nothing was sent."}, {}
        if not client_key.allows(Scope.DECISIONS):
            return 403, {"detail": f"This API key lacks the {Scope.DECISIONS.value!r} scope."}, {}
        allowed, wait = rates.allow(client_key.prefix, client_key.rate_limit_per_minute)
        if not allowed:
            return 429, {"detail": f"Request was throttled. Expected available in {int(wait) + 1} seconds."}, \
                {"Retry-After": str(int(wait) + 1)}
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/json":
            return 415, {"detail": f'Unsupported media type "{content_type}" in request.'}, {}
        try:
            data = parse_json_body(body)
        except BadBody as error:
            return 400, {"detail": str(error)}, {}
        return await answer_request(client_key, headers.get("idempotency-key"), data, arrived)


async def lifespan(scope, receive, send):
    """At a web process's start, connect its verdict consumer, producer and database connection,
    so that its first decisions do not wait for them, and start measuring how late its event loop
    runs (admission); a broker or database that is down is not the server's failure."""
    lag = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            lag = asyncio.get_running_loop().create_task(admission.measure_lag())
            try:
                await decisions.shared_waiter().start()
                await asyncio.to_thread(connect_producer)
            except (KafkaException, OSError) as error:
                logger.warning("decision path not warmed up (Kafka unreachable?): %s", error)
            try:
                await recording.connection.get()
            except psycopg.Error as error:
                logger.warning("decision path not warmed up (PostgreSQL unreachable?): %s", error)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if lag is not None:
                lag.cancel()
            recording.connection.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive):
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            return None
        if not message.get("more_body"):
            break
    return b"".join(chunks)


SECURITY_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"no-store"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin")]


async def _respond(send, status, payload, headers):
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        *SECURITY_HEADERS, (b"content-length", str(len(body)).encode()),
        *[(name.lower().encode(), value.encode()) for name, value in headers.items()]]})
    await send({"type": "http.response.body", "body": body})


def _count(status, payload, arrived):
    metrics.DECISION_SECONDS.observe(time.monotonic() - arrived)
    if status != 200:
        metrics.DECISION_ERRORS.labels(str(status)).inc()
        return
    how = "shed" if payload.get("shed") else "timed_out" if payload.get("timed_out") else "verdict"
    metrics.DECISIONS.labels(payload["decision"], how).inc()
