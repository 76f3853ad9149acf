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

Exactly one clock per deployment, by construction (docs/timing.md, "One clock per deployment"):
every tick is a Kafka transaction of a producer whose transactional id is the deployment's
(settings.EVENT_CLOCK_TRANSACTIONAL_ID_PREFIX + the topic). A starting clock first watches the
topic for another clock's ticks and stops if it sees one (the second stops, the first keeps
ticking). Two clocks that start at the same moment both see none; the later one's
init_transactions then fences the earlier, whose next tick fails: it stops. Either way one ticks.
"""

import logging
import os
import socket
import threading
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from django.conf import settings

from fraudsite.kafka import client_config
from fraudsite.service import ServiceLoop
from fraudsite.topics import CARD_TRANSACTIONS, TICK_USER_ID

logger = logging.getLogger("fraudsite.clock")

# The exit status of a clock that stops because another one holds the deployment's role
# (supervisors start it again later: it then takes over if the other one has gone).
EXIT_ANOTHER_CLOCK = 3
# The header naming the clock that wrote a tick (what a starting clock reports it saw).
HEADER = "event-clock"
# Errors of a producer that another one with the same transactional id has replaced.
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


class AnotherClock(Exception):
    """Another event clock holds this deployment's role; the message says which and how it was found."""


def transactional_id(topic):
    return settings.EVENT_CLOCK_TRANSACTIONAL_ID_PREFIX + topic


def watch_seconds(interval):
    """How long a starting clock watches for another one's ticks: a few of its intervals, at least 1 s."""
    return 1.0 + 3 * interval


def tick_producer(topic, transactional):
    """Transactional: a tick is committed or not at all, and a newer clock of the same deployment
    fences this one; a tick that cannot be committed within a few seconds is worthless (a later one
    supersedes it), and a clock that dies with a tick open leaves it open for at most
    transaction.timeout.ms (its restart aborts it at once). Otherwise a plain producer whose
    undeliverable ticks expire instead of piling up during a broker outage."""
    if transactional:
        return Producer(client_config(**{
            "transactional.id": transactional_id(topic),
            "transaction.timeout.ms": 10_000,
            "linger.ms": 0,
            "message.timeout.ms": 5000,
            "queue.buffering.max.messages": 10_000,
        }))
    return Producer(client_config(**{
        "linger.ms": 0,
        "acks": 1,
        "message.timeout.ms": 2000,
        "queue.buffering.max.messages": 10_000,
    }))


