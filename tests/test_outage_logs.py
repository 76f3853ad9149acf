"""Quiet, useful logs during outages: the first failure, then one line a minute with a count, and
one line when it is over, for librdkafka's connection errors (per client and per broker) and for the
database outages of the verdict worker (tests/test_worker.py), the outbox publisher and the
webhook deliverer. A real broker stopped for 15 s is a handful of lines, not hundreds."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import OperationalError

from fraudsite import service
from fraudsite.outages import BrokerOutages, Outage, RepeatedLines
from outbox import publisher
from tests.support.waiting import wait_until
from webhooks import deliveries


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_outage_is_its_first_failure_a_line_a_minute_and_its_end(caplog):
    clock, logger = Clock(), logging.getLogger("test.outage")
    caplog.set_level(logging.INFO, logger="test.outage")
    outage = Outage(logger, "the database", clock=clock)
    for _ in range(1000):  # one failure every 150 ms for 150 s
        outage.failed("database unavailable (%s)", "refused")
        clock.now += 0.15
    outage.recovered()
    outage.recovered()  # once only
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable (refused)",
        "database unavailable (refused) (failing for 60 s; 399 more like this in the last 60 s not logged)",
        "database unavailable (refused) (failing for 120 s; 399 more like this in the last 60 s not logged)",
        "the database again after 150 s (1000 failures, 3 of them logged)",
    ]


def librdkafka_record(client, thread, text, level=logging.ERROR):
    """A record as confluent-kafka logs librdkafka's lines: args (facility, client name, text)."""
    return logging.LogRecord("fraudsite.librdkafka", level, __file__, 0, "%s [%s] %s",
                             ("FAIL", client, f"[thrd:{thread}]: {text}"), None)


def test_librdkafka_errors_are_rate_limited_per_client_and_broker_and_the_return_is_said_once(caplog):
    clock, up = Clock(), set()
    limiter = BrokerOutages(clock=clock, probe_every=0.05, reachable=lambda address: address in up)
    caplog.set_level(logging.INFO, logger="fraudsite.librdkafka")
    passed = []
    for _ in range(600):  # 30 s of a connection refused every 50 ms, from two clients, to two brokers
        for client in ("rdkafka#consumer-1", "rdkafka#producer-2"):
            for broker in ("localhost:9092", "localhost:9093"):
                for thread, text in ((f"{broker}/bootstrap", f"{broker}/bootstrap: Connect to ipv4#127.0.0.1 failed: "
                                                             f"Connection refused (after 0ms in state CONNECT)"),
                                     ("GroupCoordinator", f"GroupCoordinator: {broker}: Connect to ipv4#127.0.0.1 "
                                                          f"failed: Connection refused")):
                    record = librdkafka_record(client, thread, text)
                    if limiter.filter(record):
                        passed.append(record.getMessage())
        clock.now += 0.05
    clock.now += 31  # a minute after the first: one summary line each
    record = librdkafka_record("rdkafka#consumer-1", "localhost:9092/1", "localhost:9092/1: Connect to x failed")
    assert limiter.filter(record) and "failing for 61 s; 1199 more like this in the last 61 s" in record.getMessage()
    assert len(passed) == 4 and all("Connection refused" in line for line in passed)  # a first per client and broker
    # An idle connection closed (below ERROR) while nothing is down is no outage, and passes.
    assert limiter.filter(librdkafka_record("rdkafka#x", "localhost:9094/1", "localhost:9094/1: Disconnected",
                                            logging.INFO))

    clock.now += 3  # no failure for 3 s: the broker is tried
    up.add("localhost:9092")
    wait_until(lambda: [r.getMessage() for r in caplog.records if "again" in r.getMessage()], 5,
               "the brokers' return to be logged", until=lambda lines: len(lines) == 2)
    time.sleep(0.3)  # no repetition
    returns = sorted(r.getMessage() for r in caplog.records if "again" in r.getMessage())
    assert returns == [
        "rdkafka#consumer-1: broker localhost:9092 reachable again after 64 s: reconnected "
        "(1201 connection errors, 2 of them logged)",
        "rdkafka#producer-2: broker localhost:9092 reachable again after 64 s: reconnected "
        "(1200 connection errors, 1 of them logged)",
    ]
    assert set(limiter.outages) == {("rdkafka#consumer-1", "localhost:9093"), ("rdkafka#producer-2", "localhost:9093")}


