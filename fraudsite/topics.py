"""The three topics and their configurations: the one place both the local stack and the tests read."""

from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings

from .kafka import client_config

SEVEN_DAYS_MS = str(7 * 24 * 3600 * 1000)

# The key of the event-time clock's ticks on card-transactions (transactions/clock.py); a real
# customer's user_id is never empty. The detection SQL drops these records after reading them.
TICK_USER_ID = ""


def topic_names():
    """Role -> topic name: the keys the SQL templates and Terraform use for the three topics."""
    return {
        "card_transactions": settings.TOPIC_CARD_TRANSACTIONS,
        "users_config": settings.TOPIC_USERS_CONFIG,
        "card_transactions_enriched": settings.TOPIC_CARD_TRANSACTIONS_ENRICHED,
    }


def topic_configs():
    """Topic name -> Kafka topic configuration (the original demo's, plus LogAppendTime).

    LogAppendTime makes a record's timestamp the broker's clock, which the Flink job uses as event
    time: a client's skewed clock cannot move the watermark.
    """
    return {
        settings.TOPIC_CARD_TRANSACTIONS: {
            "cleanup.policy": "delete",
            "retention.ms": SEVEN_DAYS_MS,
            "message.timestamp.type": "LogAppendTime",
        },
        settings.TOPIC_USERS_CONFIG: {
            "cleanup.policy": "compact",
            "message.timestamp.type": "LogAppendTime",
        },
        settings.TOPIC_CARD_TRANSACTIONS_ENRICHED: {
            "cleanup.policy": "delete",
            "retention.ms": SEVEN_DAYS_MS,
        },
    }


def ensure_topics(partitions=None, timeout=30):
    """Create whichever of the topics is missing. Returns the names created."""
    admin = AdminClient(client_config())
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(name, num_partitions=partitions or settings.TOPIC_PARTITIONS, replication_factor=-1, config=config)
        for name, config in topic_configs().items()
        if name not in existing
    ]
    for name, future in (admin.create_topics(missing) if missing else {}).items():
        future.result(timeout)
    return [topic.topic for topic in missing]
