"""The event-time clock: a tick record to every partition of card-transactions every few
milliseconds, so that the detection job's watermark follows the broker's clock even when no card
is used.

Why: the job judges a transaction once its watermark has passed the transaction's record time,
and the watermark is one millisecond behind the newest record time of each partition (so that
records sharing a broker millisecond are never at or behind it; see sql/local/tables.sql). Without
ticks, the last transaction of a quiet period would wait for the next transaction on every
partition. A tick is a card-transactions record with the reserved empty key; the detection query
drops it right after reading it (only its record time counts), so it never reaches a verdict,
history, the operator page or an export.
"""

import logging
import threading
import time

from confluent_kafka import KafkaException, Producer
from django.conf import settings

from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS, TICK_USER_ID

logger = logging.getLogger("fraudsite.clock")


def tick_producer():
    # A tick that cannot be delivered quickly is worthless (a later one supersedes it): expire it
    # instead of letting ticks pile up during a broker outage.
    return Producer(client_config(**{
        "linger.ms": 0,
        "acks": 1,
        "message.timeout.ms": 2000,
        "queue.buffering.max.messages": 10_000,
    }))


class Clock:
    """Sends a tick to each partition of topic every interval_ms until stop() is called."""

    def __init__(self, topic=None, interval_ms=None, producer=None):
        self.topic = topic or CARD_TRANSACTIONS.name
        self.interval = (interval_ms or settings.EVENT_TIME_TICK_MS) / 1000
        self.producer = producer or tick_producer()
        self.codec = CARD_TRANSACTIONS.codec(self.topic)
        self._stopped = threading.Event()
        self.sent = 0
        self.failed = 0

    def partitions(self):
        topic = self.producer.list_topics(self.topic, timeout=10).topics[self.topic]
        if topic.error is not None or not topic.partitions:
            raise KafkaException(f"topic {self.topic} is not available: {topic.error}")
        return sorted(topic.partitions)

    def tick(self, partitions):
        value = self.codec.encode({"timestamp": int(time.time() * 1000), "transaction_id": "tick",
                                   "lat": 0.0, "lng": 0.0, "amount": 0.0})
        for partition in partitions:
            try:
                self.producer.produce(self.topic, key=TICK_USER_ID.encode(), value=value, partition=partition,
                                      on_delivery=self._delivered)
            except BufferError:  # the broker is away and the queue is full: skip this tick
                break
        self.producer.poll(0)

    def _delivered(self, error, message):
        if error is None:
            self.sent += 1
        else:
            self.failed += 1

    def _first_partitions(self):
        """The topic's partitions, waiting (and saying so) while the broker or topic is not there yet."""
        while not self._stopped.is_set():
            try:
                return self.partitions()
            except KafkaException as error:
                logger.warning("waiting for %s: %s", self.topic, error)
                self._stopped.wait(2)
        return []

    def run(self, report_every=60.0):
        partitions, refreshed = self._first_partitions(), time.monotonic()
        logger.info("ticking %d partition(s) of %s every %.0f ms", len(partitions), self.topic, self.interval * 1000)
        last_report, failed_reported = time.monotonic(), 0
        next_tick = time.monotonic()
        while not self._stopped.is_set():
            self.tick(partitions)
            now = time.monotonic()
            if now - refreshed >= 30:  # partitions added to the topic get ticks too
                try:
                    partitions, refreshed = self.partitions(), now
                except KafkaException as error:
                    logger.warning("could not refresh partitions: %s", error)
                    refreshed = now
            if now - last_report >= report_every:
                if self.failed > failed_reported:
                    logger.warning("%d ticks not delivered in the last %.0f s (is the broker up?)",
                                   self.failed - failed_reported, now - last_report)
                failed_reported, last_report = self.failed, now
            next_tick += self.interval
            self._stopped.wait(max(next_tick - time.monotonic(), 0))
            if next_tick < time.monotonic() - self.interval:  # fell behind (suspended): do not catch up
                next_tick = time.monotonic()
        self.producer.flush(2)
        logger.info("stopped after %d ticks", self.sent)

    def stop(self, *_):
        self._stopped.set()


def run_in_thread(**kwargs):
    """A started Clock in a daemon thread (for a job on topics of its own, e.g. in tests)."""
    clock = Clock(**kwargs)
    threading.Thread(target=clock.run, daemon=True, name=f"clock-{clock.topic}").start()
    return clock
