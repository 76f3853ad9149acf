"""The stack manager's clear failures (no JVM needed for these)."""

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from localstack import artifacts, owner, stack
from localstack.kafka import format_kafka_storage, start_kafka
from localstack.layout import paths
from localstack.messages import StackError
from localstack.processes import running_pid, spawn, started_at
from tests.support.checkout import free_ports


def test_a_taken_port_is_one_clear_message(settings, tmp_path):
    settings.STACK_DIR = tmp_path
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        settings.STACK_KAFKA_PORT = squatter.getsockname()[1]
        with pytest.raises(StackError, match=f"port {settings.STACK_KAFKA_PORT} is taken.*STACK_KAFKA_PORT"):
            start_kafka()


def test_the_state_backend_and_memory_settings_reach_flinks_configuration_and_a_wrong_backend_is_refused(
        settings, tmp_path):
    from localstack.flink import _write_flink_conf

    settings.STACK_DIR = tmp_path
    settings.STACK_FLINK_STATE_BACKEND, settings.STACK_FLINK_TASKMANAGER_MEMORY = "rocksdb", "8g"
    _write_flink_conf()
    written = (paths().flink_conf / "config.yaml").read_text()
    assert "\nstate.backend.type: rocksdb\n" in written and "memory: {process: {size: 8g}}" in written
    settings.STACK_FLINK_STATE_BACKEND = "memory"
    with pytest.raises(StackError, match="STACK_FLINK_STATE_BACKEND is 'memory': it must be one of hashmap, rocksdb"):
        _write_flink_conf()


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


def test_a_second_instance_is_told_who_runs_the_stack_and_changes_nothing(own_stack_dir, monkeypatch):
    """The first instance (here this process) claims the stack directory; a second one is refused
    with the first one's pid, start time and how to stop it; the record is left as it was."""
    first = owner.claim(os.getpid(), "make run", f"Ctrl-C in its terminal, or kill {os.getpid()}")
    second = _sleeper()
    try:
        with pytest.raises(StackError) as refused:
            owner.claim(second.pid, "make run", f"kill {second.pid}")
    finally:
        second.kill()
        second.wait()
    since = datetime.fromtimestamp(first["started_at"], timezone.utc)
    assert f"make run is already running on this stack ({own_stack_dir}): pid {os.getpid()}" in str(refused.value)
    assert f"since {since:%Y-%m-%d %H:%M:%S} UTC" in str(refused.value)
    assert f"To stop it: Ctrl-C in its terminal, or kill {os.getpid()}" in str(refused.value)
    assert owner.current() == first
    # A second instance's exit (its trap's `stack down --owner PID`) stops nothing.
    clock = spawn("event-clock", ["sleep", "120"])
    stack.down(owner=second.pid)
    assert running_pid("event-clock") == clock
    # Once the owner is gone, its stale record blocks nobody.
    owner.release(os.getpid())
    assert owner.claim(clock, "make run", "kill")["pid"] == clock


def test_a_test_session_on_a_stack_that_make_run_holds_ends_at_once_saying_so(own_stack_dir):
    """`make test` (or pytest) given the stack directory of a running `make run`: the session ends
    before it starts or stops anything, with the message that names the running instance."""
    from tests.support.stack_session import claim_and_start

    make_run = _sleeper()
    try:
        owner.claim(make_run.pid, "make run", f"Ctrl-C in its terminal, or kill {make_run.pid}")
        clock = spawn("event-clock", ["sleep", "120"])  # a process of that make run's stack
        with pytest.raises(pytest.exit.Exception) as ended:
            claim_and_start(os.getpid())
        assert ended.value.returncode == 3
        assert f"make run is already running on this stack ({own_stack_dir}): pid {make_run.pid}" in ended.value.msg
        assert "`make test` gives them one" in ended.value.msg
        assert owner.current()["pid"] == make_run.pid and running_pid("event-clock") == clock
        assert sorted(path.name for path in own_stack_dir.glob("*.pid")) == ["event-clock.pid"]
    finally:
        make_run.kill()
        make_run.wait()

def test_a_test_session_whose_stack_fails_to_start_stops_what_it_started(own_stack_dir, monkeypatch):
    """The detection SQL rejected (or any failure) while the session brings its stack up: the session
    ends, having stopped the processes it started and given the stack up; what ran before stays."""
    from tests.support.stack_session import claim_and_start

    kafka = spawn("kafka", ["sleep", "120"])  # running before the session

    def up_then_fail(owner=None):
        spawn("event-clock", ["sleep", "120"])
        raise StackError("the detection SQL was rejected")

    monkeypatch.setattr(stack, "up", up_then_fail)
    with pytest.raises(pytest.exit.Exception) as ended:
        claim_and_start(os.getpid())
    assert "the detection SQL was rejected" in ended.value.msg
    assert running_pid("event-clock") is None and running_pid("kafka") == kafka
    assert owner.current() is None  # the next session may claim it


