from tests.support.session import SESSION_STARTED  # noqa: F401  (imported first: when the session started)

import os
import secrets

import pytest
from django.conf import settings as django_settings


def pytest_itemcollected(item):
    """A test that asks for the stack or broker fixture, directly or through another (kafka,
    live_site, ...), needs a JVM whether or not it says so: marked `stack` here, so that `make test-fast`
    (-m "not stack") never starts Kafka or Flink, and `make test` (no -m) still runs it; so is a test
    marked `own_broker`. Side by side (`make test`: pytest-xdist's --dist loadgroup), the tests of
    the session's stack all run in one worker, the one that starts and owns the stack; an
    `own_broker` test runs in any other."""
    from tests.support.workers import needs_the_sessions_stack

    if {"stack", "broker"} & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("own_broker"):
        item.add_marker(pytest.mark.stack)
    if needs_the_sessions_stack(item):
        item.add_marker(pytest.mark.xdist_group("stack"))


def pytest_collection_modifyitems(items):
    """The stack's tests first, so that side by side their worker starts on them at once while the
    others share out the rest; then the long ones, so that none starts last and ends the session
    alone; among the stack's, those that kill parts of it last, so that no other test runs on a
    stack that is still recovering; the check that the tests left the product alone after everything."""
    from tests.support.workers import needs_the_sessions_stack

    items.sort(key=lambda item: (item.get_closest_marker("after_all") is not None,
                                 not needs_the_sessions_stack(item),
                                 item.get_closest_marker("long") is None,
                                 item.get_closest_marker("destructive") is not None))


def pytest_runtest_setup(item):
    from tests.support.workers import stack_worker_first

    stack_worker_first.before(item)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_newgateway(gateway):
    from tests.support.workers import give_worker_its_redis_database

    give_worker_its_redis_database(gateway)


from localstack import owner as stack_owner
from localstack import stack as local_stack
from localstack.layout import paths
from tests.support.stack_session import claim_and_start


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["tests.support.hashers.QuickPBKDF2PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    from tests.support.database import copy_test_databases_from_a_migrated_template

    copy_test_databases_from_a_migrated_template()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, quicker to write and to empty (tests/support/database.py)."""
    from django.db import connection

    from tests.support.database import (commit_without_waiting_for_the_disk, end_other_sessions,
                                        flush_only_tables_with_rows)

    with django_db_blocker.unblock():
        commit_without_waiting_for_the_disk(connection)
    with flush_only_tables_with_rows():
        yield
    with django_db_blocker.unblock():
        end_other_sessions(connection)


@pytest.fixture(scope="session")
def stack():
    """The local Kafka + Flink stack running the current detection SQL.

    Brought up here when it is not running, and then taken down again at the end of the session,
    its data removed; a stack that was already running (a developer's `manage.py stack up` with
    the tests' settings) is left alone.
    """
    from tests.support.workers import say_the_stack_is_up

    me = os.getpid()
    already_running = claim_and_start(me)  # or the session ends, saying who holds the stack
    say_the_stack_is_up()
    yield local_stack
    stack_owner.release(me)
    if already_running or paths().state == django_settings.PRODUCT_STACK_DIR:
        # Plain `pytest` (not `make test`) runs on the product's stack: stop what was started, delete nothing.
        local_stack.stop(local_stack.started_processes() - already_running)
    else:
        local_stack.down(purge=True)  # topics, checkpoints, logs: nothing of the tests remains


@pytest.fixture(scope="session")
def broker():
    """The local stack's Kafka alone, for tests that need a real broker but not Flink. Started here
    when not running (claiming the stack directory as the `stack` fixture does) and stopped at the
    end of the session, unless the `stack` fixture took the stack over and takes it down itself."""
    from localstack.kafka import start_kafka
    from localstack.messages import StackError

    me = os.getpid()
    try:
        stack_owner.claim(me, "a test session", f"Ctrl-C in its terminal (pytest, pid {me})")
        already_running = local_stack.started_processes()
        start_kafka()
        stack_owner.add_processes(me, local_stack.started_processes() - already_running)
    except StackError as error:
        pytest.exit(f"{error}\nThe tests need a stack of their own: `make test` gives them one.", returncode=3)
    yield django_settings.KAFKA_BOOTSTRAP_SERVERS
    if stack_owner.owned_by(me):  # the `stack` fixture has not taken it down already
        local_stack.stop(local_stack.started_processes() - already_running)
        stack_owner.release(me)


@pytest.fixture
def kafka(stack, settings):
    """The stack's broker, with short delivery timeouts so failures show quickly."""
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 3000
    return settings.KAFKA_BOOTSTRAP_SERVERS


@pytest.fixture
def live_site(stack, tmp_path, postgres_redis_env):
    """The running site (tests.support.site) on this test's database and Redis; yields its URL.
    Its processes' output is tmp_path / "site.log", the end of which is printed afterwards."""
    from tests.support.site import running_site

    env = {
        **postgres_redis_env,
        "MAP_TILE_URL": "https://tiles.invalid/{z}/{x}/{y}.png",  # a tile server that cannot be reached
        "VERDICT_LAG_ALERT_SECONDS": "2",  # the badge test holds verdicts for a few seconds
        # Decision tests prove what is answered, not how fast (bench/ measures that): a generous
        # budget, so that a busy machine does not turn an answer into a time-out, and no shedding
        # on a late event loop, which on a busy machine (CI) turned a request that must be refused
        # (an Idempotency-Key reused with another body) into the 200 shed fallback (admission has
        # tests of its own, tests/test_decision_budget.py).
        "DECISION_BUDGET_MS": "5000",
        "DECISION_SHED_LAG_MS": "5000",
    }
    try:
        with running_site(env, tmp_path / "site.log", worker_group="live-site-" + secrets.token_hex(4)) as site:
            yield site.url
    finally:
        if (tmp_path / "site.log").exists():
            print((tmp_path / "site.log").read_text()[-3000:])


@pytest.fixture
def postgres_redis_env():
    from tests.support.site import database_url

    if "RedisChannelLayer" not in django_settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL (make test sets both)")
    return {"DATABASE_URL": database_url(), "REDIS_URL": django_settings.REDIS_URL}
