"""Bringing a compacted topic's records to its schema's current version before a job of new SQL
reads it.

The local job reads plain Avro with the current schema only. A record that an earlier version
wrote ends early there, and the job fails on it. Confluent Cloud resolves versions through its
registry, so this is needed only here. A compacted topic holds state (each key's latest record),
so it can be rewritten: each key's latest record is read, with the contract's earlier schemas
where needed, and written again in the current version with its original timestamp. The job
then reads every key as it was, from the time it was.
"""

import time

from confluent_kafka import OFFSET_BEGINNING, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from fraudsite.kafka import client_config

from .handover import read_records, watermarks
from .messages import say


def _latest_records(topic, partitions):
    """{key: (partition, value bytes or None, timestamp ms)}: each key's latest record."""
    latest = {}

    def keep(message):
        latest[message.key()] = (message.partition(), message.value(), message.timestamp()[1])

    read_records(topic, dict.fromkeys(partitions, OFFSET_BEGINNING), watermarks(topic, partitions), keep)
    return latest


def _recreate(admin, contract, partitions):
    """Delete the topic and create it again, empty, taking the producer's timestamps for now."""
    for future in admin.delete_topics([contract.name]).values():
        future.result(30)
    deadline = time.monotonic() + 60
    while contract.name in admin.list_topics(timeout=10).topics:  # deletion completes in the background
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kafka did not delete {contract.name} within 60 s")
        time.sleep(0.2)
    config = {**contract.config, "message.timestamp.type": "CreateTime"}
    while True:
        try:
            admin.create_topics([NewTopic(contract.name, num_partitions=len(partitions), replication_factor=-1,
                                          config=config)])[contract.name].result(30)
            return
        except Exception as error:  # the broker may still be finishing the deletion
            if "marked for deletion" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def upgrade_compacted_topic(contract):
    """Rewrite the contract's compacted topic in its current schema version when any key's latest
    record is of an earlier version; returns how many keys were rewritten (0: nothing to do)."""
    admin = AdminClient(client_config())
    metadata = admin.list_topics(contract.name, timeout=10).topics.get(contract.name)
    if metadata is None or metadata.error is not None:
        return 0
    partitions = sorted(metadata.partitions)
    codec = contract.codec()
    latest = _latest_records(contract.name, partitions)
    values = {key: (partition, None if value is None else codec.encode(codec.decode(value)), stamp)
              for key, (partition, value, stamp) in latest.items()}
    if all(values[key][1] == value for key, (_, value, _) in latest.items()):
        return 0
    say(f"{contract.name}: records of an earlier schema version; rewriting its {len(latest):,} keys in the current one")
    _recreate(admin, contract, partitions)
    producer = Producer(client_config(**{"linger.ms": 20}))
    for key, (partition, value, stamp) in values.items():
        if value is not None:  # a key whose latest record is a tombstone is simply gone
            producer.produce(contract.name, key=key, value=value, partition=partition, timestamp=stamp)
            producer.poll(0)
    if producer.flush(60):
        raise RuntimeError(f"Kafka did not take the rewritten {contract.name} records within 60 s")
    timestamps = ConfigEntry("message.timestamp.type", contract.config.get("message.timestamp.type", "CreateTime"),
                             incremental_operation=AlterConfigOpType.SET)  # the topic's own from now on
    for future in admin.incremental_alter_configs([ConfigResource("topic", contract.name,
                                                                  incremental_configs=[timestamps])]).values():
        future.result(30)
    return sum(1 for _, value, _ in values.values() if value is not None)
