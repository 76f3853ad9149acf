from tests.support.session import SESSION_STARTED  # noqa: F401  (imported first: when the session started)

import os
import secrets
import subprocess
import sys
import urllib.request

import pytest
from django.conf import settings as django_settings


def pytest_collection_modifyitems(items):
    """Tests that kill parts of the stack run last, so that no other test runs on a stack that is
    still recovering; the check that the tests left the product alone runs after everything."""
    items.sort(key=lambda item: (item.get_closest_marker("after_all") is not None,
                                 item.get_closest_marker("destructive") is not None))

from localstack import stack as local_stack
from tests.support import wait_until
from tests.support.kafka import group_at_end, wait_until_group_stable


@pytest.fixture(scope="session")
def stack():
    """The local Kafka + Flink stack running the current detection SQL.

    Brought up here when it is not running, and then taken down again at the end of the session,
    its data removed; a stack that was already running (a developer's `manage.py stack up` with
    the tests' settings) is left alone.
    """
    already_running = local_stack.started_processes()
    local_stack.up()
    yield local_stack
    if already_running or local_stack.paths().state == django_settings.PRODUCT_STACK_DIR:
        # Plain `pytest` (not `make test`) runs on the product's stack: stop what was started, delete nothing.
        local_stack.stop(local_stack.started_processes() - already_running)
    else:
        local_stack.down(purge=True)  # topics, checkpoints, logs: nothing of the tests remains


@pytest.fixture
def kafka(stack, settings):
    """The stack's broker, with short delivery timeouts so failures show quickly."""
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 3000
    return settings.KAFKA_BOOTSTRAP_SERVERS


LIVE_SITE_PORT = 8765


@pytest.fixture
def live_site(stack, tmp_path, postgres_redis_env):
    env = {
        **os.environ, **postgres_redis_env, "DEBUG": "False", "HTTPS_ONLY": "False",
        # The test process's key, so that sessions it creates are valid on the site.
        "SECRET_KEY": django_settings.SECRET_KEY, "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MAP_TILE_URL": "https://tiles.invalid/{z}/{x}/{y}.png",  # a tile server that cannot be reached
        "VERDICT_WORKER_GROUP": "live-site-" + secrets.token_hex(4),
        "VERDICT_LAG_ALERT_SECONDS": "2",  # the badge test holds verdicts for a few seconds
    }
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=django_settings.BASE_DIR,
                   env=env, check=True)
    logs = open(tmp_path / "site.log", "w")
    group = group_at_end(env["VERDICT_WORKER_GROUP"], django_settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
    processes = [
        subprocess.Popen([sys.executable, "-m", "daphne", "-p", str(LIVE_SITE_PORT), "fraudsite.asgi:application"],
                         cwd=django_settings.BASE_DIR, env=env, stdout=logs, stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", "--group", group],
                         cwd=django_settings.BASE_DIR, env=env, stdout=logs, stderr=subprocess.STDOUT),
    ]
    wait_until(lambda: urllib.request.urlopen(f"http://localhost:{LIVE_SITE_PORT}/accounts/login/", timeout=1).status,
               30, "the live site to answer", interval=0.3, retry_on=(OSError,))
    wait_until_group_stable(group)
    yield f"http://localhost:{LIVE_SITE_PORT}"
    for process in processes:
        process.terminate()
        process.wait(30)
    logs.close()
    print((tmp_path / "site.log").read_text()[-3000:])


@pytest.fixture
def postgres_redis_env():
    from tests.support.site import database_url

    if "RedisChannelLayer" not in django_settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL (make test sets both)")
    return {"DATABASE_URL": database_url(), "REDIS_URL": django_settings.REDIS_URL}
