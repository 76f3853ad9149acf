"""The stack's processes: commands run to completion, and daemons started in the background with a
pid file in STACK_DIR, waited for and stopped."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .layout import HERE, paths
from .messages import StackError, say


def run_checked(command, what, **kwargs):
    try:
        result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise StackError(f"{what}: '{command[0]}' is not installed") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(f"{what} failed:\n{tail}")
    return result


def running_pid(name):
    """The pid recorded for this stack directory's process `name`, if that process still runs.

    A recorded pid is only ours while the process it names works in this stack directory (spawn
    starts every process there): a pid the system has since given to another process, or a pid
    file copied from another stack, is forgotten, never stopped."""
    p = paths()
    pidfile = p.pidfile(name)
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    if not _alive(pid) or working_directory(pid) != p.state.resolve():
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def working_directory(pid):
    """The process's current directory, or None when it cannot be read (gone, or another user's)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def started_at(pid):
    """When the process started (epoch seconds), from /proc; None when it is gone."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free_port(port, setting):
    if not _port_free(port):
        raise StackError(f"port {port} is taken by {listener_description(port)}: stop it or set {setting} to "
                         f"another port")


def listening_pid(port):
    """The pid of the process listening on the TCP port (this user's processes only), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (process / "fd").iterdir()):
                return int(process.name)
        except OSError:
            continue
    return None


def listener_description(port):
    """Who holds the port, as precisely as can be told: which stack's which process, and since when."""
    from datetime import datetime, timezone

    pid = listening_pid(port)
    if pid is None:
        return "another process"
    since = started_at(pid)
    since = f", since {datetime.fromtimestamp(since, timezone.utc):%Y-%m-%d %H:%M:%S} UTC" if since else ""
    directory = working_directory(pid)
    names = [pidfile.stem for pidfile in directory.glob("*.pid") if pidfile.read_text().strip() == str(pid)] \
        if directory else []
    if not names:
        return f"another process (pid {pid}{since})"
    from .owner import current

    owner = current(directory)
    stop = (f"{owner['command']} (pid {owner['pid']}) runs that stack: {owner['stop']}" if owner else
            f"`STACK_DIR={directory} python manage.py stack down` stops that stack")
    return f"the {names[0]} of the stack in {directory} (pid {pid}{since}; {stop})"


def spawn(name, command, env=None):
    p = paths()
    p.logs.mkdir(parents=True, exist_ok=True)
    with open(p.logs / f"{name}.out", "ab") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the caller's terminal must not kill the stack
            env={**os.environ, **(env or {})}, cwd=p.state,
        )
    p.pidfile(name).write_text(str(process.pid))
    return process.pid


def wait_for(what, check, timeout, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    hint = f"; see {log}" if log else ""
    raise StackError(f"{what} did not come up within {timeout} s{hint}")


def log4j_options(name):
    return [
        f"-Dlog.file={paths().logs / (name + '.log')}",
        f"-Dlog4j.configurationFile=file:{HERE / 'log4j2.properties'}",
        f"-Dlog4j2.configurationFile=file:{HERE / 'log4j2.properties'}",
    ]


def stop_process(name, timeout=30):
    pid = running_pid(name)
    if pid is None:
        return
    say(f"stopping {name} (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            # Its whole group (spawn gives each process one): a supervisor's command goes with it.
            os.killpg(pid, signal.SIGKILL)
            break
        time.sleep(0.3)
    paths().pidfile(name).unlink(missing_ok=True)


def _alive(pid):
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child, now reaped
            return False
    except ChildProcessError:  # started by another process (e.g. an earlier `stack up`)
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        zombie = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
    if zombie:  # dead; our own child if it exited after the first look, reaped now
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # left to a parent that never reaps
            pass
    return not zombie
