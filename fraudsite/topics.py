"""The topic registry: one object per topic, owning its name setting, Kafka configuration, key and
value schema, codec and Flink columns. Every producer, consumer, SQL renderer, Terraform generator
and test asks it, so a contract changes in one place."""

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings

from .avro import codec_for
from .kafka import client_config

BASE_DIR = Path(__file__).resolve().parent.parent
SEVEN_DAYS_MS = str(7 * 24 * 3600 * 1000)

# The key of the event-time clock's ticks on card-transactions (transactions/clock.py); a real
# customer's user_id is never empty. The detection SQL drops these records after reading them.
TICK_USER_ID = ""

# Avro type -> Flink SQL type: Flink's plain `avro` format derives its schema from the columns.
AVRO_TO_FLINK = {"string": "STRING", "long": "BIGINT", "int": "INT", "double": "DOUBLE", "boolean": "BOOLEAN"}

# Every topic but list-memberships is keyed by the customer: user_id as raw UTF-8 (Flink's `raw`
# key format), so a customer's records share a partition and arrive in order.
KEY_COLUMN = "user_id"


@dataclass(frozen=True)
class Topic:
    role: str  # the topic's name in the SQL templates and in Terraform
    name_setting: str
    value_schema_path: Path
    config: dict = field(hash=False)
    key_in_value: bool = False  # whether the value repeats the key as a field (the verdicts do)
    # The value schema's earlier versions, newest first: records they wrote still read (fraudsite/avro.py).
    previous_value_schema_paths: tuple = ()
    key_column: str = KEY_COLUMN  # the raw UTF-8 key's column in Flink

    @property
    def name(self):
        return getattr(settings, self.name_setting)

    @cached_property
    def value_schema(self):
        return json.loads(self.value_schema_path.read_text())

    @cached_property  # read for every verdict the worker stores
    def field_names(self):
        return [f["name"] for f in self.value_schema["fields"]]

    def fields_marked(self, attribute):
        """The value's fields (as the schema writes them) that carry attribute: true, e.g. the
        verdict's "measurement"s. Avro keeps attributes it does not define as metadata."""
        return [f for f in self.value_schema["fields"] if f.get(attribute) is True]

    def optional_fields(self):
        """The value's fields that have a default: those a producer may leave out."""
        return [f for f in self.value_schema["fields"] if "default" in f]

    def codec(self, topic=None):
        """The value codec for this topic (or for a stand-in topic of the same contract, in tests)."""
        return codec_for(self.value_schema_path, topic or self.name, self.previous_value_schema_paths)

    @staticmethod
    def encode_key(user_id):
        return user_id.encode()

    def flink_columns(self):
        """The table's physical columns as Flink DDL, in record order: the key, then the value's fields."""
        key = [] if self.key_in_value else [f"  `{self.key_column}` STRING NOT NULL"]
        return ",\n".join(key + [f"  {column}" for column in value_columns(self.value_schema)])


def flink_type(avro_type):
    """The Flink SQL type of an Avro type: NOT NULL unless a ["null", T] union; an array of records
    becomes ARRAY<ROW<...>>, as Flink's avro format and Confluent Cloud's inference both map it."""
    if isinstance(avro_type, list):
        (kind,) = [t for t in avro_type if t != "null"]
        return flink_type(kind).removesuffix(" NOT NULL")
    if isinstance(avro_type, dict) and avro_type["type"] == "array":
        return f"ARRAY<{flink_type(avro_type['items'])}> NOT NULL"
    if isinstance(avro_type, dict) and avro_type["type"] == "record":
        return f"ROW<{', '.join(value_columns(avro_type))}> NOT NULL"
    return f"{AVRO_TO_FLINK[avro_type]} NOT NULL"


def value_columns(schema):
    """`name` TYPE [NOT NULL] per field of an Avro record schema."""
    return [f"`{f['name']}` {flink_type(f['type'])}" for f in schema["fields"]]


