"""The local streaming stack's commands: up, down and status of Apache Kafka (KRaft, single node), the
event-time clock and an Apache Flink session cluster running the detection SQL, as plain processes."""

import shutil
import sys

from django.conf import settings

from fraudsite.flink_client import detection_jobs, flink_overview
from fraudsite.kafka import broker_reachable

from . import owner as ownership
from .artifacts import require_java
from .flink import expected_job_name, start_flink, submit_detection_job, suspend_detection_job
from .kafka import start_kafka
from .layout import paths
from .messages import say
from .processes import running_pid, spawn, stop_process


def start_clock():
    """The event-time clock (transactions/clock.py), part of the stack like the broker and Flink,
    under the supervisor that starts it again if it exits (fraudsite/supervisor.py)."""
    if running_pid("event-clock"):
        say(f"event-time clock already running (pid {running_pid('event-clock')})")
        return
    supervisor = [sys.executable, str(settings.BASE_DIR / "fraudsite" / "supervisor.py"), "--name", "event-clock", "--"]
    pid = spawn("event-clock", [*supervisor, sys.executable, str(settings.BASE_DIR / "manage.py"), "event_clock"], env={
        "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
        "TOPIC_CARD_TRANSACTIONS": settings.TOPIC_CARD_TRANSACTIONS,
        "EVENT_TIME_TICK_MS": str(settings.EVENT_TIME_TICK_MS),
    })
    say(f"event-time clock ticking every {settings.EVENT_TIME_TICK_MS} ms (pid {pid})")


def up(owner=None):
    """Start what is not running. owner: the pid of the instance that claimed the stack directory
    (localstack.owner); the processes started here are recorded as its own, for down(owner=...)."""
    require_java()
    p = paths()
    p.state.mkdir(parents=True, exist_ok=True)
    before = started_processes()
    try:
        start_kafka()
        start_clock()
        start_flink()
        submit_detection_job()
    finally:
        if owner is not None:
            ownership.add_processes(owner, started_processes() - before)


def down(purge=False, owner=None):
    """Stop the stack directory's processes (those its pid files record and that still work in it).
    With owner (a pid), stop only what that owner started, and nothing when it owns nothing: an
    instance that found the stack running leaves it running."""
    names = started_processes()
    if owner is not None:
        record = ownership.owned_by(owner)
        if record is None:
            say(f"pid {owner} does not own the stack in {paths().state}: leaving it alone")
            return
        running, names = names, names & set(record["processes"])
        ownership.release(owner)
        if not names:
            if running:
                say("leaving the stack running: it was running before this instance started (make stack-down "
                    "stops it)")
            return
    if not purge and "flink-jobmanager" in names and flink_overview():
        suspend_detection_job()
    stop(names)
    if purge:
        shutil.rmtree(paths().state, ignore_errors=True)
        say(f"removed {paths().state}")
    left = started_processes()
    say("stack is down" if not left else
        f"stopped {', '.join(sorted(names))}; left running: {', '.join(sorted(left))}")


def status():
    """A dict describing the stack's processes, topics and jobs (`manage.py stack status` adds the
    database and how late verdicts are)."""
    from fraudsite.topics import topic_configs

    report = {"kafka_pid": running_pid("kafka"), "kafka_reachable": broker_reachable(), "topics": {}}
    if report["kafka_reachable"]:
        from confluent_kafka.admin import AdminClient

        from fraudsite.kafka import client_config

        existing = AdminClient(client_config()).list_topics(timeout=5).topics
        report["topics"] = {name: name in existing for name in topic_configs()}
    report["flink_jobmanager_pid"] = running_pid("flink-jobmanager")
    report["flink_taskmanager_pid"] = running_pid("flink-taskmanager")
    report["flink_web_ui"] = f"http://localhost:{settings.STACK_FLINK_REST_PORT}"
    report["detection_jobs"] = detection_jobs()
    report["expected_job"] = expected_job_name()
    report["event_clock_pid"] = running_pid("event-clock")
    report["logs"] = str(paths().logs)
    return report


STOP_ORDER = ("flink-taskmanager", "flink-jobmanager", "event-clock", "kafka")


def started_processes():
    """Names of the stack's processes that are running now (for callers that clean up after themselves)."""
    return {name for name in STOP_ORDER if running_pid(name)}


def stop(names):
    """Stop the given stack processes, Flink before the clock before Kafka."""
    for name in STOP_ORDER:
        if name in names:
            stop_process(name)
