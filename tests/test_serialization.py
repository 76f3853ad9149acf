"""Both serialization modes, checked against an independent Avro implementation (the `avro` package)."""

import io
import json
import struct

import avro.io
import avro.schema
import pytest

from fraudsite.avro import PlainAvroCodec, RegistryAvroCodec, UndecodableValue
from fraudsite.topics import CARD_TRANSACTIONS, TOPICS, USERS_CONFIG, VERDICTS
from transactions import context

TRANSACTION_SCHEMA = CARD_TRANSACTIONS.value_schema_path
USERS_CONFIG_SCHEMA = USERS_CONFIG.value_schema_path
TRANSACTION = {"timestamp": 1_700_000_000_123, "transaction_id": "tx-1", "lat": 51.5, "lng": -0.12, "amount": 12.5,
               "card_token": "c1f0e8b2", "card_bin": "412345", "merchant_id": "m-1", "merchant_category_code": "5411",
               "merchant_country": "GB", "channel": "card_present", "device_id": None, "ip_address": None}
CUSTOMER = {"first_name": "Lena", "last_name": "Whitaker", "max_speed": 10.0, "velocity_max_transactions": 5,
            "velocity_window_minutes": 10, "spend_factor": None, "usual_hour_start": 22, "usual_hour_end": 6,
            "time_zone": "Europe/London",
            "travel_notices": [
                {"starts_at": 1780000000000, "ends_at": 1781000000000, "signal": "", "center_lat": None,
                 "center_lng": None, "radius_km": None},
                {"starts_at": 1780000000000, "ends_at": 1781000000000, "signal": "speed_above_limit",
                 "center_lat": 35.68, "center_lng": 139.69, "radius_km": 800.0}],
            "weight_speed_above_limit": 60.0, "weight_non_positive_elapsed_time": 60.0,
            "weight_velocity_exceeded": 40.0, "weight_spend_deviation": 30.0, "weight_unusual_hour": 15.5,
            "review_from": 20.0, "decline_from": 50.0,
            "counter_rules": [{"name": "card-shared", "counter": "card:24h:customers", "comparison": ">",
                               "threshold": 1.0, "weight": 40.0}]}


def read_with_reference_library(schema_path, body):
    schema = avro.schema.parse(open(schema_path).read())
    return avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(body)))


def write_with_reference_library(schema_path, record):
    schema = avro.schema.parse(open(schema_path).read())
    buffer = io.BytesIO()
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buffer))
    return buffer.getvalue()


@pytest.mark.parametrize("schema_path, record", [(TRANSACTION_SCHEMA, TRANSACTION), (USERS_CONFIG_SCHEMA, CUSTOMER)])
def test_plain_mode_is_byte_identical_to_the_reference_avro_library(schema_path, record):
    codec = PlainAvroCodec(schema_path, "topic")
    encoded = codec.encode(record)
    assert encoded == write_with_reference_library(schema_path, record)
    assert read_with_reference_library(schema_path, encoded) == record
    assert codec.decode(encoded) == record


def test_plain_mode_rejects_garbage_and_trailing_bytes():
    codec = PlainAvroCodec(TRANSACTION_SCHEMA, "topic")
    with pytest.raises(UndecodableValue):
        codec.decode(b"\xff\xff")
    with pytest.raises(UndecodableValue, match="trailing"):
        codec.decode(codec.encode(TRANSACTION) + b"extra")


@pytest.mark.parametrize("topic", [topic for topic in TOPICS if topic.previous_value_schema_paths], ids=lambda t: t.role)
def test_a_contract_evolves_only_by_appending_fields_with_defaults(topic):
    """What lets the plain codec tell the versions apart (fraudsite/avro.py): an earlier version's
    record ends where the current one's optional fields would begin."""
    later = topic.value_schema["fields"]
    for path in topic.previous_value_schema_paths:
        earlier = json.loads(path.read_text())["fields"]
        assert later[:len(earlier)] == earlier, path.name
        assert all("default" in field for field in later[len(earlier):]), path.name
        later = earlier