CARD_TRANSACTIONS = Topic(
    role="card_transactions",
    name_setting="TOPIC_CARD_TRANSACTIONS",
    value_schema_path=BASE_DIR / "transactions/schemas/card-transactions.avsc",
    previous_value_schema_paths=(BASE_DIR / "transactions/schemas/card-transactions-v1.avsc",),
    # LogAppendTime makes a record's timestamp the broker's clock, which the Flink job uses as
    # event time: a client's skewed clock cannot move the watermark.
    config={"cleanup.policy": "delete", "retention.ms": SEVEN_DAYS_MS, "message.timestamp.type": "LogAppendTime"},
)
USERS_CONFIG = Topic(
    role="users_config",
    name_setting="TOPIC_USERS_CONFIG",
    value_schema_path=BASE_DIR / "users/schemas/users-config.avsc",
    # Before the counter rules: the local stack brings such records to the current version
    # (localstack/upgrade.py), as the job reads the topic with the current schema only.
    previous_value_schema_paths=(BASE_DIR / "users/schemas/users-config-v1.avsc",),
    config={"cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime"},
)
VERDICTS = Topic(
    role="card_transactions_enriched",
    name_setting="TOPIC_CARD_TRANSACTIONS_ENRICHED",
    # Written by the Flink job, so sql/ keeps it next to the query.
    value_schema_path=BASE_DIR / "sql/card-transactions-enriched.avsc",
    previous_value_schema_paths=(BASE_DIR / "sql/card-transactions-enriched-v1.avsc",),
    config={"cleanup.policy": "delete", "retention.ms": SEVEN_DAYS_MS},
    key_in_value=True,
)
LIST_MEMBERSHIPS = Topic(
    role="list_memberships",
    name_setting="TOPIC_LIST_MEMBERSHIPS",
    value_schema_path=BASE_DIR / "watchlists/schemas/list-memberships.avsc",
    # Keyed by the looked-up value ("<kind>:<value>", fraudsite/detection_lists.py), compacted like
    # users-config: the job's versioned table of the entries.
    config={"cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime"},
    key_column="list_key",
)
TOPICS = (CARD_TRANSACTIONS, USERS_CONFIG, VERDICTS, LIST_MEMBERSHIPS)

# A proposal's replay (proposals/replay.py) writes topics of its own, named with this prefix (the
# app's account on Confluent Cloud may create and delete only these).
REPLAY_TOPIC_PREFIX = "fraudsite-replay-"


def replay_topics(token):
    """Role -> topic name of one replay's topics."""
    return {topic.role: f"{REPLAY_TOPIC_PREFIX}{token}-{topic.role.replace('_', '-')}" for topic in TOPICS}


def topic_names():
    """Role -> topic name: the keys the SQL templates and Terraform use for the topics."""
    return {topic.role: topic.name for topic in TOPICS}


def topic_configs():
    """Topic name -> Kafka topic configuration (the original demo's, plus LogAppendTime)."""
    return {topic.name: topic.config for topic in TOPICS}


def topics_led(timeout=5):
    """Whether every partition of the topics has a leader: a broker that has just (re)started
    answers metadata requests before it leads its partitions, and a produce meanwhile can time out."""
    from confluent_kafka import KafkaException

    try:
        found = AdminClient(client_config()).list_topics(timeout=timeout).topics
    except KafkaException:
        return False
    return all(topic.name in found and found[topic.name].error is None
               and all(partition.leader >= 0 and partition.error is None
                       for partition in found[topic.name].partitions.values())
               for topic in TOPICS)


def ensure_topics(partitions=None, timeout=30):
    """Create whichever of the topics is missing. Returns the names created."""
    admin = AdminClient(client_config())
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(topic.name, num_partitions=partitions or settings.TOPIC_PARTITIONS, replication_factor=-1,
                 config=topic.config)
        for topic in TOPICS
        if topic.name not in existing
    ]
    for name, future in (admin.create_topics(missing) if missing else {}).items():
        future.result(timeout)
    return [topic.topic for topic in missing]
