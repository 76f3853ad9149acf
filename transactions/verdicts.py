"""Turning card-transactions-enriched records into stored Verdicts, or dead letters."""

from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.db import transaction

from fraudsite.avro import UndecodableValue, codec_for
from users.models import Customer

from .models import DeadLetter, Transaction, Verdict

SCHEMA_PATH = settings.BASE_DIR / "sql" / "card-transactions-enriched.avsc"
UPDATABLE_FIELDS = [
    field.name for field in Verdict._meta.concrete_fields
    if field.name not in ("id", "transaction_id", "customer", "submitted")
]

TEXT_LIMITS = {
    name: Verdict._meta.get_field(name).max_length
    for name in ("transaction_id", "user_id", "prev_transaction_id", "first_name", "last_name", "status", "reason")
}


class InvalidVerdict(ValueError):
    pass


def verdict_codec():
    return codec_for(Path(SCHEMA_PATH), settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)


def _time(millis):
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def parse_verdict(message, codec):
    """A Verdict (unsaved) from a Kafka message; raises InvalidVerdict saying what is wrong."""
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
    if record["status"] not in Verdict.Status.values:
        raise InvalidVerdict(f"unknown status {record['status']!r}")
    if not record["transaction_id"]:
        raise InvalidVerdict("transaction_id is empty")
    for name, limit in TEXT_LIMITS.items():
        if record[name] is not None and len(record[name]) > limit:
            raise InvalidVerdict(f"{name} is longer than {limit} characters")
    return Verdict(
        **{name: record[name] for name in (
            "transaction_id", "user_id", "lat", "lng", "amount", "prev_lat", "prev_lng", "prev_amount",
            "max_speed", "distance_km", "elapsed_seconds", "speed_kmh", "is_fraud", "status", "reason")},
        prev_transaction_id=record["prev_transaction_id"] or "",
        first_name=record["first_name"] or "",
        last_name=record["last_name"] or "",
        timestamp=_time(record["timestamp"]),
        received_at=_time(record["received_at"]),
        prev_timestamp=_time(record["prev_timestamp"]),
        kafka_topic=message.topic(),
        kafka_partition=message.partition(),
        kafka_offset=message.offset(),
    )


def dead_letter(message, error):
    return DeadLetter(topic=message.topic(), partition=message.partition(), offset=message.offset(),
                      key=message.key(), value=message.value(), error=str(error))


def store_batch(messages, codec):
    """Store a batch in one database transaction: verdicts upserted by transaction id, the rest
    dead-lettered. Idempotent, so a batch replayed after a crash changes nothing. Returns
    (verdicts, dead_letters)."""
    verdicts, dead_letters = {}, []
    for message in messages:
        try:
            verdict = parse_verdict(message, codec)
        except InvalidVerdict as error:
            dead_letters.append(dead_letter(message, error))
        else:
            verdicts[verdict.transaction_id] = verdict  # a replayed duplicate within the batch: last wins
    _link(verdicts.values())
    with transaction.atomic():
        Verdict.objects.bulk_create(
            verdicts.values(), update_conflicts=True, unique_fields=["transaction_id"],
            update_fields=UPDATABLE_FIELDS + ["customer", "submitted"],
        )
        DeadLetter.objects.bulk_create(dead_letters, ignore_conflicts=True)
    return list(verdicts.values()), dead_letters


def _link(verdicts):
    """Attach each verdict to its customer and to the submitted transaction, where they exist."""
    customers = dict(Customer.objects.filter(user_id__in={v.user_id for v in verdicts}).values_list("user_id", "pk"))
    submitted = dict(Transaction.objects.filter(transaction_id__in={v.transaction_id for v in verdicts})
                     .values_list("transaction_id", "pk"))
    for verdict in verdicts:
        verdict.customer_id = customers.get(verdict.user_id)
        verdict.submitted_id = submitted.get(verdict.transaction_id)
