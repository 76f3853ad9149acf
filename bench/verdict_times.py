"""When each verdict was written to card-transactions-enriched, read while a benchmark runs.

A verdict carries its transaction's `timestamp` (the sender's clock), `received_at` (the broker's
append time of the transaction, LogAppendTime) and its own record time (when Flink's producer sent
it: the verdict topic keeps CreateTime). A consumer's own delay therefore never counts."""

import threading
from contextlib import contextmanager
from typing import NamedTuple


class VerdictTimes(NamedTuple):
    """Epoch milliseconds of one verdict's transaction and of the verdict."""
    sent: int  # the transaction's own timestamp
    received: int  # the broker took the transaction
    written: int  # Flink's producer sent the verdict


@contextmanager
def verdicts_written():
    """Yields a dict, transaction id -> VerdictTimes, filled with every verdict written from now
    until the block ends."""
    from confluent_kafka import Consumer, TopicPartition

    from fraudsite.kafka import client_config
    from fraudsite.topics import VERDICTS
    from tests.support.kafka import unique
    from transactions.verdict_waiter import FETCH_HOLD_MS

    topic, codec = VERDICTS.name, VERDICTS.codec()
    consumer = Consumer(client_config(**{"group.id": unique("bench-verdicts"), "enable.auto.commit": False,
                                         "fetch.wait.max.ms": FETCH_HOLD_MS}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
                     for p in partitions])
    written, stop = {}, threading.Event()

    def run():
        while not stop.is_set():
            for message in consumer.consume(num_messages=1000, timeout=0.1):
                if not message.error():
                    verdict = codec.decode(message.value())
                    written[verdict["transaction_id"]] = VerdictTimes(
                        verdict["timestamp"], verdict["received_at"], message.timestamp()[1])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join(5)
        consumer.close()
