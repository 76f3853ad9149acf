"""Reading and writing the real topics from tests."""

import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from fraudsite.kafka import client_config
from tests.support.waiting import wait_until


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def producer():
    return Producer(client_config(**{"linger.ms": 0}))


def latest_records(topic, key, timeout=15):
    """All records under key currently in the topic, oldest first, as (value bytes or None, timestamp)."""
    consumer = Consumer(client_config(**{"group.id": unique("test"), "enable.auto.commit": False}))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=timeout)[1] for tp in partitions}
        consumer.assign(partitions)
        found, done = [], {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            if message.key() == key.encode():
                found.append((message.value(), message.timestamp()[1]))
            if message.offset() + 1 >= ends[message.partition()]:
                done.add(message.partition())
        return found
    finally:
        consumer.close()


class TopicReader:
    """Collects decoded records from a topic, starting at its current end, until a condition holds.
    decode(value) gives the record to keep, or None for a record this reader is not about."""

    def __init__(self, topic, decode):
        self.decode = decode
        self.consumer = Consumer(client_config(**{"group.id": unique("test"), "enable.auto.commit": False}))
        metadata = self.consumer.list_topics(topic, timeout=15)
        partitions = []
        for p in metadata.topics[topic].partitions:
            end = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]
            partitions.append(TopicPartition(topic, p, end))
        self.consumer.assign(partitions)
        self.records = []

    def collect_until(self, done, timeout=20):
        """Poll until done(records) is true or the timeout passes; returns the records."""
        deadline = time.monotonic() + timeout
        while not done(self.records) and time.monotonic() < deadline:
            message = self.consumer.poll(0.2)
            if message is not None and not message.error():
                record = self.decode(message.value())
                if record is not None:
                    self.records.append(record)
        return self.records

    def close(self):
        self.consumer.close()


def create_topic(name, partitions=1):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(client_config())  # must outlive the future
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(15)
    return name


def group_at_end(group, topic):
    """A consumer group whose committed offsets are the topic's current end (no backlog to read)."""
    consumer = Consumer(client_config(**{"group.id": group, "enable.auto.commit": False}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = [TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in partitions]
    consumer.commit(offsets=ends, asynchronous=False)
    consumer.close()
    return group


def wait_until_group_stable(group, timeout=30):
    """Until a consumer (e.g. a just-started worker) has joined the group and owns its partitions."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config())

    def state_and_members():
        description = admin.describe_consumer_groups([group])[group].result(10)
        return description.state, len(description.members)

    wait_until(state_and_members, timeout, f"a consumer to join consumer group {group}", interval=0.3,
               until=lambda seen: seen[0] == ConsumerGroupState.STABLE and seen[1] > 0)
