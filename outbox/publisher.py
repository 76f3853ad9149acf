"""Writing records to the outbox, and the loop that produces them to Kafka.

A change and its outbox row commit together, so nothing is published that did not happen and
nothing that happened goes unpublished; the request that made the change never waits for Kafka.
One loop sends rows in id order and marks them sent once the broker acknowledged them. A row that
fails holds back every later row of its key, so a key's records reach the topic in order.
"""

import logging
import threading
import time
from datetime import timedelta

from confluent_kafka import KafkaException
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from fraudsite.kafka import shared_producer
from fraudsite.outages import Outage
from fraudsite.service import BACK_OFF, ServiceLoop
from fraudsite.topics import TOPICS

from .models import OutboxMessage

logger = logging.getLogger("fraudsite.outbox")

TOPICS_BY_ROLE = {topic.role: topic for topic in TOPICS}
PRUNE_EVERY_SECONDS = 3600
# Records Kafka did not take: logged when it begins, once a minute while it lasts, and when it ends.
kafka_outage = Outage(logger, "Kafka (the outbox)")


def enqueue(topic, records):
    """Add {key: record or None (a tombstone)} for topic to the outbox, in the caller's transaction."""
    OutboxMessage.objects.bulk_create(
        OutboxMessage(topic=topic.role, key=key, value=value) for key, value in records.items())


def publish_pending(batch_size=500, producer=None):
    """Send the oldest unsent rows (one batch); returns (sent, failed). A key's rows are in commit
    order by id: each change of a customer locks its row, so a later change gets a later id."""
    producer = producer or shared_producer()
    with transaction.atomic():
        # Locked, so that a second publisher waits instead of sending the same rows out of order.
        rows = list(OutboxMessage.objects.select_for_update().filter(sent_at=None).order_by("id")[:batch_size])
        if not rows:
            return 0, 0
        errors = _produce(rows, producer)
        now, held_keys, sent = timezone.now(), set(), []
        for row in rows:
            error = errors.get(row.id, "no acknowledgement from Kafka")
            if error is None and (row.topic, row.key) not in held_keys:
                row.sent_at, row.last_error = now, ""
                sent.append(row)
            else:
                held_keys.add((row.topic, row.key))
                row.attempts += 1
                row.last_error = error or "held back until an earlier record of the same key is sent"
        OutboxMessage.objects.bulk_update(rows, ["sent_at", "attempts", "last_error"])
    if len(sent) < len(rows):
        kafka_outage.failed("%d of %d outbox records not sent: %s", len(rows) - len(sent), len(rows),
                            next(row.last_error for row in rows if row.sent_at is None), level=logging.WARNING)
    else:
        kafka_outage.recovered()
    return len(sent), len(rows) - len(sent)


def _produce(rows, producer):
    """{row id: None when acknowledged, else the error}; rows that never got an answer are missing."""
    errors = {}

    def on_delivery(row_id):
        return lambda error, message: errors.__setitem__(row_id, None if error is None else error.str())

    for row in rows:
        topic = TOPICS_BY_ROLE.get(row.topic)
        if topic is None:
            errors[row.id] = f"unknown topic {row.topic!r}"
            continue
        try:
            value = None if row.value is None else topic.codec().encode(row.value)
            producer.produce(topic.name, key=topic.encode_key(row.key), value=value, on_delivery=on_delivery(row.id))
        except (KafkaException, BufferError, ValueError, TypeError) as error:
            errors[row.id] = f"not produced: {error}"
    producer.flush(settings.KAFKA_DELIVERY_TIMEOUT_MS / 1000 + 1)
    return errors


def publish_all_pending():
    """Send batches until nothing is pending or a batch fails; returns (sent, failed)."""
    total_sent = total_failed = 0
    while True:
        sent, failed = publish_pending()
        total_sent, total_failed = total_sent + sent, total_failed + failed
        if failed or not sent:
            return total_sent, total_failed


def oldest_pending_seconds():
    """How long the oldest unsent row has waited, or None when nothing is pending."""
    oldest = OutboxMessage.objects.filter(sent_at=None).order_by("id").values_list("created_at", flat=True).first()
    return None if oldest is None else (timezone.now() - oldest).total_seconds()


def prune_sent(older_than_days=None):
    """Delete sent rows past the retention, keeping each key's latest (its publication state)."""
    days = settings.OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    old = OutboxMessage.objects.filter(sent_at__lt=cutoff)
    newer_of_same_key = OutboxMessage.objects.filter(topic=OuterRef("topic"), key=OuterRef("key"), id__gt=OuterRef("id"))
    return old.filter(Exists(newer_of_same_key)).delete()[0]


class Publisher(ServiceLoop):
    """The loop behind `manage.py publish_outbox`: sends pending rows as they appear."""

    logger = logger

    def __init__(self, poll_seconds=None):
        super().__init__()
        self.poll_seconds = settings.OUTBOX_POLL_SECONDS if poll_seconds is None else poll_seconds
        self.last_prune = float("-inf")

    def start(self):
        logger.info("publishing the outbox every %.2f s", self.poll_seconds)

    def run_once(self):
        sent, failed = publish_all_pending()
        if time.monotonic() - self.last_prune >= PRUNE_EVERY_SECONDS:
            pruned, self.last_prune = prune_sent(), time.monotonic()
            if pruned:
                logger.info("pruned %d sent outbox records", pruned)
        if sent:
            logger.info("sent %d outbox records", sent)
        return BACK_OFF if failed else self.poll_seconds

    def wait(self, seconds):
        """Wait, serving the producer meanwhile: librdkafka hands over its log lines only when polled,
        and lines held back through an outage would come out later, as if it were happening again."""
        deadline = time.monotonic() + seconds
        while not self.stopped.is_set() and (remaining := deadline - time.monotonic()) > 0:
            shared_producer().poll(min(remaining, 0.5))

    def close(self):
        logger.info("stopped")


def run_in_thread(poll_seconds=None):
    """A publisher on a daemon thread (for tests and benchmarks); call .stop() on what it returns."""
    publisher = Publisher(poll_seconds)
    threading.Thread(target=publisher.run, daemon=True, name="outbox-publisher").start()
    return publisher
