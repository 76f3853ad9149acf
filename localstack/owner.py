"""Who runs a stack directory: one instance (a `make run`, a test session) at a time.

The instance that owns a stack directory is recorded in it (owner.json: its pid, when it started,
what it is, and which of the stack's processes it started). A second instance is refused with a
message that names the first; the owner stops, when it ends, only the processes it started.
The record is only believed while the process it names is alive and is the same process (its
start time matches), so an owner that died without cleaning up never blocks the next one.
"""

import fcntl
import json
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from .layout import paths
from .messages import StackError
from .processes import started_at


def _record_file(state=None):
    return (state or paths().state) / "owner.json"


@contextmanager
def _locked():
    """Serialises reading and writing the record between instances starting at the same time."""
    state = paths().state
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "owner.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def current(state=None):
    """The live owner's record ({pid, started_at, command, stop, processes}) of this stack directory
    (or of the one given), or None."""
    try:
        record = json.loads(_record_file(state).read_text())
    except (OSError, ValueError):
        return None
    started = started_at(record.get("pid", 0))
    if started is None or abs(started - record.get("started_at", 0)) > 1:
        return None  # the owner is gone (its pid may since have been reused)
    return record


def describe(record):
    since = datetime.fromtimestamp(record["started_at"], timezone.utc)
    minutes = int((time.time() - record["started_at"]) // 60)
    return (f"{record['command']} is already running on this stack ({paths().state}): pid {record['pid']}, "
            f"since {since:%Y-%m-%d %H:%M:%S} UTC ({minutes} min ago). Nothing was started or stopped. "
            f"To stop it: {record['stop']}.")


def claim(pid, command, stop):
    """Record pid as this stack directory's owner, or raise StackError naming the live owner."""
    with _locked():
        record = current()
        if record and record["pid"] != pid:
            raise StackError(describe(record))
        if not record:
            record = {"pid": pid, "started_at": started_at(pid), "command": command, "stop": stop, "processes": []}
            _record_file().write_text(json.dumps(record))
        return record


def owned_by(pid):
    """The record if pid owns the stack directory, else None."""
    record = current()
    return record if record and record["pid"] == pid else None


def add_processes(pid, names):
    """Note that the owner pid started these stack processes (they are its to stop)."""
    with _locked():
        record = owned_by(pid)
        if record is None:
            return
        record["processes"] = sorted(set(record["processes"]) | set(names))
        _record_file().write_text(json.dumps(record))


def release(pid):
    with _locked():
        if owned_by(pid):
            _record_file().unlink(missing_ok=True)