def test_a_record_of_the_previous_version_reads_with_the_new_fields_null():
    """A transaction or verdict written before the context existed (still in the topic at an
    upgrade: the job hand-over and the verdict worker read them) reads as the current version."""
    previous = CARD_TRANSACTIONS.previous_value_schema_paths[0]
    old = {name: TRANSACTION[name] for name in ("timestamp", "transaction_id", "lat", "lng", "amount")}
    current = PlainAvroCodec(TRANSACTION_SCHEMA, "topic", [previous])
    assert current.decode(write_with_reference_library(previous, old)) == {**old, **dict.fromkeys(context.NAMES)}
    assert current.decode(current.encode(TRANSACTION)) == TRANSACTION
    with pytest.raises(UndecodableValue):
        PlainAvroCodec(TRANSACTION_SCHEMA, "topic").decode(write_with_reference_library(previous, old))
    with pytest.raises(UndecodableValue, match="trailing"):  # neither version, reported as the current one
        current.decode(current.encode(TRANSACTION) + b"extra")


def test_the_transaction_context_is_declared_once_and_carried_by_both_contracts():
    """transactions/context.py's fields are the transaction's optional fields, and the verdict
    carries each of them (appended in its version 2), as do the Transaction and the Verdict."""
    from transactions.models import Transaction, Verdict

    assert [field["name"] for field in CARD_TRANSACTIONS.optional_fields()] == context.NAMES
    assert VERDICTS.field_names[-len(context.NAMES):] == context.NAMES
    for model in (Transaction, Verdict):
        assert all(model._meta.get_field(name).null for name in context.NAMES)


def test_registry_mode_writes_the_confluent_wire_format(settings):
    settings.SCHEMA_REGISTRY_URL = "mock://serialization-test"
    from fraudsite.avro import registry_client

    codec = RegistryAvroCodec(TRANSACTION_SCHEMA, "card-transactions", client=registry_client())
    encoded = codec.encode(TRANSACTION)

    magic, schema_id = struct.unpack(">bI", encoded[:5])
    assert magic == 0
    registered = registry_client().get_schema(schema_id)
    assert json.loads(registered.schema_str)["name"] == "CardTransaction"
    assert read_with_reference_library(TRANSACTION_SCHEMA, encoded[5:]) == TRANSACTION
    assert codec.decode(encoded) == TRANSACTION


def test_registry_mode_rejects_plain_avro(settings):
    settings.SCHEMA_REGISTRY_URL = "mock://serialization-test"
    codec = RegistryAvroCodec(TRANSACTION_SCHEMA, "card-transactions")
    with pytest.raises(UndecodableValue):
        codec.decode(PlainAvroCodec(TRANSACTION_SCHEMA, "t").encode(TRANSACTION))


def test_without_auto_registration_the_app_uses_the_schema_terraform_registered(settings):
    # Confluent Cloud: Terraform registers the .avsc files and the app's key may only read them.
    settings.SCHEMA_REGISTRY_URL = "mock://serialization-no-auto-register"
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from fraudsite.avro import registry_client

    codec = RegistryAvroCodec(TRANSACTION_SCHEMA, "card-transactions", auto_register=False)
    with pytest.raises(SchemaRegistryError):  # nothing registered under the subject yet
        codec.encode(TRANSACTION)

    # What Terraform's confluent_schema uploads. The real registry matches a lookup on the parsed
    # schema; the mock compares text, so the file's trailing newline is stripped as the client does.
    schema_text = open(TRANSACTION_SCHEMA).read().strip()
    schema_id = registry_client().register_schema("card-transactions-value", Schema(schema_text, "AVRO"))
    encoded = codec.encode(TRANSACTION)
    assert struct.unpack(">bI", encoded[:5]) == (0, schema_id)
    assert codec.decode(encoded) == TRANSACTION
