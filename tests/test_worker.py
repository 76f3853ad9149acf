"""consume_verdicts against a real broker, real PostgreSQL and a real Redis channel layer."""

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import OperationalError, connection

from alerts.models import Alert
from fraudsite.asgi import application
from fraudsite.topics import CARD_TRANSACTIONS, VERDICTS
from tests.support import wait_until
from tests.support.kafka import create_topic, producer, unique
from tests.support.pipeline import LONDON_PARIS, Pipeline
from tests.support.records import verdict_record
from tests.support.site import database_url
from tests.support.websocket_clients import COMMUNICATOR_TIMEOUT, session_headers
from transactions import worker as worker_module
from transactions.models import DeadLetter, Verdict, VerdictConflict
from transactions.worker import Options, Worker
from users.models import Customer
from outbox.publisher import publish_all_pending
from webhooks.models import Delivery, Endpoint

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def malformed_records(codec):
    """(key, value) pairs the worker must dead-letter, one of each kind."""
    other_schema = CARD_TRANSACTIONS.codec().encode(
        {"timestamp": 1, "transaction_id": "x", "lat": 1.0, "lng": 2.0, "amount": 3.0})
    return [
        (b"user_x", bytes(random.getrandbits(8) for _ in range(40))),      # random bytes
        (b"user_x", other_schema),                                          # another schema
        (None, codec.encode(verdict_record("user_x", unique("nokey")))),   # missing key
        (b"user_x", codec.encode(verdict_record("user_x", "t" * 500))),     # oversized field
        (b"someone_else", codec.encode(verdict_record("user_x", unique("k")))),  # key and body disagree
        (b"user_x", None),                                                  # no value
    ]


@pytest.fixture
def verdict_topic(stack, settings):
    """A fresh enriched topic for this test, so counts are exact."""
    settings.TOPIC_CARD_TRANSACTIONS_ENRICHED = create_topic(unique("enriched"), partitions=2)
    return settings.TOPIC_CARD_TRANSACTIONS_ENRICHED


def fill(topic, good, bad_every=None):
    """Produce `good` verdict records, with a malformed one after every `bad_every`; returns (good ids, bad count)."""
    codec = VERDICTS.codec(topic)
    kafka, ids, bad = producer(), [], 0
    malformed = malformed_records(codec)
    for i in range(good):
        user_id = f"user_{i % 7}"
        transaction_id = unique("tx")
        kafka.produce(topic, key=user_id.encode(), value=codec.encode(verdict_record(user_id, transaction_id, is_fraud=i % 3 == 0, status="FRAUD" if i % 3 == 0 else "VALID")))
        ids.append(transaction_id)
        if bad_every and i % bad_every == 0:
            key, value = malformed[bad % len(malformed)]
            kafka.produce(topic, key=key, value=value)
            bad += 1
        if i % 1000 == 0:
            kafka.poll(0)
    kafka.flush(30)
    return ids, bad


def test_good_records_become_verdicts_and_malformed_ones_dead_letters(verdict_topic):
    ids, bad = fill(verdict_topic, good=60, bad_every=5)

    counters = Worker(Options(group_id=unique("g"), idle_timeout=3, batch_size=16)).run()

    assert set(Verdict.objects.values_list("transaction_id", flat=True)) == set(ids)
    assert DeadLetter.objects.count() == bad == 12
    assert (counters.stored, counters.dead_lettered) == (60, 12)
    letter = DeadLetter.objects.filter(key=None).first()
    assert letter.topic == verdict_topic and "no key" in letter.error and letter.value
    assert {l.error.split(":")[0] for l in DeadLetter.objects.all()} >= {"record has no key (user_id)", "record has no value"}
    verdict = Verdict.objects.get(transaction_id=ids[0])
    assert (verdict.kafka_topic, verdict.status, verdict.is_fraud) == (verdict_topic, "FRAUD", True)

    # Replaying everything (a new group reads from the start) changes nothing.
    Worker(Options(group_id=unique("g"), idle_timeout=3)).run()
    assert Verdict.objects.count() == 60 and DeadLetter.objects.count() == 12


def test_a_database_outage_is_waited_out_without_losing_the_batch(verdict_topic, monkeypatch, caplog):
    """300 failed attempts to store a batch: nothing is lost, and the log has the outage's first
    failure and its end ("again after N s"), not a line per retry."""
    ids, _ = fill(verdict_topic, good=5)
    real_store, failures = worker_module.store_rows, []

    def store_failing(rows, dead_letters):
        if len(failures) < 300:
            failures.append(1)
            raise OperationalError("connection refused")
        return real_store(rows, dead_letters)

    monkeypatch.setattr(worker_module, "store_rows", store_failing)
    monkeypatch.setattr(Worker, "max_backoff_seconds", 0)  # retry at once
    caplog.set_level(logging.INFO, logger="fraudsite.worker")
    Worker(Options(group_id=unique("g"), idle_timeout=3)).run()

    assert len(failures) == 300
    assert set(Verdict.objects.values_list("transaction_id", flat=True)) == set(ids)
    lines = [r.getMessage() for r in caplog.records if "database" in r.getMessage()]
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unavailable (connection refused); retrying the batch of ")
    assert lines[1].startswith("the database again after") and lines[1].endswith("(300 failures, 1 of them logged)")


