"""Replays run in a process of their own (proposals/replay_queue.py): the admin only queues, the
replay server claims and runs, two servers never take the same replay, and a replay whose process
died is marked failed with the reason. No stack here: where a test runs a replay, the Flink part
(replay_history) is a fake; the real replay is tests/test_replay.py's."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from proposals import replay
from proposals.models import Proposal
from proposals.replay_queue import STALE_SECONDS, Owner, ReplayServer, claim, fail_stopped_replays, queue_replay
from proposals.services import ProposalRefused, create_proposal
from tests.support.kafka import unique
from tests.support.reviews import user_with, verdict
from tests.support.site import database_url
from users.models import Customer


@pytest.fixture
def customer():
    return Customer.objects.create(user_id=unique("cust"), first_name="A", last_name="B", max_speed=500)


@pytest.fixture
def maker(django_user_model):
    return user_with(django_user_model, "add_proposal", "view_proposal", staff=True)


def draft(author, customer):
    return create_proposal(author=author, reason="lower", changes={customer.user_id: {"max_speed": 100}})


def running(proposal, host, pid, heartbeat_age=0):
    """As if a replay process (host, pid) had claimed it and was last heard of heartbeat_age s ago."""
    now = timezone.now()
    Proposal.objects.filter(pk=proposal.pk).update(
        status=Proposal.Status.REPLAYING, replay_host=host, replay_pid=pid, replay_started_at=now - timedelta(hours=1),
        replay_heartbeat_at=now - timedelta(seconds=heartbeat_age), replay_message="Flink: 10 of 20 judged")
    return Proposal.objects.get(pk=proposal.pk)


@pytest.fixture
def no_flink(monkeypatch):
    """Fails the test if anything starts the replay's Flink part."""
    def refuse(*args, **kwargs):
        raise AssertionError("a replay ran")
    monkeypatch.setattr(replay, "replay_history", refuse)


@pytest.mark.django_db
def test_the_replay_button_only_queues_the_replay(client, customer, maker, no_flink):
    proposal = draft(maker, customer)
    client.force_login(maker)
    threads_before = set(threading.enumerate())

    response = client.post(reverse("admin:proposals_proposal_replay", args=[proposal.pk]))

    assert response.status_code == 302
    assert set(threading.enumerate()) == threads_before  # no thread (and so no job) in the web process
    proposal.refresh_from_db()
    assert (proposal.status, proposal.replay_pid, proposal.replay_started_at) == ("queued", None, None)
    assert proposal.replay_queued_at is not None
    latest = proposal.history.first()
    assert (latest.history_change_reason, latest.history_user) == ("replay queued", maker)
    with pytest.raises(ProposalRefused, match="one replay at a time"):
        queue_replay(proposal, user=maker)  # once


@pytest.mark.django_db
def test_the_server_claims_the_oldest_queued_replay_runs_it_and_records_the_result(customer, maker, monkeypatch):
    hour_ago = timezone.now() - timedelta(hours=1)
    for offset, (transaction_id, status) in enumerate([("was-valid", "VALID"), ("was-fraud", "FRAUD")]):
        verdict(transaction_id, status, "within_limit" if status == "VALID" else "speed_above_limit",
                user_id=customer.user_id, received_at=hour_ago, timestamp=hour_ago, kafka_offset=offset)
    replayed_changes = []

    def fake_replay_history(changes, start, end, phases, fields, rules):  # the Flink part, as if lowering the limit did so
        replayed_changes.append(changes)
        phases.report(50, "Flink: judging")
        return {"was-valid": {"status": "FRAUD", "reasons": "speed_above_limit"},
                "was-fraud": {"status": "FRAUD", "reasons": "speed_above_limit"}}

    monkeypatch.setattr(replay, "replay_history", fake_replay_history)
    first, second = draft(maker, customer), draft(maker, customer)
    queue_replay(second, user=maker)
    queue_replay(first, user=maker)  # queued later: served second
    server = ReplayServer(poll_seconds=0)

    assert server.serve_one() is True

    served = Proposal.objects.get(pk=second.pk)
    assert (served.status, served.replay_progress, served.replay_message) == ("replayed", 100, "finished")
    assert (served.replay_result["alerts_before"], served.replay_result["alerts_after"]) == (1, 2)
    assert served.replay_result["gained"]["count"] == 1
    assert (served.replay_host, served.replay_pid) == (server.owner.host, os.getpid())
    assert [h.history_change_reason for h in served.history.order_by("history_id")][-2:] == [
        f"replay started by pid {os.getpid()} on host {server.owner.host}", "replayed"]
    assert replayed_changes == [second.changes]
    assert Proposal.objects.get(pk=first.pk).status == "queued"
    assert server.serve_one() is True and server.serve_one() is False  # the other, then nothing queued
    assert Proposal.objects.get(pk=first.pk).status == "replayed"


