"""Failure scenarios against the real stack (slow; CI runs them)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from fraudsite import flink_client
from localstack import flink
from localstack.kafka import start_kafka
from localstack.layout import paths
from tests.support import wait_until
from tests.support.kafka import group_at_end, unique, wait_until_group_stable
from tests.support.pipeline import Pipeline, wait_until_customers_read
from tests.support.site import database_url
from transactions import simulator
from transactions.models import Verdict
from users.models import Customer
from outbox.publisher import publish_all_pending

pytestmark = [pytest.mark.stack, pytest.mark.destructive, pytest.mark.django_db(transaction=True)]


def test_a_killed_taskmanager_recovers_and_every_transaction_has_exactly_one_verdict(
        stack, django_capture_on_commit_callbacks):
    user_ids = [unique("tm") for _ in range(20)]
    for user_id in user_ids:
        Customer.objects.create(user_id=user_id, first_name="T", last_name="M", max_speed=900)
    assert publish_all_pending() == (20, 0)
    wait_until_customers_read()  # the job has read the customers' limits
    group = group_at_end(unique("reliability"), settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
    worker = subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", "--group", group],
                              cwd=settings.BASE_DIR, env={**os.environ, "DATABASE_URL": database_url()},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent_ids = []
    traffic = threading.Thread(target=simulator.run, args=(user_ids, 3000),
                               kwargs={"rate": 150, "on_send": lambda record: sent_ids.append(record["transaction_id"])})
    try:
        (job,) = [job for job in flink_client.detection_jobs() if job["state"] == "RUNNING"]
        completed = lambda: flink_client.flink_rest(f"/jobs/{job['jid']}/checkpoints")["counts"]["completed"]
        before = completed()
        traffic.start()
        wait_until(completed, 30, "a checkpoint to complete under traffic", until=lambda count: count > before,
                   interval=0.5)
        time.sleep(2)  # deliberate: traffic after the checkpoint, which the restore must replay without duplicates
        taskmanager = int(paths().pidfile("flink-taskmanager").read_text())
        os.kill(taskmanager, signal.SIGKILL)  # mid-stream, after a checkpoint
        # Gone (and reaped) before start_flink looks, or it would take the dying one for running.
        wait_until(lambda: "flink-taskmanager" not in stack.started_processes(), 10, "the killed TaskManager to be gone")
        flink.start_flink()  # a new TaskManager; the job restores from its last checkpoint
        traffic.join()
        ours = Verdict.objects.filter(user_id__in=user_ids)
        wait_until(ours.count, 180, "every transaction's verdict", until=lambda count: count >= len(sent_ids),
                   interval=0.5)
        time.sleep(3)  # deliberate observation window: duplicates re-emitted after the restore would land now
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)

    assert len(sent_ids) == 3000
    assert sorted(ours.values_list("transaction_id", flat=True)) == sorted(sent_ids)  # one row each, none extra
    assert flink_client.flink_rest(f"/jobs/{job['jid']}/checkpoints")["counts"]["restored"] >= 1  # it did recover
    # and it is live again: a burst sharing one broker millisecond after the storm gets every
    # verdict with no traffic after it (nothing held behind the restored job's watermark).
    pipeline = Pipeline()
    try:
        burst, _ = pipeline.one_request_burst(user_ids[:5], per_customer=4)
        verdicts = pipeline.verdicts(burst, timeout=90)
    finally:
        pipeline.close()
    assert {verdict["user_id"] for verdict in verdicts} == set(user_ids[:5])


def test_a_kafka_outage_loses_nothing_and_everything_resumes_by_itself(stack, settings, client, admin_user):
    """The broker stops while customers are edited and transactions submitted. The site says so
    (503, unsynced customers) and reports nothing as sent; after the broker returns, every
    customer change reaches users-config (latest value wins) and the worker and the Flink job
    carry on without being restarted."""
    from django.urls import reverse

    from fraudsite.topics import USERS_CONFIG
    from outbox.publisher import publish_all_pending
    from tests.support.kafka import latest_records
    from transactions.models import Transaction

    settings.KAFKA_DELIVERY_TIMEOUT_MS = 2000
    customer = Customer.objects.create(user_id=unique("outage"), first_name="Out", last_name="Age", max_speed=10)
    publish_all_pending()
    group = group_at_end(unique("outage"), settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
    worker = subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", "--group", group],
                              cwd=settings.BASE_DIR, env={**os.environ, "DATABASE_URL": database_url()},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client.force_login(admin_user)
    body = {"user_id": customer.user_id, "amount": 5, "lat": 48.85, "lng": 2.35}
    try:
        wait_until_group_stable(group)  # the worker is in its group
        stack.stop({"kafka"})

        for speed in (20, 30):  # edited twice while the broker is down
            customer.max_speed = speed
            customer.save()
        assert publish_all_pending() == (0, 2)  # both edits kept in the outbox
        assert customer.sync_state == Customer.SyncState.FAILED
        response = client.post(reverse("api-transactions"), body, content_type="application/json")
        assert response.status_code == 503 and "nothing was sent" in response.json()["error"]
        assert not Transaction.objects.exists()

        start_kafka()
        assert publish_all_pending() == (2, 0)  # both edits, in order: the latest wins
        (value, _), *_ = reversed(latest_records(settings.TOPIC_USERS_CONFIG, customer.user_id))
        assert USERS_CONFIG.codec().decode(value)["max_speed"] == 30.0

        wait_until_customers_read(timeout=120)  # the job, once reconnected, has read the new limit
        accepted = client.post(reverse("api-transactions"), body, content_type="application/json")
        assert accepted.status_code == 202
        transaction_id = accepted.json()["transaction_id"]
        stored = Verdict.objects.filter(transaction_id=transaction_id)
        wait_until(stored.exists, 180, "the verdict stored by the worker that lived through the outage", interval=0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    assert worker.returncode == 0
    verdict = stored.get()
    assert Transaction.objects.get(transaction_id=transaction_id).verdict == verdict
    assert verdict.max_speed == 30.0  # the change made during the outage is the one in force


# RELIABILITY_LOAD="100,200,60" (clients, transactions/s, seconds) for the full figures of RELIABILITY.md.
LOAD_CLIENTS, LOAD_RATE, LOAD_SECONDS = (int(n) for n in os.environ.get("RELIABILITY_LOAD", "20,50,10").split(","))


@pytest.mark.django_db(transaction=True)
def test_every_connected_client_gets_every_verdict_under_load(live_site, tmp_path):
    import asyncio

    from tests.support.websocket_clients import operator_cookies, stream_to_clients

    user_ids = [unique("load") for _ in range(50)]
    Customer.objects.bulk_create([Customer(user_id=u, first_name="L", last_name="D", max_speed=900) for u in user_ids])

    sent_ids, acknowledged, received = asyncio.run(stream_to_clients(live_site, operator_cookies(LOAD_CLIENTS), user_ids,
                                                                     LOAD_RATE, LOAD_SECONDS, wait=60))

    assert acknowledged == len(sent_ids) == LOAD_RATE * LOAD_SECONDS
    assert [len(set(sent_ids) - set(into)) for into in received] == [0] * LOAD_CLIENTS  # nobody missed a verdict
    log = (tmp_path / "site.log").read_text()
    assert "Traceback" not in log and '" 500 ' not in log  # no server errors
