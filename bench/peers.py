"""Honest peers for the verdict worker (B1), each on the same pre-filled topic:

- the naive Django consumer a user would write first: poll one record, decode it, save it with
  the ORM (`update_or_create`, so a replay stays idempotent, like the worker), auto-commit;
- the machine's limits: librdkafka consuming and decoding alone (nothing stored), and
  PostgreSQL `COPY` of the same rows alone (nothing consumed).

consume_verdicts does both halves, so it can at best approach the slower of the two limits."""

import os
import resource
import time
from contextlib import contextmanager

from confluent_kafka import Consumer
from django.db import connection

from bench.throughput import cpu_seconds
from fraudsite.kafka import client_config
from tests.support.kafka import unique
from transactions.models import Verdict
from fraudsite.topics import VERDICTS
from transactions.verdicts import model_values, parse_verdict, stage_rows
from transactions.worker import Options


def _postgres_cpu_seconds():
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "postgres":
                total += cpu_seconds(pid)
        except OSError:  # a backend that ended meanwhile
            continue
    return total


def _own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread, librdkafka's included
    return usage.ru_utime + usage.ru_stime


@contextmanager
def cpu_per_record(count, into):
    """into[...] = CPU microseconds per record of this process and of PostgreSQL's processes while
    the block ran: what a peer costs, whatever else the shared machine was doing."""
    own, postgres = _own_cpu_seconds(), _postgres_cpu_seconds()
    yield
    into["python_us"] = round((_own_cpu_seconds() - own) / count * 1e6, 1)
    into["postgres_us"] = round((_postgres_cpu_seconds() - postgres) / count * 1e6, 1)


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
        row = model_values(parse_verdict(message, codec))
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


def copy_alone(rows, batch=Options.batch_size):
    """Rows per second that PostgreSQL's COPY takes into the worker's staging table, in batches as
    the worker writes them (binary, with its types), one transaction each."""
    with connection.cursor() as cursor:
        started = time.monotonic()
        for start in range(0, len(rows), batch):  # autocommit: each COPY its own transaction
            stage_rows(cursor, rows[start:start + batch])
        elapsed = time.monotonic() - started
    return len(rows) / elapsed