@pytest.mark.django_db
def test_a_server_told_to_stop_stops_its_replay_and_marks_it_failed(customer, maker, monkeypatch):
    server = ReplayServer(poll_seconds=0)

    def stopped_midway(changes, start, end, phases, fields, rules):
        server.stop()  # SIGTERM, as the command installs it
        phases.report(40, "Flink: judging")
        raise AssertionError("the replay went on")

    monkeypatch.setattr(replay, "replay_history", stopped_midway)
    proposal = queue_replay(draft(maker, customer), user=maker)

    server.run()  # returns: stopped

    proposal.refresh_from_db()
    assert proposal.status == "replay_failed"
    assert "the replay process was told to stop; queue the replay again" in proposal.replay_message


@pytest.mark.django_db(transaction=True)
def test_two_servers_never_take_the_same_replay(customer, maker):
    queued = {queue_replay(draft(maker, customer), user=maker).pk for _ in range(2)}
    first, second = Owner("host-a", 1001), Owner("host-b", 1002)
    claimed, first_holds_its_claim, release = {}, threading.Event(), threading.Event()

    def first_server():
        try:
            with transaction.atomic():  # holds its claim's row lock until released
                claimed[first] = claim(first)
                first_holds_its_claim.set()
                release.wait(30)
        finally:
            connection.close()

    def second_server():
        try:
            claimed[second] = claim(second)
        finally:
            connection.close()

    a = threading.Thread(target=first_server)
    a.start()
    assert first_holds_its_claim.wait(10)
    b = threading.Thread(target=second_server)
    b.start()
    b.join(10)
    waited = b.is_alive()  # blocked on the first server's row instead of skipping it
    release.set()
    a.join(10)
    b.join(10)

    assert not waited
    assert {claimed[first].pk, claimed[second].pk} == queued
    assert {(p.replay_host, p.replay_pid) for p in Proposal.objects.filter(pk__in=queued, status="replaying")} == {
        ("host-a", 1001), ("host-b", 1002)}
    assert claim(Owner("host-c", 1003)) is None


@pytest.mark.django_db
def test_a_replay_whose_process_died_is_marked_failed_with_the_reason(customer, maker):
    here = Owner.this_process()
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_here = running(draft(maker, customer), here.host, exited.pid)
        silent_elsewhere = running(draft(maker, customer), "other-host", 4242, heartbeat_age=STALE_SECONDS + 5)
        my_pid_before_a_restart = running(draft(maker, customer), here.host, here.pid)
        alive_here = running(draft(maker, customer), here.host, alive.pid)
        alive_elsewhere = running(draft(maker, customer), "other-host", 4243, heartbeat_age=5)

        assert ReplayServer(owner=here).serve_one() is False  # a server's start: it looks first

        states = dict(Proposal.objects.values_list("pk", "status"))
        assert [states[p.pk] for p in (dead_here, silent_elsewhere, my_pid_before_a_restart)] == ["replay_failed"] * 3
        assert [states[p.pk] for p in (alive_here, alive_elsewhere)] == ["replaying"] * 2
        failed = Proposal.objects.get(pk=dead_here.pk)
        assert failed.replay_message.startswith(
            f"Replay failed: the replay process stopped (pid {exited.pid} on host {here.host}) at ")
        assert "the process is gone" in failed.replay_message and failed.replay_finished_at is not None
        assert "no heartbeat for " in Proposal.objects.get(pk=silent_elsewhere.pk).replay_message
        assert failed.history.first().history_change_reason.startswith("the replay process stopped (pid")
        assert fail_stopped_replays(here) == []  # once
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.django_db
def test_the_admin_shows_queued_running_and_failed_replays(client, customer, maker):
    queued = queue_replay(draft(maker, customer), user=maker)
    replaying = running(draft(maker, customer), "replay-host", 4242)
    failed = running(draft(maker, customer), "replay-host", 4243, heartbeat_age=STALE_SECONDS + 5)
    fail_stopped_replays(Owner("elsewhere", 1))  # by its heartbeat: the pids are not this machine's
    client.force_login(maker)

    listing = client.get(reverse("admin:proposals_proposal_changelist")).content.decode()
    assert all(label in listing for label in ("Replay queued", "Replaying", "Replay failed"))
    assert "waiting for the replay process" in listing

    page = lambda proposal: client.get(reverse("admin:proposals_proposal_change", args=[proposal.pk])).content.decode()  # noqa: E731
    assert "waiting for the replay process (manage.py replay_proposal --serve)" in page(queued)
    assert 'id="replay-button"' not in page(queued)
    assert "running (pid 4242 on host replay-host, alive at " in page(replaying)
    assert "Flink: 10 of 20 judged" in page(replaying)
    assert "the replay process stopped (pid 4243 on host replay-host)" in page(failed)
    assert 'id="replay-button"' in page(failed)  # may be queued again

    progress = client.get(reverse("admin:proposals_proposal_progress", args=[queued.pk])).json()
    assert progress["status"] == "queued" and "waiting for the replay process" in progress["message"]


@pytest.mark.django_db
def test_sigterm_stops_the_replay_server_cleanly():
    server = subprocess.Popen([sys.executable, "manage.py", "replay_proposal", "--serve"], cwd=settings.BASE_DIR,
                              env={**os.environ, "DATABASE_URL": database_url()}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:  # started once it says so
            if "serving queued replays as pid" in line:
                break
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
    finally:
        server.kill()
        server.wait()
