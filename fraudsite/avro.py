"""Avro encoding of topic values, in one of two modes chosen by configuration.

* SCHEMA_REGISTRY_URL set (e.g. Confluent Cloud): the Confluent wire format (magic byte, schema
  id, Avro body) through confluent_kafka.schema_registry, which registers the repo's schema.
* No registry (the local stack): plain Avro binary written against the repo's `.avsc` file,
  exactly what Flink's plain `avro` format reads and writes.
"""

import io
import json
from functools import lru_cache
from pathlib import Path

import fastavro
from django.conf import settings


class UndecodableValue(ValueError):
    """Bytes that are not a valid record of the expected schema."""


def load_schema(path):
    """The parsed schema of an `.avsc` file."""
    return fastavro.parse_schema(json.loads(Path(path).read_text()))


def registry_client():
    return _registry_client(
        settings.SCHEMA_REGISTRY_URL, settings.SCHEMA_REGISTRY_API_KEY, settings.SCHEMA_REGISTRY_API_SECRET
    )


@lru_cache(maxsize=2)
def _registry_client(url, api_key, api_secret):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    config = {"url": url}
    if api_key:
        config["basic.auth.user.info"] = f"{api_key}:{api_secret}"
    if url.startswith("mock://"):
        # confluent-kafka's in-process registry, for tests.
        return SchemaRegistryClient.new_client(config)
    return SchemaRegistryClient(config)


class PlainAvroCodec:
    """Schemaless Avro binary: the local stack's format.

    A plain Avro record does not say which schema wrote it. A contract evolves only by appending
    fields with defaults, so a record of an earlier version is a prefix of the current schema's
    layout and never reads as the current version (it ends early): such a record is read with the
    first earlier schema it fits exactly and given the current version's defaults (Avro's schema
    resolution). previous_schema_paths: the contract's earlier versions, newest first."""

    def __init__(self, schema_path, topic, previous_schema_paths=()):
        self.schema = load_schema(schema_path)
        self.previous_schemas = [load_schema(path) for path in previous_schema_paths]
        self.topic = topic

    def encode(self, record):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self.schema, record)
        return buffer.getvalue()

    def decode(self, data):
        try:
            return self._read(data, self.schema)
        except UndecodableValue as error:
            for writer_schema in self.previous_schemas:
                try:
                    return self._read(data, writer_schema)
                except UndecodableValue:
                    continue
            raise error

    def _read(self, data, writer_schema):
        buffer = io.BytesIO(data)
        reader_schema = None if writer_schema is self.schema else self.schema
        try:
            record = fastavro.schemaless_reader(buffer, writer_schema, reader_schema)
        except Exception as error:  # fastavro raises many types on garbage input
            raise UndecodableValue(f"not a {self.schema['name']} record: {error!r}") from error
        if buffer.tell() != len(data):
            raise UndecodableValue(
                f"not a {self.schema['name']} record: {len(data) - buffer.tell()} trailing bytes"
            )
        return record


class RegistryAvroCodec:
    """Confluent wire format through the Schema Registry: the cloud format."""

    def __init__(self, schema_path, topic, client=None, auto_register=True):
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        client = client or registry_client()
        schema_str = Path(schema_path).read_text()
        self.topic = topic
        self.schema = load_schema(schema_path)
        self.context = SerializationContext(topic, MessageField.VALUE)
        self.serializer = AvroSerializer(client, schema_str, conf={"auto.register.schemas": auto_register})
        self.deserializer = AvroDeserializer(client, schema_str)

    def encode(self, record):
        return self.serializer(record, self.context)

    def decode(self, data):
        try:
            return self.deserializer(data, self.context)
        except Exception as error:
            raise UndecodableValue(f"not a {self.schema['name']} record: {error!r}") from error


def codec_for(schema_path, topic, previous_schema_paths=()):
    """The codec the configuration asks for (built once per configuration). With a registry, a
    record names its writer's schema, so the earlier versions are the plain codec's only."""
    return _codec(str(schema_path), topic, tuple(map(str, previous_schema_paths)), settings.SCHEMA_REGISTRY_URL,
                  settings.SCHEMA_REGISTRY_AUTO_REGISTER)


@lru_cache(maxsize=16)
def _codec(schema_path, topic, previous_schema_paths, registry_url, auto_register):
    if registry_url:
        return RegistryAvroCodec(schema_path, topic, auto_register=auto_register)
    return PlainAvroCodec(schema_path, topic, previous_schema_paths)
