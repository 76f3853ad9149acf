"""The site as operators get it, for the browser, load and security tests and the benchmarks:
the web server (fraudsite.server: uvicorn) in production mode (DEBUG off, collected static files), the verdict worker, the outbox
publisher, the webhook deliverer and the replay server, each its own process, on a port chosen when it starts (other
sites may be running on this machine)."""

import atexit
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.support.kafka import group_at_end, wait_until_group_stable
from tests.support.waiting import wait_until


def site_processes(listening_fd, worker_group, web_processes=1):
    """The site's processes, (name, argv); each is started with the site and stopped with it.
    listening_fd: the site's listening socket, inherited by every process (the web server's
    web_processes serve it)."""
    return [
        ("web", [sys.executable, "-m", "fraudsite.server", "--fd", str(listening_fd),
                 "--processes", str(web_processes)]),
        ("worker", [sys.executable, "manage.py", "consume_verdicts", "--group", worker_group]),
        ("outbox", [sys.executable, "manage.py", "publish_outbox"]),
        ("webhooks", [sys.executable, "manage.py", "deliver_webhooks"]),
        ("replays", [sys.executable, "manage.py", "replay_proposal", "--serve"]),
    ]


@dataclass
class Site:
    url: str  # http://localhost:<port>
    port: int
    log: Path  # every process's output
    worker_group: str
    processes: dict  # name -> subprocess.Popen (a test may stop one, or replace it)
    env: dict  # the processes' environment


def site_environment(env_overrides, static_root, worker_group):
    return {**os.environ, "DEBUG": "False", "HTTPS_ONLY": "False", "SECRET_KEY": settings.SECRET_KEY,
            "ALLOWED_HOSTS": "localhost,127.0.0.1", "STATIC_ROOT": static_root,
            "VERDICT_WORKER_GROUP": worker_group, **env_overrides}


def listening_socket():
    """A socket listening on a port the OS chose: no other process can take the port before the
    web server (which inherits it) starts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)  # as uvicorn does: an overload must not overflow the accept queue
    return listener


@functools.cache
def collected_static_files():
    """The site's static files, collected (as production does) once per process into a directory
    removed when the process ends: collecting them took 6 s of every site's start."""
    static_root = tempfile.mkdtemp(prefix="site-static-")
    atexit.register(shutil.rmtree, static_root, ignore_errors=True)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=settings.BASE_DIR,
                   env=site_environment({}, static_root, worker_group=""), check=True)
    return static_root


@contextmanager
def running_site(env_overrides, log, worker_group, ready_timeout=30, web_processes=1):
    """Start the site's processes (on collected static files) with this process's environment plus
    env_overrides, and yield a Site once it answers and the worker owns its partitions (the
    worker's group starts at the end of the verdict topic: no backlog). Stops them at the end.

    The site signs sessions with this process's SECRET_KEY, so that sessions made here are valid there."""
    with open(log, "w") as output:
        env = site_environment(env_overrides, collected_static_files(), worker_group)
        group_at_end(worker_group, settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
        listener = listening_socket()
        port = listener.getsockname()[1]
        processes = []
        try:
            for name, argv in site_processes(listener.fileno(), worker_group, web_processes):
                processes.append((name, subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env, stdout=output,
                                                         stderr=subprocess.STDOUT, pass_fds=[listener.fileno()])))
            listener.close()
            url = f"http://localhost:{port}"
            wait_until(lambda: _answer(url, processes, log), ready_timeout, f"the site at {url} to answer",
                       interval=0.2, retry_on=(OSError,))
            wait_until_group_stable(worker_group)
            yield Site(url=url, port=port, log=Path(log), worker_group=worker_group, processes=dict(processes),
                       env=env)
        finally:
            listener.close()
            for _, process in processes:
                process.terminate()
            for _, process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def another_web_server(site, log):
    """A second web server (one process) beside a running site, on a port of its own and with the
    site's environment: two processes a test can address one at a time. Yields its URL."""
    listener = listening_socket()
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-m", "fraudsite.server", "--fd", str(listener.fileno()),
                                    "--processes", "1"], cwd=settings.BASE_DIR, env=site.env, stdout=output,
                                   stderr=subprocess.STDOUT, pass_fds=[listener.fileno()])
        url = f"http://localhost:{listener.getsockname()[1]}"
        listener.close()
        try:
            wait_until(lambda: _answer(url, [("web", process)], log), 30, f"the web server at {url} to answer",
                       interval=0.2, retry_on=(OSError,))
            yield url
        finally:
            process.terminate()
            process.wait(30)


def _answer(url, processes, log):
    import urllib.request

    exited = [f"{name} (exit code {process.returncode})" for name, process in processes if process.poll() is not None]
    if exited:
        raise RuntimeError(f"site process {', '.join(exited)} ended while starting; see {log}")
    with urllib.request.urlopen(url + "/accounts/login/", timeout=2) as response:
        return response.status


def database_url():
    """The URL of the database this test runs on, for processes started beside it."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
