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
    pidfile = paths().pidfile(name)
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    if not _alive(pid):
        pidfile.unlink()
        return None
    return pid


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
        raise StackError(f"port {port} is taken by another process: stop it or set {setting} to another port")


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
            os.kill(pid, signal.SIGKILL)
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
    try:  # a zombie left to a parent that never reaps is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
