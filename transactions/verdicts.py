"""Turning card-transactions-enriched records into stored Verdicts, conflicts, or dead letters.

A stored verdict is evidence: the first one stored for a transaction id wins and is never changed.
A later record for the same transaction id (a redelivery) is compared with it on its *content*:
every field the detection job wrote (the verdict schema's fields, CONTENT_FIELDS), as the verdict
table stores them (times to the millisecond, absent text as ""). Where the record was read from
(topic, partition, offset) and what this site adds (customer, stored_at, the review) are not
content. A redelivery with the same content changes nothing. One with different content is kept
verbatim as a VerdictConflict, logged with both versions, and never applied.
"""

import json
import logging
import math
from datetime import datetime, timezone
from operator import itemgetter

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from fraudsite.avro import UndecodableValue
from fraudsite.topics import VERDICTS
from users.models import Customer

from . import context
from .models import DeadLetter, Verdict, VerdictConflict
from .signals import verdicts_stored

logger = logging.getLogger("fraudsite.verdicts")


# A verdict row is the decoded record as it is, plus its Kafka position. The schema's fields that
# the verdict table stores differently are converted by PostgreSQL in the upsert: converting them
# in Python took a fifth of the worker's time (B1). Times are epoch milliseconds in the schema
# and timestamps in the table; absent text is NULL in the schema and "" in the table.
TIME_FIELDS = ("timestamp", "received_at", "prev_timestamp")
TEXT_FIELDS = ("prev_transaction_id", "first_name", "last_name")


def time_of(millis):
    """The datetime of a verdict row's time (epoch milliseconds)."""
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def model_values(row):
    """A verdict row's values as the Verdict model takes them (times as datetimes, text never None)."""
    return row | {name: time_of(row[name]) for name in TIME_FIELDS} | {name: row[name] or "" for name in TEXT_FIELDS}


CONTENT_FIELDS = VERDICTS.field_names
# What a verdict reports about how it was reached (the fields its schema marks "measurement"), in
# schema order: the decision API's, webhooks' and the operator page's measurements.
MEASUREMENT_FIELDS = VERDICTS.fields_marked("measurement")
MEASUREMENTS = [field["name"] for field in MEASUREMENT_FIELDS]
KAFKA_POSITION_FIELDS = ["kafka_topic", "kafka_partition", "kafka_offset"]
ROW_FIELDS = CONTENT_FIELDS + KAFKA_POSITION_FIELDS
row_values = itemgetter(*ROW_FIELDS)
position = itemgetter(*KAFKA_POSITION_FIELDS)  # of a verdict row or a Verdict's values

STATUSES = frozenset(Verdict.Status.values)
OUTCOMES = frozenset(Verdict.Outcome.values)
TEXT_LIMITS = {
    name: Verdict._meta.get_field(name).max_length
    for name in ("transaction_id", "user_id", "prev_transaction_id", "first_name", "last_name", "status", "reason",
                 "reasons", *context.NAMES)
}


class InvalidVerdict(ValueError):
    pass


def parse_verdict(message, codec):
    """The verdict row of a Kafka message, a dict of the Verdict columns as the schema has them (see
    TIME_FIELDS); raises InvalidVerdict saying what is wrong."""
    if message.key() is None:
        raise InvalidVerdict("record has no key (user_id)")
    if message.value() is None:
        raise InvalidVerdict("record has no value")
    try:
        record = codec.decode(message.value())
        key = message.key().decode()
    except (UndecodableValue, UnicodeDecodeError) as error:
        raise InvalidVerdict(str(error)) from error
    if key != record["user_id"]:
        raise InvalidVerdict(f"key {key!r} does not match user_id {record['user_id']!r}")
    if record["outcome"] not in OUTCOMES:
        raise InvalidVerdict(f"unknown outcome {record['outcome']!r}")
    if record["status"] not in STATUSES:
        raise InvalidVerdict(f"unknown status {record['status']!r}")
    if not record["transaction_id"]:
        raise InvalidVerdict("transaction_id is empty")
    for name, limit in TEXT_LIMITS.items():
        if record[name] is not None and len(record[name]) > limit:
            raise InvalidVerdict(f"{name} is longer than {limit} characters")
    # The decoded record has exactly the schema's fields (the codec reads with our schema).
    record.update(kafka_topic=message.topic(), kafka_partition=message.partition(), kafka_offset=message.offset())
    return record


def dead_letter(message, error):
    return DeadLetter(topic=message.topic(), partition=message.partition(), offset=message.offset(),
                      key=message.key(), value=message.value(), error=str(error))


