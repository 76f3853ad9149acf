"""Tests side by side (pytest-xdist, `make test` and `make test-fast`): each worker a Redis database of its own.

pytest-django already gives each worker a test database of its own (test_fraudsite_gw0, ...).
Redis holds the channel layer's groups, the cache and the API keys' rate counts under fixed
names, so two workers sharing a database would see each other's messages and counts. Worker gwN
uses the database N above the one REDIS_URL names (`make test`: 2, 3 and 4). The variable is set in
the worker's process before its pytest starts, so its settings are made from it as anywhere else.
"""

import os
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