def test_repeated_lines_of_a_logger_that_never_says_an_outage_ended():
    """psycopg's pool logs every failed attempt to reconnect to PostgreSQL."""
    clock = Clock()
    limiter = RepeatedLines(clock=clock)

    def passes():
        record = logging.LogRecord("psycopg.pool", logging.WARNING, __file__, 0, "error connecting in %r: %s",
                                   ("pool-1", "refused"), None)
        return limiter.filter(record)

    assert [passes() for _ in range(5)] == [True, False, False, False, False]
    clock.now += 61
    assert passes()
    clock.now += 120  # a quiet couple of minutes: the next outage's first line is logged
    assert passes() and not passes()


def _loop_through_a_database_outage(monkeypatch, module, function, loop, failures_wanted=300):
    """Run loop.run() in a thread while `function` of `module` raises OperationalError failures_wanted
    times; return the loop's logged lines."""
    failures = []

    def failing():
        if len(failures) < failures_wanted:
            failures.append(1)
            raise OperationalError("connection refused")
        loop.stop()
        return 0, 0

    monkeypatch.setattr(module, function, failing)
    monkeypatch.setattr(service, "connection", type("Closed", (), {"close": staticmethod(lambda: None)}))
    loop.max_backoff_seconds = 0
    thread = threading.Thread(target=loop.run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and len(failures) == failures_wanted


def test_the_outbox_publisher_logs_a_database_outage_at_its_start_and_end(monkeypatch, caplog):
    monkeypatch.setattr(publisher, "prune_sent", lambda: 0)
    caplog.set_level(logging.INFO, logger="fraudsite.outbox")
    _loop_through_a_database_outage(monkeypatch, publisher, "publish_all_pending", publisher.Publisher(poll_seconds=0))
    lines = [r.getMessage() for r in caplog.records if "database" in r.getMessage()]
    assert lines == ["database unavailable (connection refused)",
                     lines[1]] and lines[1].startswith("the database again after")


def test_the_webhook_deliverer_logs_a_database_outage_at_its_start_and_end(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=deliveries.logger.name)
    _loop_through_a_database_outage(monkeypatch, deliveries, "deliver_due", deliveries.Deliverer(poll_seconds=0))
    lines = [r.getMessage() for r in caplog.records if "database" in r.getMessage()]
    assert lines == ["database unavailable (connection refused)",
                     lines[1]] and lines[1].startswith("the database again after")


@pytest.mark.stack
@pytest.mark.destructive
@pytest.mark.django_db(transaction=True)
def test_a_broker_stopped_for_15_s_is_a_handful_of_log_lines(stack, tmp_path):
    """The verdict worker and the outbox publisher (with a customer change to send), as make run
    starts them, while the broker is stopped for 15 s: before, 1,030 lines of "Connection refused"
    in 30 s; now the first per client and broker, one line a minute at most, and one "reachable
    again" each."""
    from localstack.kafka import start_kafka
    from tests.support.kafka import group_at_end, unique, wait_until_group_stable
    from outbox.models import OutboxMessage
    from tests.support.site import database_url
    from users.models import Customer

    group = group_at_end(unique("outage-logs"), settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
    env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO"}
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "outbox")}
    commands = {"worker": ["consume_verdicts", "--group", group], "outbox": ["publish_outbox"]}
    processes = {}
    for name, args in commands.items():
        with open(logs[name], "w") as output:
            processes[name] = subprocess.Popen([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
                                               stdout=output, stderr=subprocess.STDOUT)
    customer = Customer.objects.create(user_id=unique("outage-logs"), first_name="Out", last_name="Age", max_speed=10)
    change = OutboxMessage.objects.filter(key=customer.user_id)
    try:
        wait_until_group_stable(group)
        wait_until(lambda: change.filter(sent_at=None).count() == 0, 30, "the publisher to send the customer")
        before = {name: len(log.read_text().splitlines()) for name, log in logs.items()}
        stack.stop({"kafka"})
        customer.max_speed = 20  # a change to publish while the broker is down
        customer.save()
        time.sleep(15)
        start_kafka()
        wait_until(lambda: all("reachable again" in log.read_text() for log in logs.values()), 60,
                   "each process to log the broker's return", interval=0.5)
        wait_until(lambda: change.filter(sent_at=None).count() == 0, 60, "the change made during the outage sent")
        time.sleep(3)  # anything more it would say
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            process.wait(60)
    during = {name: log.read_text().splitlines()[before[name]:] for name, log in logs.items()}
    print({name: "\n".join(lines) for name, lines in during.items()})
    for name, lines in during.items():
        kafka_lines = [line for line in lines if "fraudsite.librdkafka" in line]
        assert len(kafka_lines) <= 6, (name, kafka_lines)
        assert sum("reachable again" in line for line in kafka_lines) == 1, (name, kafka_lines)
        assert len(lines) <= 10, (name, lines)
