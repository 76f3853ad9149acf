import pytest


def pytest_collection_modifyitems(items):
    """Tests that kill parts of the stack run last, so that no other test runs on a stack that is
    still recovering."""
    items.sort(key=lambda item: item.get_closest_marker("destructive") is not None)

from localstack import stack as local_stack


@pytest.fixture(scope="session")
def stack():
    """The local Kafka + Flink stack running the current detection SQL.

    Brought up here when it is not running, and then taken down again at the end of the session;
    processes that were already running (a developer's `manage.py stack up`) are left alone.
    """
    already_running = local_stack.started_processes()
    local_stack.up()
    yield local_stack
    local_stack.stop(local_stack.started_processes() - already_running)


@pytest.fixture
def kafka(stack, settings):
    """The stack's broker, with short delivery timeouts so failures show quickly."""
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 3000
    return settings.KAFKA_BOOTSTRAP_SERVERS
