"""The stack manager's clear failures (no JVM needed for these)."""

import socket

import pytest

from localstack import artifacts
from localstack.kafka import format_kafka_storage, start_kafka
from localstack.messages import StackError


def test_a_taken_port_is_one_clear_message(settings, tmp_path):
    settings.STACK_DIR = tmp_path
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        settings.STACK_KAFKA_PORT = squatter.getsockname()[1]
        with pytest.raises(StackError, match=f"port {settings.STACK_KAFKA_PORT} is taken.*STACK_KAFKA_PORT"):
            start_kafka()


def test_missing_java_is_one_clear_message(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match="Java 17 or newer is required"):
        artifacts.require_java()


def test_an_altered_jar_is_refused(tmp_path):
    jars = tmp_path / "kafka"
    jars.mkdir()
    for name in artifacts._lock():
        if name.startswith("kafka/"):
            (tmp_path / name).write_bytes(b"not the real jar")
    with pytest.raises(StackError, match="checksum mismatch"):
        artifacts._verify(jars, "kafka")


@pytest.mark.stack
def test_kafka_storage_is_formatted_whatever_the_random_cluster_id(tmp_path, monkeypatch):
    """A cluster id beginning with '-' once read as an option and stopped `stack up`."""
    import uuid

    data = tmp_path / "data"
    properties = tmp_path / "server.properties"
    properties.write_text("\n".join([
        "process.roles=broker,controller", "node.id=1", "controller.quorum.voters=1@localhost:1",
        "listeners=PLAINTEXT://localhost:2,CONTROLLER://localhost:1", "controller.listener.names=CONTROLLER",
        f"log.dirs={data}", ""]))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(bytes=b"\xfb" + b"\x00" * 15))  # base64 "-wAA..."
    format_kafka_storage(properties, data, f"{artifacts.ensure_kafka()}/*")
    assert "cluster.id=-wAA" in (data / "meta.properties").read_text()