def parse_batch(messages, codec):
    """(verdict rows in the order read, dead letters) of a batch of Kafka messages; nothing is written."""
    rows, dead_letters = [], []
    for message in messages:
        try:
            rows.append(parse_verdict(message, codec))
        except InvalidVerdict as error:
            dead_letters.append(dead_letter(message, error))
    return rows, dead_letters


def store_rows(rows, dead_letters):
    """Store parsed verdicts and dead letters in one database transaction. A verdict is inserted,
    linked to its customer, unless its transaction id is stored already (see the module's
    docstring for such redeliveries). Returns (the rows stored, dead letters): a replay of the very
    record stored (the same topic, partition and offset, after a crash) counts as stored again, a
    redelivery read elsewhere does not. verdicts_stored is sent with the rows stored, so that
    alerts, cases and webhook deliveries follow the stored verdict only."""
    firsts, repeats = {}, []
    for row in rows:  # within a batch too, the first read wins
        if firsts.setdefault(row["transaction_id"], row) is not row:
            repeats.append(row)
    stored, redelivered = list(firsts.values()), {}
    with transaction.atomic():
        if stored:
            store = _store_postgresql if connection.vendor == "postgresql" else _store_generic
            redelivered = store(stored, repeats)
            stored = [row for row in stored if position(row) not in redelivered]
        if stored:
            verdicts_stored.send(sender=Verdict, rows=stored)
        DeadLetter.objects.bulk_create(dead_letters, ignore_conflicts=True)
    conflicts = [row for row in rows if redelivered.get(position(row))]
    if conflicts:  # logged once committed
        log_conflicts(conflicts)
    return stored, dead_letters


def store_batch(messages, codec):
    """Parse and store a batch of Kafka messages. Returns (verdict rows, dead letters)."""
    return store_rows(*parse_batch(messages, codec))


STAGED_COLUMNS = ", ".join(f'NULL::bigint AS "{name}"' if name in TIME_FIELDS else name for name in ROW_FIELDS)


def _stored(name):
    """SQL for the verdict table's value of a staged column."""
    if name in TIME_FIELDS:
        return f"TIMESTAMPTZ 'epoch' + b.{name} * INTERVAL '1 millisecond'"
    if name in TEXT_FIELDS:
        return f"COALESCE(b.{name}, '')"
    return f"b.{name}"


# The staging table's column types (built-in types, whose ids are the same in every database and
# session): asked once per process, not once per batch.
_staged_column_types = []


