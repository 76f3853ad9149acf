"""Turning card-transactions-enriched records into stored Verdicts, or dead letters."""

from datetime import datetime, timezone
from operator import itemgetter

from django.db import connection, transaction

from fraudsite.avro import UndecodableValue
from fraudsite.topics import VERDICTS
from users.models import Customer

from .models import DeadLetter, Transaction, Verdict
from .signals import verdicts_stored


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


KAFKA_POSITION_FIELDS = ["kafka_topic", "kafka_partition", "kafka_offset"]
ROW_FIELDS = VERDICTS.field_names + KAFKA_POSITION_FIELDS
row_values = itemgetter(*ROW_FIELDS)
UPDATABLE_FIELDS = [name for name in ROW_FIELDS if name != "transaction_id"] + ["customer", "submitted", "stored_at"]

STATUSES = frozenset(Verdict.Status.values)
OUTCOMES = frozenset(Verdict.Outcome.values)
TEXT_LIMITS = {
    name: Verdict._meta.get_field(name).max_length
    for name in ("transaction_id", "user_id", "prev_transaction_id", "first_name", "last_name", "status", "reason",
                 "reasons")
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
    """(verdict rows, dead letters) of a batch of Kafka messages; nothing is written."""
    rows, dead_letters = {}, []
    for message in messages:
        try:
            row = parse_verdict(message, codec)
        except InvalidVerdict as error:
            dead_letters.append(dead_letter(message, error))
        else:
            rows[row["transaction_id"]] = row  # a replayed duplicate within the batch: last wins
    return list(rows.values()), dead_letters


def store_rows(rows, dead_letters):
    """Store parsed verdicts and dead letters in one database transaction: verdicts upserted by
    transaction id (linked to their customer and submitted transaction). Idempotent, so a batch
    replayed after a crash changes nothing."""
    with transaction.atomic():
        if rows:
            (_upsert_postgresql if connection.vendor == "postgresql" else _upsert_generic)(rows)
            verdicts_stored.send(sender=Verdict, rows=rows)
        DeadLetter.objects.bulk_create(dead_letters, ignore_conflicts=True)
    return rows, dead_letters


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


def _upsert_postgresql(rows):
    """COPY into a session-local staging table, then one INSERT ... ON CONFLICT that also links
    customers and submitted transactions: far cheaper per row than the ORM."""
    with connection.cursor() as cursor:
        stage_rows(cursor, rows)
        cursor.execute(f"""
            INSERT INTO {Verdict._meta.db_table} ({", ".join(ROW_FIELDS)}, customer_id, submitted_id, stored_at)
            SELECT {", ".join(map(_stored, ROW_FIELDS))}, c.id, t.id, now()
            FROM verdict_batch b
            LEFT JOIN {Customer._meta.db_table} c ON c.user_id = b.user_id
            LEFT JOIN {Transaction._meta.db_table} t ON t.transaction_id = b.transaction_id
            ON CONFLICT (transaction_id) DO UPDATE SET
            {", ".join(f"{name} = EXCLUDED.{name}" for name in ROW_FIELDS + ["customer_id", "submitted_id", "stored_at"]
                       if name != "transaction_id")}
        """)


def _upsert_generic(rows):
    """The same through the ORM, for other databases (SQLite in a zero-configuration local run)."""
    verdicts = [Verdict(**model_values(row)) for row in rows]
    customers = dict(Customer.objects.filter(user_id__in={v.user_id for v in verdicts}).values_list("user_id", "pk"))
    submitted = dict(Transaction.objects.filter(transaction_id__in={v.transaction_id for v in verdicts})
                     .values_list("transaction_id", "pk"))
    for verdict in verdicts:
        verdict.customer_id = customers.get(verdict.user_id)
        verdict.submitted_id = submitted.get(verdict.transaction_id)
    Verdict.objects.bulk_create(verdicts, update_conflicts=True, unique_fields=["transaction_id"],
                                update_fields=UPDATABLE_FIELDS)
