"""The verdict worker behind `manage.py consume_verdicts`.

Consumes card-transactions-enriched in batches; stores each batch in one database transaction
(a verdict per transaction id, never overwritten; a differing redelivery kept as a conflict;
undecodable records dead-lettered); pushes the stored verdicts to operators; and only then
commits the batch's offsets. A crash at any point replays at most the uncommitted batches, which
the idempotent store absorbs: exactly one row per verdict.

Batches are stored by one writer thread, in order, while this thread consumes and decodes the
next batch: PostgreSQL's work on one batch overlaps Python's on the next (B1). At most one batch
is being stored and one waits, decoded.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from fraudsite.kafka import client_config
from fraudsite.outages import Outage
from fraudsite.service import ServiceLoop
from fraudsite.topics import VERDICTS

from .broadcast import Pusher, layer_is_process_local, push_verdicts
from .models import DeadLetter
from .verdicts import dead_letter, parse_batch, store_batch, store_rows

logger = logging.getLogger("fraudsite.worker")


@dataclass
class Options:
    group_id: str = field(default_factory=lambda: settings.VERDICT_WORKER_GROUP)
    from_beginning: bool = False
    max_messages: int | None = None  # stop after this many records
    idle_timeout: float | None = None  # stop after this many seconds without a record
    batch_size: int = 5000  # per-batch work (queries, commits, pushes) is shared by up to this many (B1)
    batch_timeout: float = 0.2  # seconds to wait for a record when none is waiting
    report_every: float = 10.0


def close_connection():
    """Close this thread's database connection (Django keeps one per thread)."""
    connection.close()


@dataclass
class Batch:
    messages: list
    rows: list  # verdict rows, as parse_batch gives them; once stored, those store_rows stored
    dead_letters: list


@dataclass
class Counters:
    consumed: int = 0
    stored: int = 0
    dead_lettered: int = 0
    started: float = field(default_factory=time.monotonic)
    first_record_at: float | None = None  # rates count from here, not from the group join
    last_record_at: float | None = None

    def rate(self):
        if self.first_record_at is None:
            return 0.0
        return self.consumed / max((self.last_record_at or time.monotonic()) - self.first_record_at, 1e-9)

    def line(self):
        return (f"consumed {self.consumed}, stored {self.stored} verdicts, "
                f"{self.dead_lettered} dead letters, {self.rate():.0f} records/s")


