"""One consumer of the verdict topic per web process, shared by every request that waits for a
verdict (the decision API): a request registers the transaction it waits for and awaits an
asyncio future; the consumer thread hands each verdict to its waiter's event loop. Verdicts
nobody waits for are skipped by their key (the customer) without being decoded."""

import asyncio
import logging
import threading
import uuid
from collections import Counter

from confluent_kafka import Consumer, TopicPartition
from django.conf import settings

from fraudsite.batching import settle_from_thread
from fraudsite.kafka import client_config
from fraudsite.topics import VERDICTS

logger = logging.getLogger("fraudsite.decisions")
# One record with a timeout, then what is already there without waiting (DESIGN.md's lesson:
# consume(N, timeout) would hold every verdict until N came or the timeout passed).
DRAIN = 1000
# How long the broker holds a fetch that finds nothing. A held fetch is answered as soon as a
# verdict arrives, so a long hold costs no latency; a short one made every web process fetch 200
# times a second while idle, at the expense of the broker's CPU and its own (bench/RESULTS.md, B5).
FETCH_HOLD_MS = 100


class VerdictWaiter:
    def __init__(self):
        self._lock = threading.Lock()
        self._futures = {}  # transaction id -> (asyncio Future of the verdict record, encoded key)
        self._customers = Counter()  # encoded key -> number of transactions waited for
        self._consumer = None
        self._codec = VERDICTS.codec()

    @property
    def started(self):
        return self._consumer is not None

    async def start(self):
        """Assign the consumer (blocking calls, off the event loop); once per process."""
        if self._consumer is None:
            await asyncio.to_thread(self._ensure_started)

    def expect(self, user_id, transaction_id):
        """A future (of the running loop) that gets the transaction's verdict record; call after
        start() and before producing the transaction."""
        future = asyncio.get_running_loop().create_future()
        key = VERDICTS.encode_key(user_id)
        with self._lock:
            self._futures[transaction_id] = (future, key)
            self._customers[key] += 1
        return future

    def forget(self, transaction_id):
        with self._lock:
            entry = self._futures.pop(transaction_id, None)
            if entry is not None:
                self._customers[entry[1]] -= 1
                if self._customers[entry[1]] <= 0:
                    del self._customers[entry[1]]

    def _ensure_started(self):
        with self._lock:
            if self._consumer is not None:
                return
            consumer = Consumer(client_config(**{
                # Never commits: each process reads from the end, for the requests it holds.
                "group.id": f"fraudsite-decisions-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                "isolation.level": settings.DECISION_ISOLATION_LEVEL, "fetch.wait.max.ms": FETCH_HOLD_MS,
            }))
            partitions = consumer.list_topics(VERDICTS.name, timeout=10).topics[VERDICTS.name].partitions
            # From the end offsets as they are now (not "the end" whenever the first fetch happens):
            # a verdict produced after start() returned is then always read.
            consumer.assign([
                TopicPartition(VERDICTS.name, partition,
                               consumer.get_watermark_offsets(TopicPartition(VERDICTS.name, partition), timeout=10)[1])
                for partition in partitions])
            self._consumer = consumer
            threading.Thread(target=self._run, name="verdict-waiter", daemon=True).start()

    def _run(self):
        while True:
            messages = self._consumer.consume(1, timeout=0.1)
            if messages:
                messages += self._consumer.consume(DRAIN, timeout=0)
            found = []
            for message in messages:
                if message.error():
                    logger.warning("verdict consumer: %s", message.error())
                    continue
                if message.key() not in self._customers:
                    continue  # nobody here waits for this customer: not decoded
                try:
                    record = self._codec.decode(message.value())
                except ValueError as error:
                    logger.warning("undecodable verdict at offset %s: %s", message.offset(), error)
                    continue
                with self._lock:
                    entry = self._futures.get(record["transaction_id"])
                if entry is not None:
                    found.append((entry[0], record, None))
            if found:
                settle_from_thread(found)


_waiter = None
_waiter_lock = threading.Lock()


def shared_waiter():
    global _waiter
    with _waiter_lock:
        if _waiter is None:
            _waiter = VerdictWaiter()
        return _waiter
