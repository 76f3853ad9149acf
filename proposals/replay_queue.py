"""Replays run in a process of their own, never in a web process: a replay takes up to an hour, and
a web restart must neither kill it nor lose it.

- The admin's Replay button only queues: the proposal's status becomes QUEUED (queue_replay).
- `manage.py replay_proposal --serve` (ReplayServer) claims the oldest queued replay (SELECT ... FOR
  UPDATE SKIP LOCKED: two servers never take the same one), runs it (proposals/replay.py) and
  records its result. While it runs, the proposal names the process (host and pid) and a thread of
  that process stamps a heartbeat.
- A replay whose process died (a crash, a kill, a restart of its machine) is marked failed with the
  reason by every replay server, when it starts and at every poll: its heartbeat is older than
  STALE_SECONDS, or it ran on this host under a pid that is gone.
- `manage.py replay_proposal <id>` runs one proposal's replay in the foreground the same way.
"""

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from fraudsite.flink_client import unavailable as replay_unavailable
from fraudsite.service import ServiceLoop

from .models import Proposal
from .replay import run_claimed
from .services import ProposalRefused, record

logger = logging.getLogger("fraudsite.replay")

# How often the process running a replay says it is alive.
HEARTBEAT_SECONDS = 10
# A running replay not heard of for this long has lost its process (several heartbeats missed).
STALE_SECONDS = 60
# How often an idle replay server looks for a queued replay.
POLL_SECONDS = 2.0
# What may be (re)played: not one queued or running already, nor one decided.
REPLAYABLE = [Proposal.Status.DRAFT, Proposal.Status.REPLAYED, Proposal.Status.REPLAY_FAILED]


@dataclass(frozen=True)
class Owner:
    """A process that runs replays, as a proposal records it."""

    host: str
    pid: int

    @classmethod
    def this_process(cls):
        return cls(socket.gethostname(), os.getpid())

    def __str__(self):
        return f"pid {self.pid} on host {self.host}"


def queue_replay(proposal, *, user):
    """Queue the proposal's replay for the replay process (the admin's button); ProposalRefused when
    it may not be replayed now. Nothing runs here."""
    if replay_unavailable():
        raise ProposalRefused(f"No proposal can be replayed here: {replay_unavailable()}")
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status not in REPLAYABLE:
            raise ProposalRefused("Only a draft, replayed or failed proposal can be replayed, one replay at a time; "
                                  f"this one is {proposal.get_status_display().lower()}.")
        proposal.status, proposal.replay_queued_at = Proposal.Status.QUEUED, timezone.now()
        proposal.replay_progress, proposal.replay_message = 0, "waiting for the replay process"
        proposal.replay_result, proposal.replay_fingerprint = None, ""
        record(proposal, "replay queued", user)
    return proposal


def claim(owner, proposal_id=None):
    """The oldest queued replay (or, given proposal_id, that proposal if it may be replayed), now
    REPLAYING under owner; None when there is none. A replay another process is claiming is
    skipped, not waited for."""
    with transaction.atomic():
        candidates = Proposal.objects.select_for_update(skip_locked=True)
        if proposal_id is None:
            candidates = candidates.filter(status=Proposal.Status.QUEUED).order_by("replay_queued_at", "pk")
        else:
            candidates = candidates.filter(pk=proposal_id, status__in=[Proposal.Status.QUEUED, *REPLAYABLE])
        proposal = candidates.first()
        if proposal is None:
            return None
        now = timezone.now()
        proposal.status, proposal.replay_host, proposal.replay_pid = Proposal.Status.REPLAYING, owner.host, owner.pid
        proposal.replay_started_at = proposal.replay_heartbeat_at = now
        proposal.replay_finished_at, proposal.replay_result = None, None
        proposal.replay_progress, proposal.replay_message = 0, "starting"
        record(proposal, f"replay started by {owner}"[:100], None)
    return proposal


