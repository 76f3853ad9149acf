"""The stack manager's clear failures (no JVM needed for these)."""

import socket

import pytest

from localstack import stack


def test_a_taken_port_is_one_clear_message(settings, tmp_path):
    settings.STACK_DIR = tmp_path
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        settings.STACK_KAFKA_PORT = squatter.getsockname()[1]
        with pytest.raises(stack.StackError, match=f"port {settings.STACK_KAFKA_PORT} is taken.*STACK_KAFKA_PORT"):
            stack.start_kafka()


def test_missing_java_is_one_clear_message(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(stack.StackError, match="Java 17 or newer is required"):
        stack.require_java()


def test_an_altered_jar_is_refused(tmp_path):
    jars = tmp_path / "kafka"
    jars.mkdir()
    for name in stack._lock():
        if name.startswith("kafka/"):
            (tmp_path / name).write_bytes(b"not the real jar")
    with pytest.raises(stack.StackError, match="checksum mismatch"):
        stack._verify(jars, "kafka")