def worker_process(topic, *args):
    """`manage.py consume_verdicts` as a separate process on this test's database."""
    env = {**os.environ, "TOPIC_CARD_TRANSACTIONS_ENRICHED": topic,
           "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO"}
    return subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", *args], cwd=settings.BASE_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL (make test sets it): workers share the database")


# RELIABILITY_VERDICTS=50000 for the full count of RELIABILITY.md; CI uses the default.
STREAMED_VERDICTS = int(os.environ.get("RELIABILITY_VERDICTS", "10000"))


def test_sigkill_at_random_points_while_verdicts_stream_in_leaves_exact_counts(verdict_topic, postgres_only):
    seed = random.randrange(1_000_000)
    chooser = random.Random(seed)
    streamed = {"ids": [], "bad": 0}

    def stream():  # chunks of 1,000 (5 of them poison) with pauses: verdicts keep arriving during the kills
        for _ in range(STREAMED_VERDICTS // 1000):
            ids, bad = fill(verdict_topic, good=1000, bad_every=200)
            streamed["ids"] += ids
            streamed["bad"] += bad
            time.sleep(0.2)  # a pause between chunks, so that the kills fall while verdicts still arrive

    streamer = threading.Thread(target=stream)
    streamer.start()
    group, kills = unique("g"), 0
    for fraction in sorted(chooser.uniform(0.05, 0.8) for _ in range(3)):
        worker = worker_process(verdict_topic, "--group", group, "--batch-size", "500")
        try:
            wait_until(Verdict.objects.count, 60, f"{fraction:.0%} of the verdicts stored (seed {seed})",
                       until=lambda stored: stored >= fraction * STREAMED_VERDICTS, interval=0.02)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        kills += 1
    streamer.join()

    last = worker_process(verdict_topic, "--group", group, "--idle-timeout", "5")
    output, _ = last.communicate(timeout=600)
    assert last.returncode == 0, output

    assert kills == 3
    assert len(streamed["ids"]) == STREAMED_VERDICTS, f"seed {seed}"
    assert Verdict.objects.count() == STREAMED_VERDICTS, f"seed {seed}"
    assert set(Verdict.objects.values_list("transaction_id", flat=True)) == set(streamed["ids"]), f"seed {seed}"
    assert DeadLetter.objects.count() == streamed["bad"], f"seed {seed}"


def test_sigterm_finishes_the_batch_and_commits(verdict_topic, postgres_only):
    ids, _ = fill(verdict_topic, good=2000)
    group = unique("g")
    process = worker_process(verdict_topic, "--group", group, "--batch-size", "200")
    try:
        wait_until(Verdict.objects.count, 60, "the worker's first stored verdicts", interval=0.05)
    finally:
        process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    stored = Verdict.objects.count()
    # What was stored was committed: a restart in the same group reads only the rest.
    counters = Worker(Options(group_id=group, idle_timeout=3)).run()
    assert counters.consumed == len(ids) - stored
    assert Verdict.objects.count() == len(ids)


def operator_headers(client, django_user_model):
    user = django_user_model.objects.create_user(username=unique("op"), password="x", is_superuser=True)
    return session_headers(client, user)


def test_a_websocket_client_in_the_operators_group_receives_every_stored_verdict(
        verdict_topic, postgres_only, client, django_user_model):
    assert "RedisChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"], "make test sets REDIS_URL"
    headers = operator_headers(client, django_user_model)
    ids, _ = fill(verdict_topic, good=40, bad_every=10)

    async def listen():
        communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
        connected, _ = await communicator.connect(COMMUNICATOR_TIMEOUT)
        assert connected
        from asgiref.sync import sync_to_async
        process = await sync_to_async(worker_process)(verdict_topic, "--idle-timeout", "3")
        messages = []
        while len(messages) < len(ids):
            messages.extend(await communicator.receive_json_from(timeout=30))  # a frame per stored batch
        await communicator.disconnect(timeout=COMMUNICATOR_TIMEOUT)
        await sync_to_async(process.communicate)(timeout=60)
        return messages

    messages = async_to_sync(listen)()

    assert sorted(m["transaction_id"] for m in messages) == sorted(ids)
    assert all(m["type"] == "verdict" for m in messages)
    assert all(m["alert"] is m["is_fraud"] for m in messages)
    assert sum(m["alert"] for m in messages) == Verdict.objects.filter(is_fraud=True).count() > 0


