"""Failure scenarios against the real stack (slow; CI runs them)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from tests.detection_helpers import Pipeline
from tests.kafka_helpers import group_at_end, unique
from tests.test_worker import database_url
from transactions import simulator
from transactions.models import Verdict
from users.models import Customer

pytestmark = [pytest.mark.stack, pytest.mark.destructive, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout} s")


def test_a_killed_taskmanager_recovers_and_every_transaction_has_exactly_one_verdict(
        stack, django_capture_on_commit_callbacks):
    user_ids = [unique("tm") for _ in range(20)]
    for user_id in user_ids:
        Customer.objects.create(user_id=user_id, first_name="T", last_name="M", max_speed=900)
    time.sleep(1.5)
    group = group_at_end(unique("reliability"), settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
    worker = subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", "--group", group],
                              cwd=settings.BASE_DIR, env={**os.environ, "DATABASE_URL": database_url()},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent_ids = []
    traffic = threading.Thread(target=simulator.run, args=(user_ids, 3000),
                               kwargs={"rate": 150, "on_send": lambda record: sent_ids.append(record["transaction_id"])})
    try:
        (job,) = [job for job in stack.detection_jobs() if job["state"] == "RUNNING"]
        completed = lambda: stack.flink_rest(f"/jobs/{job['jid']}/checkpoints")["counts"]["completed"]
        before = completed()
        traffic.start()
        wait_for(lambda: completed() > before, 30, "a checkpoint should complete under traffic")
        time.sleep(2)
        taskmanager = int(stack.paths().pidfile("flink-taskmanager").read_text())
        os.kill(taskmanager, signal.SIGKILL)  # mid-stream, after a checkpoint
        time.sleep(1)
        stack.start_flink()  # a new TaskManager; the job restores from its last checkpoint
        traffic.join()
        ours = Verdict.objects.filter(user_id__in=user_ids)
        wait_for(lambda: ours.count() >= len(sent_ids), 180, "every transaction should get its verdict")
        time.sleep(3)  # duplicates re-emitted after the restore would land now
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)

    assert len(sent_ids) == 3000
    assert sorted(ours.values_list("transaction_id", flat=True)) == sorted(sent_ids)  # one row each, none extra
    assert stack.flink_rest(f"/jobs/{job['jid']}/checkpoints")["counts"]["restored"] >= 1  # it did recover
    # and it is live again: a new transaction after the storm still gets its verdict.
    pipeline = Pipeline()
    try:
        (verdict,) = pipeline.verdicts([pipeline.transaction(user_ids[0], 10.0, 10.0)], timeout=90)
    finally:
        pipeline.close()
    assert verdict["user_id"] == user_ids[0]
