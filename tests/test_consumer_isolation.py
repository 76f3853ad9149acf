"""Each consumer of the verdicts reads Kafka transactions at its own isolation level
(docs/confluent-cloud.md, Transactions and isolation level): the verdict worker stores only
committed verdicts; the decision API answers from a verdict as soon as it is written. No broker:
each consumer's configuration is caught where the consumer is made."""

import pytest
from django.test import override_settings

from transactions import verdict_waiter, worker


class ConsumerMade(Exception):
    """Raised by the fake consumer's first call: the test needs only its configuration."""


class FakeConsumer:
    made = []

    def __init__(self, config):
        FakeConsumer.made.append(config)

    def list_topics(self, *args, **kwargs):
        raise ConsumerMade


@pytest.fixture
def made_consumers(monkeypatch):
    FakeConsumer.made = []
    monkeypatch.setattr(worker, "Consumer", FakeConsumer)
    monkeypatch.setattr(verdict_waiter, "Consumer", FakeConsumer)
    return FakeConsumer.made


def isolation_levels(made_consumers):
    """The isolation levels of the worker's consumer and of the decision waiter's."""
    worker.Worker(worker.Options(group_id="fraudsite-verdicts"))
    with pytest.raises(ConsumerMade):
        verdict_waiter.VerdictWaiter()._ensure_started()
    return [config["isolation.level"] for config in made_consumers]


@override_settings(KAFKA_ISOLATION_LEVEL="read_committed", DECISION_ISOLATION_LEVEL="read_uncommitted")
def test_the_worker_stores_committed_verdicts_and_decisions_are_answered_from_written_ones(made_consumers):
    assert isolation_levels(made_consumers) == ["read_committed", "read_uncommitted"]


@override_settings(KAFKA_ISOLATION_LEVEL="read_uncommitted", DECISION_ISOLATION_LEVEL="read_committed")
def test_each_consumer_reads_its_own_setting(made_consumers):
    assert isolation_levels(made_consumers) == ["read_uncommitted", "read_committed"]
