"""Tests side by side (pytest-xdist, `make test` and `make test-fast`): each worker a Redis database
and a local stack of its own.

pytest-django already gives each worker a test database of its own (test_fraudsite_gw0, ...).
Redis holds the channel layer's groups, the cache and the API keys' rate counts under fixed
names, so two workers sharing a database would see each other's messages and counts. Worker gwN
uses the database N above the one REDIS_URL names (`make test`: 2, 3 and 4).

The stack's tests run on two stacks side by side (`make test`, --dist loadgroup): those of
SECOND_STACK_MODULES in one worker, every other in another (tests/conftest.py). Worker gwN (N > 0)
names a stack directory and ports of its own: the tests' own plus "-gwN", and the ports 10 N above
theirs; gw0 keeps the tests' own, so one process runs exactly as without xdist. A stack is started
only by a worker that runs a test needing it.

The variables are set in the worker's process before its pytest starts, so its settings (and
every process a test starts) are made from them as anywhere else.
"""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DATABASES = 16  # Redis's default
STACK_PORTS = ["STACK_KAFKA_PORT", "STACK_KAFKA_CONTROLLER_PORT", "STACK_FLINK_REST_PORT", "STACK_FLINK_RPC_PORT"]
# Each side about 6 of the 12 minutes the stack's tests took in one process (2026-12-07). A new
# module runs on the first stack.
SECOND_STACK_MODULES = {
    "test_replay", "test_reliability", "test_security", "test_decision_processes", "test_browser",
    "test_decisions", "test_outage_logs", "test_metrics", "test_bench", "test_cloud_replay",
    "test_verdict_history", "test_api", "test_simulator",
}


def redis_url_of_worker(url, worker):
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if database >= REDIS_DATABASES:
        raise pytest.UsageError(f"worker {worker} would need Redis database {database}; Redis has {REDIS_DATABASES}: "
                                "run fewer workers (-n) or name a lower database in REDIS_URL")
    return urlunsplit(parts._replace(path=f"/{database}"))


def stack_of_worker(stack_dir, ports, worker):
    """The stack settings of worker gwN: {variable: value}, from the tests' own (ports: {variable: port})."""
    number = int(worker.removeprefix("gw"))
    if number == 0:
        return {}
    shifted = {name: port + 10 * number for name, port in ports.items()}
    return {"STACK_DIR": f"{stack_dir}-{worker}", **{name: str(port) for name, port in shifted.items()},
            "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{shifted['STACK_KAFKA_PORT']}"}


def stack_group(item):
    """The xdist group of a test that needs a stack: the stack it runs on."""
    return "second-stack" if item.module.__name__.rsplit(".", 1)[-1] in SECOND_STACK_MODULES else "stack"


def give_worker_its_services(gateway):
    """For xdist's pytest_xdist_newgateway: the worker's process exists, its pytest has not started."""
    from django.conf import settings

    variables = stack_of_worker(str(settings.STACK_DIR), {name: getattr(settings, name) for name in STACK_PORTS},
                                gateway.id)
    if os.environ.get("REDIS_URL"):
        variables["REDIS_URL"] = redis_url_of_worker(os.environ["REDIS_URL"], gateway.id)
    gateway.remote_exec(f"import os\nos.environ.update({variables!r})").waitclose()
