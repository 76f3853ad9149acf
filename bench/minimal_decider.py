"""B5's limit: the least a web process of this design can do per decision, outside Django's request
handling. For each POST it makes a transaction id, produces the Avro transaction with the site's
producer (fraudsite.kafka.request_producer, as the API sends), awaits the verdict with the site's waiter
(transactions.verdict_waiter) within DECISION_BUDGET_MS and answers the outcome, or timed_out.
No key check, validation, idempotency or storage: whatever the API costs beyond this is its own.

Served by uvicorn (bench/decisions.py starts it): uvicorn bench.minimal_decider:app --workers N.
GET answers {"pid": ...}: which worker answered, for the readiness check."""

import asyncio
import json
import os
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
django.setup()  # settings only (the budget, Kafka, the topics); Django handles no request here

from confluent_kafka import KafkaException  # noqa: E402
from django.conf import settings  # noqa: E402

import fraudsite.kafka  # noqa: E402  (the module, so that tests can replace request_producer)
from fraudsite.batching import settle_from_thread  # noqa: E402
from fraudsite.topics import CARD_TRANSACTIONS  # noqa: E402
from transactions import context  # noqa: E402
from transactions.verdict_waiter import shared_waiter  # noqa: E402

CODEC = CARD_TRANSACTIONS.codec()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["method"] == "POST":
        try:
            request = json.loads(await read_body(receive))
        except ValueError:
            status, answer = 400, {"error": "a JSON body is needed"}
        else:
            status, answer = await decide(request)
    else:
        status, answer = 200, {"pid": os.getpid()}
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


async def decide(request):
    """(status, answer) for {user_id, amount, lat, lng} and the context fields (unchecked)."""
    user_id, transaction_id = request["user_id"], uuid.uuid4().hex
    value = CODEC.encode({"timestamp": int(time.time() * 1000), "transaction_id": transaction_id,
                          "lat": float(request["lat"]), "lng": float(request["lng"]),
                          "amount": float(request["amount"]), **{name: request.get(name) for name in context.NAMES}})
    waiter = shared_waiter()
    verdict = waiter.expect(user_id, transaction_id)  # before producing: the verdict cannot be missed
    started = time.monotonic()
    try:
        fraudsite.kafka.request_producer().send(CARD_TRANSACTIONS.name, CARD_TRANSACTIONS.encode_key(user_id), value,
                                                lambda error: settle_from_thread([(verdict, None, error)]))
        remaining = settings.DECISION_BUDGET_MS / 1000 - (time.monotonic() - started)
        record = await asyncio.wait_for(verdict, timeout=max(remaining, 0))
    except TimeoutError:
        return 200, {"transaction_id": transaction_id, "decision": "review", "timed_out": True}
    except (fraudsite.kafka.DeliveryFailed, KafkaException, BufferError) as error:
        return 503, {"error": f"Kafka is unavailable: {error}"}
    finally:
        waiter.forget(transaction_id)
    return 200, {"transaction_id": transaction_id, "decision": record["outcome"], "timed_out": False}


async def read_body(receive):
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def lifespan(receive, send):
    """Start the waiter's consumer before the worker accepts a request (uvicorn accepts after
    startup), so that no measured request waits for it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await shared_waiter().start()
            except Exception as error:  # noqa: BLE001  (reported to uvicorn, which stops)
                await send({"type": "lifespan.startup.failed", "message": repr(error)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