def test_verdicts_from_the_real_job_are_stored_and_linked_to_the_customer(stack, django_capture_on_commit_callbacks):
    pipeline = Pipeline()
    try:
        customer = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="W", max_speed=10)
        assert publish_all_pending() == (1, 0)
        pipeline.wait_until_customers_read()  # the job has read the customer's settings
        first = pipeline.transaction(customer.user_id, *LONDON_PARIS[0])
        second = pipeline.transaction(customer.user_id, *LONDON_PARIS[1], offset_ms=3600_000)
        pipeline.verdicts([first, second])
    finally:
        pipeline.close()

    Worker(Options(group_id=unique("g"), idle_timeout=3)).run()

    stored = Verdict.objects.get(transaction_id=second)
    assert (stored.customer, stored.status, stored.prev_transaction_id) == (customer, "FRAUD", first)
    assert stored.speed_kmh == pytest.approx(343.5, rel=1e-2)


def test_the_orm_path_for_other_databases_stores_and_links_the_same(verdict_topic, monkeypatch):
    from transactions import verdicts

    monkeypatch.setattr(verdicts, "_store_postgresql", verdicts._store_generic)
    customer = Customer.objects.create(user_id="user_3", first_name="Nina", last_name="L", max_speed=1000)
    ids, bad = fill(verdict_topic, good=30, bad_every=10)

    for _ in range(2):  # the second pass replays everything: nothing changes
        Worker(Options(group_id=unique("g"), idle_timeout=2)).run()

    assert Verdict.objects.count() == 30 and DeadLetter.objects.count() == bad
    assert Verdict.objects.filter(user_id="user_3").exclude(customer=customer).count() == 0
    assert Verdict.objects.filter(customer=customer).exists()


def test_a_redelivered_verdict_never_changes_the_stored_one_and_a_differing_one_is_kept_as_a_conflict(
        verdict_topic, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="fraudsite.verdicts")
    customer = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="W", max_speed=10)
    codec, kafka, positions = VERDICTS.codec(verdict_topic), producer(), []
    valid, fraud = unique("tx"), unique("tx")
    fraud_fields = dict(status="FRAUD", is_fraud=True, reason="speed_above_limit", reasons="speed_above_limit",
                        speed_kmh=343.5, score=100.0, outcome="decline")

    def send(record):
        kafka.produce(verdict_topic, key=record["user_id"].encode(), value=codec.encode(record),
                      on_delivery=lambda error, message: positions.append((message.partition(), message.offset())))
        kafka.flush(10)

    send(verdict_record(customer.user_id, valid))
    send(verdict_record(customer.user_id, fraud, **fraud_fields))
    group = unique("g")
    Worker(Options(group_id=group, idle_timeout=2)).run()
    stored = {row["transaction_id"]: row for row in Verdict.objects.values()}
    assert list(Alert.objects.values_list("verdict__transaction_id", flat=True)) == [fraud]
    # Subscribed only now: a delivery could only come from a redelivery.
    Endpoint.objects.create(url="http://127.0.0.1:9/hooks", event_types=["verdict"])

    differing = verdict_record(customer.user_id, valid, **fraud_fields)  # the job changed its mind
    send(differing)
    send(verdict_record(customer.user_id, fraud, **fraud_fields))  # the same verdict again
    counters = Worker(Options(group_id=group, idle_timeout=2)).run()

    assert counters.consumed == 2 and counters.stored == 0
    assert {row["transaction_id"]: row for row in Verdict.objects.values()} == stored  # unchanged, to the offset
    conflict = VerdictConflict.objects.get()  # one: the identical redelivery is none
    assert (conflict.transaction_id, conflict.verdict_id, conflict.record) == (
        valid, stored[valid]["id"], codec.decode(codec.encode(differing)))
    assert (conflict.kafka_topic, conflict.kafka_partition, conflict.kafka_offset) == (verdict_topic, *positions[2])
    assert list(Alert.objects.values_list("verdict__transaction_id", flat=True)) == [fraud]  # no second alert
    assert not Delivery.objects.exists()  # no webhook for a verdict not stored
    (warning,) = [record.getMessage() for record in caplog.records if record.name == "fraudsite.verdicts"]
    assert valid in warning and '"status": "VALID"' in warning and '"status": "FRAUD"' in warning


def test_an_idle_worker_logs_its_progress_once_not_every_interval(verdict_topic, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="fraudsite.worker")
    fill(verdict_topic, good=5)
    Worker(Options(group_id=unique("g"), idle_timeout=2.5, report_every=0.5)).run()

    counts = [r.getMessage().split(",")[0] for r in caplog.records if r.getMessage().startswith("consumed")]
    # Idle for about 2 s at a 0.5 s interval: the same counters are not logged again and again.
    assert counts and counts[-1] == "consumed 5" and len(counts) == len(set(counts)), counts