def test_an_instance_stops_only_what_it_started(own_stack_dir, monkeypatch):
    """make run's exit trap, on a stack whose broker was already running (make stack-up): it stops
    the processes it started and leaves the broker up."""
    kafka = spawn("kafka", ["sleep", "120"])
    monkeypatch.setattr(stack, "require_java", lambda: None)
    monkeypatch.setattr(stack, "start_kafka", lambda: None)  # found running
    monkeypatch.setattr(stack, "start_flink", lambda: spawn("flink-jobmanager", ["sleep", "120"]))
    monkeypatch.setattr(stack, "submit_detection_job", lambda: None)
    monkeypatch.setattr(stack, "start_clock", lambda: spawn("event-clock", ["sleep", "120"]))
    owner.claim(os.getpid(), "make run", "kill")
    stack.up(owner=os.getpid())
    assert owner.current()["processes"] == ["event-clock", "flink-jobmanager"]
    monkeypatch.setattr(stack, "flink_overview", lambda: None)
    stack.down(owner=os.getpid())
    assert stack.started_processes() == {"kafka"} and running_pid("kafka") == kafka
    assert owner.current() is None  # released


def test_a_port_held_by_another_stack_names_that_stack(own_stack_dir, tmp_path, settings):
    """make test (or make run) configured with ports another stack uses says whose they are, and
    how to stop that stack (or the make run that holds it)."""
    other = tmp_path / "other-stack"
    other.mkdir()
    port = free_ports(1)[0]
    listener = subprocess.Popen([sys.executable, "-c", f"import socket,time; s=socket.socket(); "
                                 f"s.bind(('127.0.0.1',{port})); s.listen(); print(1, flush=True); time.sleep(120)"],
                                cwd=other, stdout=subprocess.PIPE)
    messages = []
    try:
        listener.stdout.readline()
        (other / "kafka.pid").write_text(str(listener.pid))
        settings.STACK_KAFKA_PORT = port
        for held_by_make_run in (False, True):
            if held_by_make_run:
                (other / "owner.json").write_text(json.dumps({
                    "pid": os.getpid(), "started_at": started_at(os.getpid()), "command": "make run",
                    "stop": "Ctrl-C in its terminal"}))
            with pytest.raises(StackError) as taken:
                start_kafka()
            messages.append(str(taken.value))
    finally:
        listener.kill()
        listener.wait()
    assert f"port {port} is taken by the kafka of the stack in {other} (pid {listener.pid}, since " in messages[0]
    assert f"`STACK_DIR={other} python manage.py stack down` stops that stack" in messages[0]
    assert f"make run (pid {os.getpid()}) runs that stack: Ctrl-C in its terminal" in messages[1]


