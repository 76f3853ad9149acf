"""The event clock runs once per deployment, against a real broker: a second clock stops and the
first keeps ticking; a clock that skipped the watch (two started at the same moment) fences the
older one, which stops. And the supervisor that starts it again when it exits."""

import os
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.conf import settings

from fraudsite.kafka import client_config
from fraudsite.supervisor import Supervisor
from tests.support import wait_until
from tests.support.kafka import create_topic, unique
from transactions import clock as event_clock

pytestmark = pytest.mark.stack


class Ticks:
    """Counts the ticks on a topic's partition 0 by the clock that wrote them (its header)."""

    def __init__(self, topic):
        self.consumer = Consumer(client_config(**{"group.id": unique("ticks"), "enable.auto.commit": False,
                                                  "isolation.level": "read_committed"}))
        self.consumer.assign([TopicPartition(topic, 0, 0)])
        self.by_clock = {}

    def read(self):
        """The counts so far, after what is there now (a clock ticking every 20 ms never lets a
        poll come back empty: read what one fetch brings, until a batch is not full)."""
        while True:
            messages = self.consumer.consume(1000, timeout=0.3)
            for message in messages:
                if not message.error():
                    name = dict(message.headers() or [])[event_clock.HEADER].decode()
                    self.by_clock[name] = self.by_clock.get(name, 0) + 1
            if len(messages) < 1000:
                return dict(self.by_clock)

    def close(self):
        self.consumer.close()


def clock_process(topic, transactional):
    return subprocess.Popen(
        [sys.executable, "manage.py", "event_clock", "--interval-ms", "20"], cwd=settings.BASE_DIR,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS, "TOPIC_CARD_TRANSACTIONS": topic,
             "EVENT_CLOCK_TRANSACTIONAL": str(transactional)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@contextmanager
def first_clock(partitions, transactional):
    """A clock process ticking a new topic: yields (topic, its Ticks, the process, its name)."""
    topic = create_topic(unique("clock"), partitions=partitions)
    ticks = Ticks(topic)
    process = clock_process(topic, transactional)
    try:
        (name,) = wait_until(ticks.read, 60, "the first clock's ticks", until=lambda seen: len(seen) == 1)
        yield topic, ticks, process, name
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=30)
        ticks.close()


@pytest.mark.parametrize("transactional", [False, True], ids=["local", "transactional"])
def test_a_second_clock_stops_and_the_first_keeps_ticking(broker, transactional):
    with first_clock(partitions=2, transactional=transactional) as (topic, ticks, first, first_name):
        second = clock_process(topic, transactional)
        output = second.communicate(timeout=60)[0]
        assert second.returncode == event_clock.EXIT_ANOTHER_CLOCK, output
        assert f"another event clock ({first_name}) is ticking {topic}: this one stops" in output
        before = ticks.read()[first_name]
        after = wait_until(ticks.read, 30, "more ticks from the first clock after the second stopped",
                           until=lambda seen: seen[first_name] > before + 10)
        assert list(after) == [first_name]  # the second never ticked
        assert first.poll() is None
    assert first.returncode == 0  # stopped by SIGTERM, as a supervisor stops it


def test_a_clock_started_at_the_same_moment_fences_the_older_one_which_stops(broker):
    with first_clock(partitions=1, transactional=True) as (topic, ticks, older, older_name):
        # As if both had watched at once and seen nothing: the newer one takes the transactional id.
        newer = event_clock.run_in_thread(watch=False, topic=topic, interval_ms=20, transactional=True)
        try:
            output = older.communicate(timeout=60)[0]
            assert older.returncode == event_clock.EXIT_ANOTHER_CLOCK, output
            assert "fenced: another event clock took transactional id" in output
            before = ticks.read().get(newer.name, 0)
            seen = wait_until(ticks.read, 30, "the newer clock ticking on",
                              until=lambda seen: seen.get(newer.name, 0) > before + 10)
            assert newer.error is None and set(seen) == {older_name, newer.name}
        finally:
            newer.stop()


def test_the_clock_command_refuses_a_bad_interval():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="between 1 and 60000"):
        call_command("event_clock", interval_ms=0)


def test_the_supervisor_starts_a_command_again_until_it_is_stopped(tmp_path):
    runs = tmp_path / "runs"
    supervisor = Supervisor(["sh", "-c", f"echo run >> {runs}; exit 1"], "failing", min_delay=0, say=lambda m: None)

    def stop_after_three(_delay):
        if runs.read_text().count("run") >= 3:
            supervisor.stop()
        return supervisor.stopped.is_set()

    supervisor.stopped.wait = stop_after_three
    supervisor.run()
    assert supervisor.starts == 3 and runs.read_text().count("run") == 3


def test_the_supervisor_stops_its_command_and_reports_restarts(tmp_path):
    said = []
    supervisor = Supervisor(["sleep", "60"], "sleeper", say=said.append)
    thread = threading.Thread(target=supervisor.run)
    thread.start()
    wait_until(lambda: supervisor.process is not None and supervisor.process.poll() is None, 10, "the command")
    supervisor.stop()
    thread.join(30)
    assert not thread.is_alive() and supervisor.process.returncode is not None and supervisor.starts == 1
    assert said == []  # stopped on purpose: no restart
