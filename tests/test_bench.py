"""The benchmarks' load generator writes exactly what the product's codec writes, and sends what it says."""

import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from bench import loadgen
from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS


@pytest.mark.parametrize("record", [
    {"timestamp": 1_700_000_000_000, "transaction_id": "tx-1", "lat": 51.5, "lng": -0.12, "amount": 12.5},
    {"timestamp": 0, "transaction_id": "é-" + "x" * 200, "lat": -90.0, "lng": 180.0, "amount": 0.01},
])
def test_the_generator_encodes_like_the_codec(stack, record):
    assert loadgen.encode(*record.values()) == CARD_TRANSACTIONS.codec().encode(record)


@pytest.mark.stack
def test_the_generator_sends_every_record_at_its_rate_and_reports_its_cpu(stack, tmp_path):
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"loadgen-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(client_config())  # must outlive the future
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(15)
    pool = loadgen.write_pool(["a", "b", "c"], tmp_path / "pool.csv", size=50)
    generator = loadgen.start(pool, rate=200, seconds=2, run_id="t", topic=topic, log=subprocess.PIPE)
    progress = []
    loadgen.follow_progress(generator, progress.append)
    report = loadgen.finish(generator, timeout=60)
    assert (report["sent"], report["acknowledged"], report["failed"]) == (400, 400, 0)
    assert progress and progress == sorted(progress) and progress[-1] <= 400  # one line a second
    assert 0 < report["cpu_share"] < 1
    consumer = Consumer(client_config(**{"group.id": topic}))
    try:
        ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(2)]
        consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
        first = consumer.consume(1, timeout=10)[0]
    finally:
        consumer.close()
    assert sum(ends) == 400
    decoded = CARD_TRANSACTIONS.codec().decode(first.value())
    assert first.key().decode() in {"a", "b", "c"} and decoded["transaction_id"].startswith("t-")
