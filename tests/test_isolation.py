"""The test suite leaves the product alone: after every other test, nothing of theirs is in the
database, the topics or the stack that `make run` uses.

`make test` gives the tests their own stack (state directory and ports), Redis database and (by
pytest-django) database. This runs last and looks where `make run` keeps its data.
"""

import re
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.session import SESSION_STARTED

pytestmark = pytest.mark.after_all

# Every id the tests make comes from tests.support.kafka.unique: a prefix, "_" and 10 hex digits.
TEST_ID = re.compile(r"^[a-z][a-z0-9-]*_[0-9a-f]{10}$")
# What `make run` uses (scripts/run-local.sh, the settings' defaults).
PRODUCT_DATABASE = "postgres://fraudsite:fraudsite@localhost:5432/fraudsite"
PRODUCT_BOOTSTRAP = "localhost:9092"
PRODUCT_TOPICS = ["card-transactions", "users-config", "card-transactions-enriched"]


def test_the_tests_run_on_their_own_stack():
    assert Path(settings.STACK_DIR).resolve() != settings.PRODUCT_STACK_DIR.resolve(), "run the tests with `make test`"
    assert settings.KAFKA_BOOTSTRAP_SERVERS != PRODUCT_BOOTSTRAP


def test_the_product_database_holds_no_record_of_the_tests():
    import psycopg

    try:
        connection = psycopg.connect(PRODUCT_DATABASE.replace("postgres://", "postgresql://"), connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"the product database is not reachable to check ({error}); make test starts it")
    found = {}
    with connection:
        for table, column in [("users_customer", "user_id"), ("transactions_verdict", "user_id"),
                              ("transactions_verdict", "transaction_id"), ("transactions_transaction", "transaction_id")]:
            exists = connection.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]
            if exists:  # a product never migrated holds nothing at all
                values = [row[0] for row in connection.execute(f"SELECT {column} FROM {table}")]
                found[f"{table}.{column}"] = [value for value in values if TEST_ID.match(value)]
    assert not any(found.values()), found


def keys_made_by_tests(consumer, topic, partitions, timeout=120):
    """The keys made by the tests among the topic's records, from its oldest retained one to its end."""
    from confluent_kafka import TopicPartition

    bounds = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5) for p in partitions}
    remaining = {p for p, (low, high) in bounds.items() if high > low}
    consumer.assign([TopicPartition(topic, p, low) for p, (low, high) in bounds.items()])
    keys, deadline = [], time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=10_000, timeout=1):
            if message.error() is None:
                key = (message.key() or b"").decode(errors="replace")
                if TEST_ID.match(key):
                    keys.append(key)
                if message.offset() + 1 >= bounds[message.partition()][1]:
                    remaining.discard(message.partition())
    assert not remaining, f"could not read all of {topic} within {timeout} s"
    return keys


def test_the_product_stack_holds_no_record_of_the_tests():
    from confluent_kafka import Consumer, KafkaException

    from fraudsite.outages import connects

    consumer = Consumer({"bootstrap.servers": PRODUCT_BOOTSTRAP, "group.id": "isolation-check",
                         "enable.auto.commit": False, "socket.connection.setup.timeout.ms": 2000})
    try:
        # Nothing listening is known at once; asking the client would wait out its 5 s.
        topics = consumer.list_topics(timeout=5).topics if connects(PRODUCT_BOOTSTRAP, timeout=2) else None
    except KafkaException:
        topics = None
    if topics is None:  # no product broker running: then the tests did not write its data either
        written = [path for path in settings.PRODUCT_STACK_DIR.rglob("*") if path.stat().st_mtime > SESSION_STARTED] \
            if settings.PRODUCT_STACK_DIR.exists() else []
        consumer.close()
        assert not written, f"the tests wrote to the product's stack: {written[:5]}"
        return
    keys = []
    try:
        for topic in PRODUCT_TOPICS:
            if topic in topics:
                keys += keys_made_by_tests(consumer, topic, topics[topic].partitions)
    finally:
        consumer.close()
    assert not keys, f"test records on the product's topics: {keys[:5]}"

