"""A fresh checkout of this one, as a newcomer's clone would be, and a fresh shell to run commands in.

The copy holds what git tracks (as it is in the working tree, uncommitted changes included) and
nothing git ignores (.env, .stack, .secret-key ...); its .venv and node_modules are links to this
checkout's, which `make setup` would otherwise install. Commands run in it with a clean
environment: PATH, HOME and the locale, plus what a test passes.
"""

import os
import secrets
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


def fresh_checkout(destination):
    source = Path(settings.BASE_DIR)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=source,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        path = source / name
        if path.is_file() and not path.is_symlink():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination / name)
    for linked in (".venv", "node_modules"):
        (destination / linked).unlink(missing_ok=True)
        (destination / linked).symlink_to((source / linked).resolve())
    return destination


def clean_environment(**extra):
    """What a fresh login shell has, and nothing of this test session's settings."""
    kept = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "USER", "TERM") if key in os.environ}
    return {**kept, **extra}


@contextmanager
def throwaway_database():
    """A new, empty PostgreSQL database on the server the tests use (never the product's); yields its
    URL and drops it afterwards."""
    import psycopg

    from tests.support.database import server_url

    name = "throwaway_" + secrets.token_hex(5)
    server = server_url()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        _drop(server, name)


def _drop(server, name, attempts=60):
    """DROP DATABASE ... WITH (FORCE) ends the sessions still on it, but not an autovacuum worker
    (PostgreSQL 15: only a superuser may; one came to a database a test had just filled): tried
    again until the worker is done, which takes moments."""
    import psycopg

    for attempt in range(attempts):
        try:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def free_ports(count):
    """Ports nothing listens on now (the OS's choice), for a stack or a web server of a test's own."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()
