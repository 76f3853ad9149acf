"""Honest peers for the verdict worker (B1), each on the same pre-filled topic:

- the naive Django consumer a user would write first: poll one record, decode it, save it with
  the ORM (`update_or_create`, so a replay stays idempotent, like the worker), auto-commit;
- the machine's limits: librdkafka consuming and decoding alone (nothing stored), and
  PostgreSQL `COPY` of the same rows alone (nothing consumed).

consume_verdicts does both halves, so it can at best approach the slower of the two limits."""

import time

from confluent_kafka import Consumer
from django.db import connection

from fraudsite.kafka import client_config
from tests.support.kafka import unique
from transactions.models import Verdict
from fraudsite.topics import VERDICTS
from transactions.verdicts import ROW_FIELDS, parse_verdict


def _consumer(topic):
    consumer = Consumer(client_config(**{"group.id": unique("peer"), "auto.offset.reset": "earliest",
                                         "isolation.level": "read_uncommitted"}))
    consumer.subscribe([topic])
    return consumer


def one_by_one(topic, count, handle):
    """Records per second (first record to last) of polling one record at a time, with a one-second
    timeout as the original demo does, and handing each to handle(message)."""
    consumer = _consumer(topic)
    received, first = 0, None
    try:
        while received < count:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            first = first or time.monotonic()
            handle(message)
            received += 1
        return received / (time.monotonic() - first)
    finally:
        consumer.close()


def naive_django_consumer(topic, count):
    """Records per second of poll-one, decode, `Verdict.objects.update_or_create`."""
    codec = VERDICTS.codec()

    def save(message):
        row = parse_verdict(message, codec)
        Verdict.objects.update_or_create(transaction_id=row.pop("transaction_id"), defaults=row)

    return one_by_one(topic, count, save)


def consume_and_decode(topic, count):
    """Records per second of librdkafka batches and Avro decoding into verdict rows, nothing stored.
    Returns (rate, the rows) so that the COPY limit writes exactly these."""
    codec, consumer = VERDICTS.codec(), _consumer(topic)
    rows, first = [], None
    try:
        while len(rows) < count:
            messages = consumer.consume(num_messages=2000, timeout=1.0)
            if messages and first is None:
                first = time.monotonic()
            rows += [parse_verdict(message, codec) for message in messages if message.error() is None]
        return len(rows) / (time.monotonic() - first), rows
    finally:
        consumer.close()


def copy_alone(rows, batch=2000):
    """Rows per second that PostgreSQL's COPY takes into a table shaped like the verdicts', in
    batches as the worker writes them, one transaction each."""
    columns = ", ".join(ROW_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS copy_limit AS "
                       f"SELECT {columns} FROM {Verdict._meta.db_table} WITH NO DATA")
        cursor.execute("TRUNCATE copy_limit")
        started = time.monotonic()
        for start in range(0, len(rows), batch):  # autocommit: each COPY its own transaction
            with cursor.copy(f"COPY copy_limit ({columns}) FROM STDIN") as copy:
                for row in rows[start:start + batch]:
                    copy.write_row([row[name] for name in ROW_FIELDS])
        elapsed = time.monotonic() - started
        cursor.execute("DROP TABLE copy_limit")
    return len(rows) / elapsed