def stage_rows(cursor, rows):
    """COPY verdict rows into this session's staging table, verdict_batch (emptied at commit)."""
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS verdict_batch ON COMMIT DELETE ROWS AS "
                   f"SELECT {STAGED_COLUMNS} FROM {Verdict._meta.db_table} WITH NO DATA")
    if not _staged_column_types:
        cursor.execute("SELECT atttypid FROM pg_attribute WHERE attrelid = 'verdict_batch'::regclass "
                       "AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        _staged_column_types.extend(type_oid for (type_oid,) in cursor.fetchall())
    # Binary COPY with the columns' types given: a third of text COPY's Python time per row.
    with cursor.copy(f"COPY verdict_batch ({', '.join(ROW_FIELDS)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_staged_column_types)
        for row in rows:
            copy.write_row(row_values(row))


CONTENT_DIFFERS = (f"({', '.join(f'v.{name}' for name in CONTENT_FIELDS)}) IS DISTINCT FROM "
                   f"({', '.join(map(_stored, CONTENT_FIELDS))})")


def _store_postgresql(rows, repeats):
    """COPY into a session-local staging table, then one INSERT ... ON CONFLICT DO NOTHING that
    also links customers: far cheaper per row than the ORM. Only when some transaction id was
    stored already (rarely: a replay or a redelivery), one more statement compares the stored
    verdicts with the staged records. Returns {Kafka position: whether it differs} of the rows and
    repeats that are not the stored verdict's own record."""
    with connection.cursor() as cursor:
        stage_rows(cursor, rows)
        cursor.execute(f"""
            INSERT INTO {Verdict._meta.db_table} ({", ".join(ROW_FIELDS)}, customer_id, stored_at)
            SELECT {", ".join(map(_stored, ROW_FIELDS))}, c.id, now()
            FROM verdict_batch b
            LEFT JOIN {Customer._meta.db_table} c ON c.user_id = b.user_id
            ON CONFLICT (transaction_id) DO NOTHING
        """)
        if cursor.rowcount == len(rows) and not repeats:
            return {}
        redelivered = _compare_staged(cursor)
        if repeats:
            cursor.execute("TRUNCATE verdict_batch")
            stage_rows(cursor, repeats)
            redelivered |= _compare_staged(cursor)
        return redelivered


def _compare_staged(cursor):
    """Compare every staged record with the stored verdict of its transaction id; record those
    that differ as conflicts (once per Kafka position: a replayed batch adds none)."""
    cursor.execute(f"""
        WITH redelivered AS (
            SELECT b, v.id AS verdict_id, {CONTENT_DIFFERS} AS differs
            FROM verdict_batch b JOIN {Verdict._meta.db_table} v ON v.transaction_id = b.transaction_id
            WHERE (v.kafka_topic, v.kafka_partition, v.kafka_offset)
                  IS DISTINCT FROM (b.kafka_topic, b.kafka_partition, b.kafka_offset)
        ), recorded AS (
            INSERT INTO {VerdictConflict._meta.db_table}
                (transaction_id, verdict_id, record, kafka_topic, kafka_partition, kafka_offset, recorded_at)
            SELECT (b).transaction_id, verdict_id, to_jsonb(b) - '{{kafka_topic,kafka_partition,kafka_offset}}'::text[],
                   (b).kafka_topic, (b).kafka_partition, (b).kafka_offset, now()
            FROM redelivered WHERE differs
            ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING
        )
        SELECT (b).kafka_topic, (b).kafka_partition, (b).kafka_offset, differs FROM redelivered
    """)
    return {(topic, partition, offset): differs for topic, partition, offset, differs in cursor.fetchall()}


def _store_generic(rows, repeats):
    """The same through the ORM, for other databases (SQLite in a zero-configuration local run)."""
    verdicts = [Verdict(**model_values(row)) for row in rows]
    customers = dict(Customer.objects.filter(user_id__in={v.user_id for v in verdicts}).values_list("user_id", "pk"))
    for verdict in verdicts:
        verdict.customer_id = customers.get(verdict.user_id)
    Verdict.objects.bulk_create(verdicts, ignore_conflicts=True)
    stored = {values["transaction_id"]: values for values in Verdict.objects.filter(
        transaction_id__in=[row["transaction_id"] for row in rows]).values("pk", *CONTENT_FIELDS, *KAFKA_POSITION_FIELDS)}
    redelivered, conflicts = {}, []
    for row in rows + repeats:
        verdict = stored[row["transaction_id"]]
        if position(verdict) != position(row):
            redelivered[position(row)] = differs = bool(differing_fields(verdict, model_values(row)))
            if differs:
                conflicts.append(VerdictConflict(transaction_id=row["transaction_id"], verdict_id=verdict["pk"],
                                                 record=record_of(row), **dict(zip(KAFKA_POSITION_FIELDS, position(row)))))
    VerdictConflict.objects.bulk_create(conflicts, ignore_conflicts=True)
    return redelivered


def _same(stored, received):
    return stored == received or (isinstance(stored, float) and isinstance(received, float)
                                  and math.isnan(stored) and math.isnan(received))


def differing_fields(stored, received):
    """The content fields in which two verdicts differ, each given as the Verdict model takes them
    (a Verdict's values, or model_values of a row)."""
    return [name for name in CONTENT_FIELDS if not _same(stored[name], received[name])]


def _json_number(value):
    # JSON has no NaN or infinity: written as PostgreSQL's to_jsonb writes them.
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return value


def record_of(row):
    """A verdict row's content as the decoded record had it (times in epoch milliseconds), for JSON."""
    return {name: _json_number(row[name]) for name in CONTENT_FIELDS}


def log_conflicts(rows):
    """One warning per conflicting record, with the stored verdict and the record as the model takes them."""
    stored = {values["transaction_id"]: values for values in Verdict.objects.filter(
        transaction_id__in={row["transaction_id"] for row in rows}).values(*CONTENT_FIELDS, *KAFKA_POSITION_FIELDS)}
    for row in rows:
        verdict, received = stored[row["transaction_id"]], model_values(row)
        logger.warning(
            "verdict conflict: transaction %s, read at %s[%s]@%s, differs from the stored verdict (from %s[%s]@%s) "
            "in %s; kept as a conflict, not applied. Stored: %s. Received: %s", row["transaction_id"],
            *position(row), *position(verdict), ", ".join(differing_fields(verdict, received)),
            json.dumps({name: verdict[name] for name in CONTENT_FIELDS}, cls=DjangoJSONEncoder),
            json.dumps({name: received[name] for name in CONTENT_FIELDS}, cls=DjangoJSONEncoder))