@pytest.mark.stack
def test_a_second_make_run_says_who_runs_and_leaves_the_first_alone(stack, tmp_path, postgres_redis_env, settings):
    """Two `make run` (scripts/run-local.sh) in one checkout, on a stack that was running before
    (the session's, which it lends out for this test): the second names the first (pid, since when,
    how to stop it) and exits having touched nothing; the first keeps serving on the stack, and its
    Ctrl-C leaves that stack running, since it did not start it."""
    import signal
    import urllib.request

    from tests.support.checkout import clean_environment, fresh_checkout, throwaway_database
    from tests.support.stack_session import lent_out
    from tests.support.waiting import wait_until

    checkout = fresh_checkout(tmp_path / "clone")
    state = paths().state
    (web,) = free_ports(1)
    log = tmp_path / "first.log"
    stack_pids = {name: running_pid(name) for name in stack.started_processes()}
    assert set(stack_pids) == {"kafka", "event-clock", "flink-jobmanager", "flink-taskmanager"}
    with throwaway_database() as database_url, lent_out(os.getpid()):
        ports = ("STACK_KAFKA_PORT", "STACK_KAFKA_CONTROLLER_PORT", "STACK_FLINK_REST_PORT", "STACK_FLINK_RPC_PORT")
        env = clean_environment(
            STACK_DIR=str(state), **{name: str(getattr(settings, name)) for name in ports}, PORT=str(web),
            WEB_PROCESSES="1",
            VERDICT_WORKER_GROUP="second-make-run-" + os.urandom(4).hex(),
            DATABASE_URL=database_url, REDIS_URL=postgres_redis_env["REDIS_URL"])
        first = None
        try:
            with open(log, "w") as output:
                first = subprocess.Popen(["scripts/run-local.sh"], cwd=checkout, env=env, stdout=output,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            wait_until(lambda: "fraudsite is running" in log.read_text(), 300, "the first make run to be running",
                       interval=1)

            second = subprocess.run(["scripts/run-local.sh"], cwd=checkout, env=env, capture_output=True,
                                    text=True, timeout=120)
            said = second.stdout + second.stderr
            assert second.returncode != 0, said
            assert f"make run is already running on this stack ({state}): pid {first.pid}, since " in said
            assert f"To stop it: Ctrl-C in its terminal, or kill {first.pid}" in said
            assert "Traceback" not in said and "stopping" not in said and "[stack]" not in said, said
            assert all(_alive(pid) for pid in stack_pids.values()), "the second make run stopped the stack"
            assert first.poll() is None
            with urllib.request.urlopen(f"http://localhost:{web}/accounts/login/", timeout=5) as answer:
                assert answer.status == 200

            os.killpg(first.pid, signal.SIGINT)  # Ctrl-C in the first one's terminal
            assert first.wait(120) is not None
            assert "leaving the stack running" in log.read_text()
            assert {name: running_pid(name) for name in stack.started_processes()} == stack_pids, \
                "make run stopped or restarted a stack it had not started"
        finally:
            if first is not None and first.poll() is None:
                os.killpg(first.pid, signal.SIGTERM)
                first.wait(120)
            print(log.read_text()[-3000:] if log.exists() else "")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.stack
def test_a_compacted_topic_of_an_earlier_schema_is_rewritten_in_the_current_one_with_its_times(kafka, settings):
    """What lets a job of new SQL read users-config after an upgrade (localstack/upgrade.py): each
    key's latest record, in the current version, at the time it was written; a tombstone's key gone."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    from fraudsite.avro import PlainAvroCodec
    from fraudsite.kafka import client_config
    from fraudsite.topics import USERS_CONFIG
    from localstack.upgrade import upgrade_compacted_topic
    from tests.support.kafka import producer, unique

    settings.TOPIC_USERS_CONFIG = name = unique("users-config-upgrade")
    admin = AdminClient(client_config())
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1, config=USERS_CONFIG.config)])[name].result(15)
    earlier = PlainAvroCodec(USERS_CONFIG.previous_value_schema_paths[0], name)
    current_only = PlainAvroCodec(USERS_CONFIG.value_schema_path, name)
    old = {"first_name": "Old", "last_name": "Record", "max_speed": 500.0}
    send = producer()
    send.produce(name, key=b"old", value=earlier.encode(old))
    send.produce(name, key=b"gone", value=earlier.encode(old))
    send.produce(name, key=b"new", value=current_only.encode({**old, "first_name": "New"}))
    send.produce(name, key=b"gone", value=None)
    assert send.flush(10) == 0

    def records():
        consumer = Consumer(client_config(**{"group.id": unique("upgrade-check"), "enable.auto.commit": False}))
        try:
            end = consumer.get_watermark_offsets(TopicPartition(name, 0), timeout=10)[1]
            consumer.assign([TopicPartition(name, 0, 0)])
            found = []
            while len(found) < end:
                found += [m for m in consumer.consume(100, timeout=1) if not m.error()]
            return {m.key(): (m.value(), m.timestamp()[1]) for m in found}
        finally:
            consumer.close()

    before = records()
    assert upgrade_compacted_topic(USERS_CONFIG) == 2
    after = records()
    assert set(after) == {b"old", b"new"}
    assert current_only.decode(after[b"old"][0]) == {**USERS_CONFIG.codec().decode(before[b"old"][0]), "counter_rules": []}
    assert after[b"new"][0] == before[b"new"][0]
    assert {key: stamp for key, (_, stamp) in after.items()} == {key: before[key][1] for key in (b"old", b"new")}
    config = next(iter(admin.describe_configs([ConfigResource("topic", name)]).values())).result()
    assert {k: config[k].value for k in USERS_CONFIG.config} == USERS_CONFIG.config
    assert upgrade_compacted_topic(USERS_CONFIG) == 0  # all current: left alone
    admin.delete_topics([name])
