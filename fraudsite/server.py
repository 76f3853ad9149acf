"""The web tier: uvicorn serving fraudsite.asgi with N processes on one listening socket.

`python -m fraudsite.server [--processes N] (--port P | --fd FD)` is what `make run`, the tests'
site and the benchmarks start, so that every one of them runs the same server the same way.
N defaults to WEB_PROCESSES, else the number of cores: each process is one event loop on one
core, and the kernel spreads connections over them. uvicorn's supervisor restarts a process
that dies. Several processes count their metrics together in PROMETHEUS_MULTIPROC_DIR (a fresh
directory made here when it is not set).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile


WORKER_HEALTHCHECK_SECONDS = 60


def default_processes():
    return int(os.environ.get("WEB_PROCESSES") or os.cpu_count() or 1)


def answer_without_delay(listener):
    """Turn Nagle's algorithm off for every connection a listening TCP socket will accept (Linux
    copies TCP_NODELAY from the listener to each accepted socket). uvicorn serves an inherited
    socket (--fd) as a Unix socket and so never sets it itself: an answer's body, written after
    its headers, then waited for the client's delayed acknowledgement, 40 ms on every decision
    (B5, bench/RESULTS.md). With --port uvicorn makes a TCP socket, whose connections get it."""
    if listener.family in (socket.AF_INET, socket.AF_INET6):
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def uvicorn_argv(processes, port=None, fd=None, host="127.0.0.1"):
    where = ["--fd", str(fd)] if fd is not None else ["--host", host, "--port", str(port)]
    return [sys.executable, "-m", "uvicorn", "fraudsite.asgi:application", *where, "--workers", str(processes),
            "--loop", "uvloop", "--http", "httptools", "--lifespan", "on",
            # The client address is the connection's, unless FORWARDED_ALLOW_IPS names the proxy
            # in front, whose X-Forwarded-For is then believed (the sign-in throttle counts by
            # address; uvicorn reads that variable itself).
            "--proxy-headers" if os.environ.get("FORWARDED_ALLOW_IPS") else "--no-proxy-headers",
            "--no-server-header",
            # Thousands of decisions a second: an access log line each would cost more than the answer.
            "--no-access-log", "--timeout-graceful-shutdown", "5",
            # uvicorn kills a process that does not answer its supervisor's ping in time (default
            # 5 s) as hung; a busy machine or an overloaded event loop is not hung, and killing it
            # drops every request it holds (seen: a child killed while Django imported under load).
            "--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_SECONDS)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=default_processes())
    parser.add_argument("--port", type=int)
    parser.add_argument("--fd", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    if (args.port is None) == (args.fd is None):
        parser.error("give --port or --fd")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    env, own_directory = dict(os.environ), None
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = own_directory = tempfile.mkdtemp(prefix="fraudsite-metrics-")
    if args.fd is not None:
        with socket.socket(fileno=os.dup(args.fd)) as listener:
            answer_without_delay(listener)
    argv = uvicorn_argv(args.processes, port=args.port, fd=args.fd, host=args.host)
    # Stopping this process stops the server (and Ctrl-C reaches both through the terminal). The
    # handler is in place before uvicorn starts: a SIGTERM in between used to end this process
    # alone and leave uvicorn running, orphaned (seen in CI).
    process, stop_asked = None, False

    def stop(*_):
        nonlocal stop_asked
        stop_asked = True
        if process is not None:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    process = subprocess.Popen(argv, env=env, pass_fds=[args.fd] if args.fd is not None else [])
    if stop_asked:  # asked to stop while uvicorn was being started
        process.terminate()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.exit(process.wait())
    finally:
        if own_directory:
            shutil.rmtree(own_directory, ignore_errors=True)


if __name__ == "__main__":
    main()