class Clock(ServiceLoop):
    """Sends a tick to each partition of topic every interval_ms until stop() is called. watch: look
    for another clock's ticks before taking the role (not when two start at once on purpose)."""

    logger = logger

    def __init__(self, topic=None, interval_ms=None, transactional=None, watch=True, report_every=60.0):
        super().__init__()
        self.watch, self.report_every = watch, report_every
        self.topic = topic or CARD_TRANSACTIONS.name
        self.interval = (interval_ms or settings.EVENT_TIME_TICK_MS) / 1000
        self.transactional = settings.EVENT_CLOCK_TRANSACTIONAL if transactional is None else transactional
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.codec = CARD_TRANSACTIONS.codec(self.topic)
        self.producer = None
        self.ticked, self.refreshed = [], None  # the partitions ticked, and when they were listed
        self.next_tick = self.last_report = None
        self.failed_reported = 0  # self.failed at the last report
        self.sent = 0
        self.failed = 0
        self.error = None  # why run() stopped, when it stopped by itself (an AnotherClock)

    def partitions(self, client):
        topic = client.list_topics(self.topic, timeout=10).topics[self.topic]
        if topic.error is not None or not topic.partitions:
            raise KafkaException(f"topic {self.topic} is not available: {topic.error}")
        return sorted(topic.partitions)

    def another_clock(self, partition, seconds):
        """The name of a clock whose tick reaches the partition within seconds, or None. Reads
        uncommitted records: a live clock's tick counts as soon as it is written."""
        consumer = Consumer(client_config(**{"group.id": transactional_id(self.topic), "enable.auto.commit": False,
                                             "isolation.level": "read_uncommitted"}))
        try:
            end = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)[1]
            consumer.assign([TopicPartition(self.topic, partition, end)])
            deadline = time.monotonic() + seconds
            while not self.stopped.is_set() and (left := deadline - time.monotonic()) > 0:
                message = consumer.poll(min(left, 0.2))
                if message is not None and not message.error() and message.key() == TICK_USER_ID.encode():
                    return dict(message.headers() or []).get(HEADER, b"another clock").decode(errors="replace")
        finally:
            consumer.close()
        return None

    def take_role(self, watch=True):
        """Become the deployment's clock: AnotherClock if one is ticking (unless watch is False,
        as when two start at once), else a producer that fences any earlier one."""
        probe = Producer(client_config())
        partitions = self._first_partitions(probe)
        if watch and partitions:
            seconds = watch_seconds(self.interval)
            logger.info("watching %s for %.1f s for another event clock", self.topic, seconds)
            other = self.another_clock(partitions[0], seconds)
            if other:
                raise AnotherClock(f"another event clock ({other}) is ticking {self.topic}: this one stops "
                                   f"(one per deployment; stop that one first to move it)")
        self.producer = tick_producer(self.topic, self.transactional)
        if self.transactional:
            self.producer.init_transactions(30)  # aborts a tick the previous holder left open
        return partitions

    def tick(self, partitions):
        value = self.codec.encode({"timestamp": int(time.time() * 1000), "transaction_id": "tick",
                                   "lat": 0.0, "lng": 0.0, "amount": 0.0})
        headers = [(HEADER, self.name.encode())]
        if not self.transactional:
            for partition in partitions:
                try:
                    self.producer.produce(self.topic, key=TICK_USER_ID.encode(), value=value, partition=partition,
                                          headers=headers, on_delivery=self._delivered)
                except BufferError:  # the broker is away and the queue is full: skip this tick
                    break
            self.producer.poll(0)
            return
        try:
            self.producer.begin_transaction()
            for partition in partitions:
                self.producer.produce(self.topic, key=TICK_USER_ID.encode(), value=value, partition=partition,
                                      headers=headers)
            self.producer.commit_transaction(max(5.0, 2 * self.interval))
            self.sent += len(partitions)
        except (KafkaException, BufferError) as error:
            self._failed_tick(error)

    def _delivered(self, error, message):
        if error is None:
            self.sent += 1
        else:
            self.failed += 1

    def _failed_tick(self, error):
        self._stop_if_fenced_or_fatal(error)
        self.failed += 1
        try:  # a tick that failed (broker away) is dropped; the next one starts afresh
            self.producer.abort_transaction(max(5.0, 2 * self.interval))
        except KafkaException as abort_error:
            # The commit can fail with a plain error and only the abort learn that a newer clock
            # fenced this one (seen under load): that is the same hand-over, not a crash.
            self._stop_if_fenced_or_fatal(abort_error)
            logger.debug("could not abort a failed tick: %s", abort_error)

    def _stop_if_fenced_or_fatal(self, error):
        kafka_error = error.args[0] if isinstance(error, KafkaException) and error.args else None
        if not isinstance(kafka_error, KafkaError):
            return
        if kafka_error.code() in FENCED:
            raise AnotherClock(f"fenced: another event clock took transactional id {transactional_id(self.topic)} "
                               f"on {self.topic}; this one stops") from None
        if kafka_error.fatal():
            raise error

    def _first_partitions(self, client):
        """The topic's partitions, waiting (and saying so) while the broker or topic is not there yet."""
        while not self.stopped.is_set():
            try:
                return self.partitions(client)
            except KafkaException as error:
                logger.warning("waiting for %s: %s", self.topic, error)
                self.stopped.wait(2)
        return []

    def run(self):
        """Tick until stop(); returns normally then. Raises AnotherClock (also kept in self.error)
        when another clock holds the role, at the start or later (fenced)."""
        try:
            super().run()
        except AnotherClock as error:
            self.error = error
            logger.error("%s", error)
            raise

    def start(self):
        self.ticked = self.take_role(self.watch)
        self.refreshed = self.next_tick = self.last_report = time.monotonic()
        logger.info("ticking %d partition(s) of %s every %.0f ms as %s (transactional id %s)", len(self.ticked),
                    self.topic, self.interval * 1000, self.name, transactional_id(self.topic))

    def run_once(self):
        if self.next_tick < time.monotonic() - self.interval:  # fell behind (suspended): do not catch up
            self.next_tick = time.monotonic()
        self.tick(self.ticked)
        now = time.monotonic()
        if now - self.refreshed >= 30:  # partitions added to the topic get ticks too
            self._refresh_partitions(now)
        if now - self.last_report >= self.report_every:
            if self.failed > self.failed_reported:
                logger.warning("%d ticks not committed in the last %.0f s (is the broker up?)",
                               self.failed - self.failed_reported, now - self.last_report)
            self.failed_reported, self.last_report = self.failed, now
        self.next_tick += self.interval
        return max(self.next_tick - time.monotonic(), 0)

    def _refresh_partitions(self, now):
        try:
            self.ticked = self.partitions(self.producer)
        except KafkaException as error:
            logger.warning("could not refresh partitions: %s", error)
        self.refreshed = now

    def close(self):
        if self.producer is not None:
            try:
                self.producer.flush(2)
            except KafkaException as error:  # a fenced producer refuses even to flush: nothing is left to send
                logger.debug("not flushed: %s", error)
        logger.info("stopped after %d ticks", self.sent)


def run_in_thread(**kwargs):
    """A started Clock in a daemon thread (for a job on topics of its own, e.g. in tests)."""
    clock = Clock(**kwargs)

    def run():
        try:
            clock.run()
        except AnotherClock:
            pass  # kept in clock.error

    threading.Thread(target=run, daemon=True, name=f"clock-{clock.topic}").start()
    return clock
