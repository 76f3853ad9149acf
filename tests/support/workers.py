"""Tests side by side (pytest-xdist, `make test` and `make test-fast`): each worker a Redis database of its own.

pytest-django already gives each worker a test database of its own (test_fraudsite_gw0, ...).
Redis holds the channel layer's groups, the cache and the API keys' rate counts under fixed
names, so two workers sharing a database would see each other's messages and counts. Worker gwN
uses the database N above the one REDIS_URL names (`make test`: 2, 3 and 4). The variable is set in
the worker's process before its pytest starts, so its settings are made from it as anywhere else.
"""

import os
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DATABASES = 16  # Redis's default


def redis_url_of_worker(url, worker):
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if database >= REDIS_DATABASES:
        raise pytest.UsageError(f"worker {worker} would need Redis database {database}; Redis has {REDIS_DATABASES}: "
                                "run fewer workers (-n) or name a lower database in REDIS_URL")
    return urlunsplit(parts._replace(path=f"/{database}"))


def give_worker_its_redis_database(gateway):
    """For xdist's pytest_xdist_newgateway: the worker's process exists, its pytest has not started."""
    if os.environ.get("REDIS_URL"):
        url = redis_url_of_worker(os.environ["REDIS_URL"], gateway.id)
        gateway.remote_exec(f"import os\nos.environ['REDIS_URL'] = {url!r}").waitclose()


class StackWorkerFirst:
    """`make test` takes as long as the worker that runs the stack's tests, one after the other, while
    the other workers' tests, shared out among them, are done in the first minutes; competing with
    them for the 2 cores, starting the stack took 70 s instead of 30. So a worker whose first test
    does not need the stack lowers its priority (nice 10, and so that of every process its tests
    start) and, in a session that runs the stack's tests, waits for the stack to be up (at most
    WAIT_SECONDS) before it begins: its tests take the CPU the stack's worker leaves."""

    NICENESS = 10
    WAIT_SECONDS = 300

    def __init__(self):
        self.decided = False

    def before(self, item):
        if self.decided or not os.environ.get("PYTEST_XDIST_WORKER"):
            return
        self.decided = True
        if needs_the_sessions_stack(item):
            return
        os.nice(self.NICENESS)
        if any(needs_the_sessions_stack(other) for other in item.session.items):
            deadline = time.monotonic() + self.WAIT_SECONDS
            while not stack_is_up_for_this_session() and time.monotonic() < deadline:
                time.sleep(0.5)


stack_worker_first = StackWorkerFirst()


def needs_the_sessions_stack(item):
    """Whether the test runs on the session's stack (and so in the stack's worker), not merely on a
    JVM: an `own_broker` test starts and stops a broker of its own."""
    return item.get_closest_marker("stack") is not None and item.get_closest_marker("own_broker") is None


def _ready_file():
    from localstack.layout import paths

    return paths().state / "test-session-ready"


def say_the_stack_is_up():
    """For the stack fixture, once the stack runs: the other workers of this session may begin.
    Said only side by side, so that plain `pytest` on the product's stack leaves no file in it."""
    session = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if session:
        _ready_file().write_text(session)


def stack_is_up_for_this_session():
    try:
        return _ready_file().read_text() == os.environ["PYTEST_XDIST_TESTRUNUID"]
    except OSError:
        return False