class Worker(ServiceLoop):
    """Each round runs the stages of the pipeline: read what has arrived, decode it, hand it to the
    writer thread to store (the batch before it was stored meanwhile: collected here), broadcast
    what was stored, commit its offsets. A database outage while storing is waited out by the
    loop's back-off, the batch kept and stored again."""

    logger = logger

    def __init__(self, options):
        super().__init__()
        self.options = options
        self.counters = Counters()
        self.codec = VERDICTS.codec()
        self.kafka_errors = Outage(logger, "Kafka")  # logged when it begins, once a minute, when it ends
        self.consumer = Consumer(client_config(**{
            "group.id": options.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": settings.KAFKA_ISOLATION_LEVEL,
            # A crashed worker's partitions move to the others (or to its restarted self) after this
            # long: Kafka's shortest by default, with a heartbeat every 2 s (3 to a session).
            "session.timeout.ms": 6_000,
            "heartbeat.interval.ms": 2_000,
            "on_commit": self._committed,
        }))
        self.decoded = None  # the next batch to store, decoded
        self.storing = None  # the batch in the writer thread, and its Future (None: to be stored again)
        self.last_record = self.last_report = time.monotonic()
        self.reported = 0  # records consumed at the last progress line

    def stop(self, *_):
        logger.info("stopping after the current batch")
        super().stop()

    def run(self):
        super().run()
        return self.counters

    def start(self):
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verdict-writer")
        self.pusher = Pusher()
        if layer_is_process_local():
            logger.warning("the channel layer is in-memory: verdicts will not reach a web server in another "
                           "process. Set REDIS_URL for the worker and the web server.")
        on_assign = self._rewind if self.options.from_beginning else None
        self.consumer.subscribe([settings.TOPIC_CARD_TRANSACTIONS_ENRICHED], **({"on_assign": on_assign} if on_assign else {}))
        logger.info("consuming %s as group %s", settings.TOPIC_CARD_TRANSACTIONS_ENRICHED, self.options.group_id)

    def finished(self):
        """Stopped, idle or at max_messages, with nothing left in hand: what was read is stored and committed."""
        return (self.stopped.is_set() or self._reached_max()) and self.decoded is None and self.storing is None

    def run_once(self):
        if self.decoded is None and not self.stopped.is_set() and not self._reached_max():
            messages = self.read(wait=self.storing is None)
            self.decoded = self.decode(messages) if messages else None
        stored = self.collect_stored() if self.storing else None
        if self.decoded:
            self.storing, self.decoded = (self.decoded, self.writer.submit(self.store, self.decoded)), None
        if stored:
            self.broadcast(stored)
            # While the next batch is being stored, waiting for the commit would only hold it up;
            # with none in flight it is waited for, so a worker that stops or goes idle has
            # committed everything it stored.
            self.commit(stored, wait=self.storing is None)
        self._note_progress(busy=bool(stored or self.storing))

    def close(self):
        self.writer.submit(close_connection).result()
        self.writer.shutdown()
        self.pusher.close()
        self.consumer.close()
        logger.info("stopped: %s", self.counters.line())

    def database_unavailable(self, error, pause):
        batch, _ = self.storing
        self.database_outage.failed("database unavailable (%s); retrying the batch of %d in %d s",
                                    str(error).strip(), len(batch.messages), pause)

    def _note_progress(self, busy):
        """Stop once idle for idle_timeout; a progress line every report_every while there is progress."""
        now = time.monotonic()
        if busy or not self.consumer.assignment():
            self.last_record = now  # idle only counts once partitions are ours (after a rebalance)
        elif self.options.idle_timeout is not None and now - self.last_record >= self.options.idle_timeout:
            logger.info("idle for %.0f s", self.options.idle_timeout)
            self.stopped.set()
        if now - self.last_report >= self.options.report_every and self.counters.consumed != self.reported:
            logger.info(self.counters.line())
            self.last_report, self.reported = now, self.counters.consumed

    def _rewind(self, consumer, partitions):
        for partition in partitions:
            partition.offset = OFFSET_BEGINNING
        consumer.assign(partitions)

    def _reached_max(self):
        return self.options.max_messages is not None and self.counters.consumed >= self.options.max_messages

    def read(self, wait):
        """The records that have arrived (up to batch_size); when none have and `wait`, the next one
        within batch_timeout."""
        size = self.options.batch_size
        if self.options.max_messages is not None:
            size = min(size, self.options.max_messages - self.counters.consumed)
        # Take what has already arrived; when nothing has, wait for the next record only (a batch
        # never waits to fill, so a lone verdict is not held back).
        messages = self.consumer.consume(num_messages=size, timeout=0)
        if not messages and wait:
            messages = self.consumer.consume(num_messages=1, timeout=self.options.batch_timeout)
            if messages and size > 1:
                messages += self.consumer.consume(num_messages=size - 1, timeout=0)
        batch = []
        for message in messages:
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                self.kafka_errors.failed("Kafka: %s", error.str(), level=logging.WARNING)
        if batch:
            self.kafka_errors.recovered()
        return batch

    def decode(self, messages):
        if self.counters.first_record_at is None:
            self.counters.first_record_at = time.monotonic()
        self.counters.consumed += len(messages)
        return Batch(messages, *parse_batch(messages, self.codec))

    def store(self, batch):
        """In the writer thread: store the batch; a record the database refuses becomes a dead letter."""
        try:
            try:
                batch.rows, batch.dead_letters = store_rows(batch.rows, batch.dead_letters)
            except (OperationalError, InterfaceError):
                raise
            except DatabaseError as error:
                logger.error("database refused the batch (%s); storing its records one by one", error)
                batch.rows, batch.dead_letters = self._store_one_by_one(batch.messages)
        except (OperationalError, InterfaceError):
            close_connection()  # reconnect on the next attempt
            raise
        return batch

    def collect_stored(self):
        """The batch in the writer thread, once stored. A database error is raised for the loop to
        back off; the batch is kept, not committed, and stored again in the next round."""
        batch, future = self.storing
        if future is None:
            future = self.writer.submit(self.store, batch)
        try:
            stored = future.result()
        except (OperationalError, InterfaceError):
            self.storing = (batch, None)
            raise
        self.storing = None
        return stored

    def broadcast(self, batch):
        push_verdicts(batch.rows, self.pusher)

    def commit(self, batch, wait):
        """Commit the batch's offsets (in order: asynchronously unless `wait`), and count it."""
        offsets = {}
        for message in batch.messages:
            offsets[(message.topic(), message.partition())] = message.offset() + 1
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                 asynchronous=not wait)
        except KafkaException as error:
            self._committed(error, [])
        self.counters.last_record_at = time.monotonic()
        self.counters.stored += len(batch.rows)
        self.counters.dead_lettered += len(batch.dead_letters)

    def _store_one_by_one(self, messages):
        """Isolate the record the database refuses: it becomes a dead letter, the others are stored."""
        verdicts, dead_letters = [], []
        for message in messages:
            try:
                stored, dead = store_batch([message], self.codec)
            except (OperationalError, InterfaceError):
                raise
            except DatabaseError as error:
                stored, dead = [], [dead_letter(message, f"database refused it: {error}")]
                DeadLetter.objects.bulk_create(dead, ignore_conflicts=True)
            verdicts += stored
            dead_letters += dead
        return verdicts, dead_letters

    def wait(self, seconds):
        """Sleep while keeping the consumer in its group (poll() with every partition paused); not
        cut short by stop(): what was read is stored first."""
        assignment = self.consumer.assignment()
        self.consumer.pause(assignment)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.consumer.poll(min(0.5, max(deadline - time.monotonic(), 0)))
        self.consumer.resume(assignment)

    def _committed(self, error, partitions):
        if error is not None:
            # Stored already; a replay after a rebalance or restart is absorbed by the idempotent store.
            logger.warning("offset commit failed (%s); the batch may be replayed", error)
