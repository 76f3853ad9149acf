"""The stack manager's clear failures (no JVM needed for these)."""

import os
import socket
import subprocess
import sys

import pytest

from localstack import artifacts, stack
from localstack.kafka import format_kafka_storage, start_kafka
from localstack.layout import paths
from localstack.messages import StackError
from localstack.processes import running_pid, spawn
from tests.support.checkout import free_ports


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


def _sleeper(**kwargs):
    return subprocess.Popen(["sleep", "120"], stdin=subprocess.DEVNULL, **kwargs)


@pytest.fixture
def own_stack_dir(settings, tmp_path):
    """An empty stack directory of this test's own; every process left in it is stopped afterwards."""
    settings.STACK_DIR = tmp_path / "stack"
    yield settings.STACK_DIR
    stack.stop(stack.started_processes())


def test_stack_down_stops_only_processes_this_stack_directory_started(own_stack_dir, tmp_path):
    """A pid file whose pid now names another process (the pid was reused, or the file came from
    another stack) is forgotten, never signalled."""
    ours = spawn("event-clock", ["sleep", "120"])
    stranger = _sleeper(cwd=tmp_path)  # started elsewhere; its pid written where Kafka's would be
    paths().pidfile("kafka").write_text(str(stranger.pid))
    try:
        stack.down()
        assert stranger.poll() is None, "stack down signalled a process its stack directory did not start"
        assert running_pid("event-clock") is None and not paths().pidfile("kafka").exists()
    finally:
        stranger.kill()
        stranger.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(ours, 0)


def test_a_port_held_by_another_stack_names_that_stack(own_stack_dir, tmp_path, settings):
    """make test (or make run) configured with ports another stack uses says whose they are."""
    other = tmp_path / "other-stack"
    other.mkdir()
    port = free_ports(1)[0]
    listener = subprocess.Popen([sys.executable, "-c", f"import socket,time; s=socket.socket(); "
                                 f"s.bind(('127.0.0.1',{port})); s.listen(); print(1, flush=True); time.sleep(120)"],
                                cwd=other, stdout=subprocess.PIPE)
    try:
        listener.stdout.readline()
        (other / "kafka.pid").write_text(str(listener.pid))
        settings.STACK_KAFKA_PORT = port
        with pytest.raises(StackError) as taken:
            start_kafka()
    finally:
        listener.kill()
        listener.wait()
    assert (f"port {port} is taken by the kafka of the stack in {other} (pid {listener.pid}, since "
            in str(taken.value))
    assert f"`STACK_DIR={other} python manage.py stack down` stops that stack" in str(taken.value)