def replay_proposal(proposal_id, owner=None):
    """Replay this proposal now, in this process (the command's foreground run, the tests)."""
    proposal = claim(owner or Owner.this_process(), proposal_id)
    if proposal is None:
        raise ProposalRefused("Only a draft, queued, replayed or failed proposal can be replayed, one replay at a time.")
    return run_with_heartbeat(proposal)


def run_with_heartbeat(proposal, stopped=None):
    """run_claimed, with the heartbeat stamped from a thread of this process while it runs."""
    beating = threading.Event()

    def beat():
        try:
            while not beating.wait(HEARTBEAT_SECONDS):
                try:
                    Proposal.objects.filter(pk=proposal.pk, status=Proposal.Status.REPLAYING,
                                            replay_started_at=proposal.replay_started_at).update(
                        replay_heartbeat_at=timezone.now())
                except (OperationalError, InterfaceError) as error:  # the next beat tries again
                    logger.warning("proposal %s: no heartbeat (%s)", proposal.pk, str(error).strip())
                    connection.close()
        finally:
            connection.close()  # this thread's own

    heart = threading.Thread(target=beat, name=f"replay-heartbeat-{proposal.pk}", daemon=True)
    heart.start()
    try:
        return run_claimed(proposal, stopped)
    finally:
        beating.set()
        heart.join()


def _process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def stopped_process(proposal, owner, now):
    """Why the process of this running replay has stopped, as owner sees it from where it runs; None
    while it may still be alive."""
    last_sign = proposal.replay_heartbeat_at or proposal.replay_started_at or now
    stopped = f"the replay process stopped ({proposal.replay_owner}) at {timezone.localtime(last_sign):%Y-%m-%d %H:%M:%S %Z}"
    if now - last_sign > timedelta(seconds=STALE_SECONDS):
        return f"{stopped}: no heartbeat for {(now - last_sign).total_seconds():.0f} s"
    if proposal.replay_host == owner.host and proposal.replay_pid:
        # This process's own pid on a replay it does not run: an earlier process under the same id.
        if proposal.replay_pid == owner.pid or _process_gone(proposal.replay_pid):
            return f"{stopped}: the process is gone"
    return None


def fail_stopped_replays(owner):
    """Mark failed, with the reason, every running replay whose process has stopped, as owner (a
    replay server between two replays) sees it; returns them."""
    now, failed = timezone.now(), []
    for suspect in Proposal.objects.filter(status=Proposal.Status.REPLAYING):
        reason = stopped_process(suspect, owner, now)
        if reason is None:
            continue
        with transaction.atomic():
            proposal = Proposal.objects.select_for_update().filter(
                pk=suspect.pk, status=Proposal.Status.REPLAYING, replay_started_at=suspect.replay_started_at).first()
            if proposal is None:  # finished, or claimed again, meanwhile
                continue
            proposal.status, proposal.replay_finished_at = Proposal.Status.REPLAY_FAILED, now
            proposal.replay_message = f"Replay failed: {reason}; queue it again."[:500]
            record(proposal, reason[:100], None)
        logger.warning("proposal %s: %s", proposal.pk, reason)
        failed.append(proposal)
    return failed


class ReplayServer(ServiceLoop):
    """The loop behind `manage.py replay_proposal --serve`: runs queued replays one at a time, in
    the order they were queued. stop() (SIGTERM) ends the loop; a replay running then stops at its
    next progress report and is marked failed, its topics deleted."""

    logger = logger

    def __init__(self, poll_seconds=POLL_SECONDS, owner=None):
        super().__init__()
        self.poll_seconds, self.owner = poll_seconds, owner or Owner.this_process()

    def start(self):
        logger.info("serving queued replays as %s", self.owner)

    def run_once(self):
        return 0 if self.serve_one() else self.poll_seconds

    def serve_one(self):
        """Fail the replays whose process stopped, then run the oldest queued one, if any (True)."""
        fail_stopped_replays(self.owner)
        proposal = claim(self.owner)
        if proposal is None:
            return False
        logger.info("proposal %s: replaying", proposal.pk)
        try:
            run_with_heartbeat(proposal, self.stopped)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            pass  # recorded on the proposal, and logged, by run_claimed
        return True
