"""Publishes customers to the compacted users-config topic, which the Flink job joins against.

A record is produced only after the database transaction that changed the customer commits, and
the customer is marked synced only once the broker has acknowledged it. When Kafka cannot be
reached the customer is marked failed with the error; `manage.py sync_customers` retries.
"""

import logging
from pathlib import Path

from confluent_kafka import KafkaException
from django.conf import settings
from django.utils import timezone

from fraudsite.avro import codec_for
from fraudsite.kafka import DeliveryFailed, produce_and_confirm, shared_producer

from .models import Customer, PendingTombstone

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).parent / "schemas" / "users-config.avsc"


def users_config_codec():
    return codec_for(SCHEMA_PATH, settings.TOPIC_USERS_CONFIG)


def users_config_value(customer):
    """The users-config record of an active customer."""
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "max_speed": float(customer.max_speed),
        **{name: getattr(customer, name) for name in Customer.SIGNAL_FIELDS},
    }


def _send(user_id, record):
    value = None if record is None else users_config_codec().encode(record)
    try:
        produce_and_confirm(shared_producer(), settings.TOPIC_USERS_CONFIG, user_id.encode(), value)
    except (DeliveryFailed, KafkaException, BufferError) as error:
        return str(error)
    return None


def publish_customer(pk):
    """Publish the customer's current state (an inactive one as a tombstone). True when acknowledged."""
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:  # deleted meanwhile: its tombstone is on its way
        return True
    error = _send(customer.user_id, users_config_value(customer) if customer.active else None)
    if error:
        logger.warning("users-config: %s not published: %s", customer.user_id, error)
        Customer.objects.filter(pk=pk).update(
            sync_state=Customer.SyncState.FAILED, sync_error=error
        )
        return False
    Customer.objects.filter(pk=pk).update(
        sync_state=Customer.SyncState.SYNCED, sync_error="", synced_at=timezone.now()
    )
    PendingTombstone.objects.filter(user_id=customer.user_id).delete()
    return True


def publish_tombstone(user_id):
    """Remove a deleted customer from users-config. True when acknowledged; else kept pending."""
    if Customer.objects.filter(user_id=user_id).exists():  # re-created since: its record wins
        PendingTombstone.objects.filter(user_id=user_id).delete()
        return True
    error = _send(user_id, None)
    if error:
        logger.warning("users-config: tombstone for %s not published: %s", user_id, error)
        PendingTombstone.objects.update_or_create(user_id=user_id, defaults={"error": error})
        return False
    PendingTombstone.objects.filter(user_id=user_id).delete()
    return True


def sync_customers(everything=False):
    """Publish every unsynced customer and pending tombstone (or every customer). Returns (sent, failed)."""
    customers = Customer.objects.all()
    if not everything:
        customers = customers.exclude(sync_state=Customer.SyncState.SYNCED)
    outcomes = [publish_customer(pk) for pk in customers.values_list("pk", flat=True)]
    outcomes += [
        publish_tombstone(user_id)
        for user_id in PendingTombstone.objects.values_list("user_id", flat=True)
    ]
    return outcomes.count(True), outcomes.count(False)
