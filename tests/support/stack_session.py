"""The test session's stack: claimed for the session (one instance per stack directory), or the
session ends at once saying who has it."""

from contextlib import contextmanager

import pytest

from localstack import owner as stack_owner
from localstack import stack as local_stack
from localstack.messages import StackError


def claim_and_start(me):
    """Claim the stack directory for the session whose pid is `me` and start what is not running;
    returns the stack's processes that were running already. A stack directory that another
    instance (make run, another session) holds, or ports another stack uses, end the session with
    the message that names it, before anything is started or stopped. A start that fails (the
    detection SQL rejected, say) stops what it started and gives the stack up before the session
    ends: left running, the next session would take it for a developer's and leave it up too."""
    try:
        # Ctrl-C (not kill: pytest would skip its teardown, and leave the stack running)
        stack_owner.claim(me, "a test session", f"Ctrl-C in its terminal (pytest, pid {me})")
        already_running = local_stack.started_processes()
        try:
            local_stack.up(owner=me)
        except BaseException:
            local_stack.stop(local_stack.started_processes() - already_running)
            stack_owner.release(me)
            raise
    except StackError as error:
        pytest.exit(f"{error}\nThe tests need a stack of their own: `make test` gives them one.", returncode=3)
    return already_running


@contextmanager
def lent_out(me):
    """The session's claim on its stack released for the block, so that an instance a test starts
    (a `make run`) finds the stack running and claims it as any instance would; claimed back
    afterwards, with the processes the session started."""
    record = stack_owner.owned_by(me)
    stack_owner.release(me)
    try:
        yield
    finally:
        stack_owner.claim(me, record["command"], record["stop"])
        stack_owner.add_processes(me, record["processes"])
