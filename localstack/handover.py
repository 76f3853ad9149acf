"""Where a replaced detection job stopped, as offsets of card-transactions, so that the job of the
new SQL takes over exactly there: no transaction judged twice, none skipped (localstack/flink.py).

Flink commits its Kafka source's offsets to the consumer group only when a checkpoint completes,
not at the savepoint of a stop (measured here), so the group's offsets are up to a checkpoint
interval behind what the stopped job had read. That job was stopped drained, so every transaction
it read has its verdict, and it read each partition in offset order: what it read is each
partition's prefix up to the first transaction without a verdict. That is found by reading from
the group's offsets on, and committed to the group, where the new job (scan.startup.mode
group-offsets) starts."""

import time
import uuid
from collections import Counter

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from fraudsite.detection_sql import DETECTION_GROUP
from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS, TICK_USER_ID, VERDICTS

# Verdicts are read from this long before the first transaction that may lack one: the broker
# stamps the transaction and Flink's producer the verdict, both with this machine's clock.
CLOCK_MARGIN_MS = 60_000
# A broker just started has no group coordinator for a moment: asked then, it says so.
COORDINATOR_STARTING = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                        KafkaError.COORDINATOR_NOT_AVAILABLE)
COORDINATOR_WAIT_SECONDS = 60


def hand_over():
    """Commit, for each partition of card-transactions, the offset of its first transaction that
    has no verdict (or its end) as the detection group's offset; returns {partition: offset}."""
    committed = _committed_offsets()
    transactions, ends, earliest_time = _transactions_from(committed)
    verdicts = _verdict_counts(earliest_time - CLOCK_MARGIN_MS, {transaction_id for _, _, transaction_id in transactions})
    cut_over = dict(ends)
    for partition, offset, transaction_id in transactions:  # in offset order per partition
        if verdicts[transaction_id] > 0:
            verdicts[transaction_id] -= 1  # a transaction id sent twice needs two verdicts
        else:
            cut_over[partition] = min(cut_over[partition], offset)
    group = _group_member()
    try:  # the stopped job has left the group, so a member outside it may commit for it
        _once_the_coordinator_answers(lambda: group.commit(offsets=[
            TopicPartition(CARD_TRANSACTIONS.name, partition, offset) for partition, offset in sorted(cut_over.items())],
            asynchronous=False))
    finally:
        group.close()
    return cut_over


def _once_the_coordinator_answers(call):
    """call(), asked again while the group's coordinator is still starting (up to a minute)."""
    deadline = time.monotonic() + COORDINATOR_WAIT_SECONDS
    while True:
        try:
            return call()
        except KafkaException as error:
            if error.args[0].code() not in COORDINATOR_STARTING or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _reader():
    return Consumer(client_config(**{"group.id": f"detection-handover-{uuid.uuid4().hex}",
                                     "enable.auto.commit": False, "enable.partition.eof": False}))


def _group_member():
    """A consumer of the detection group that never joins it: it reads and commits the offsets."""
    return Consumer(client_config(**{"group.id": DETECTION_GROUP, "enable.auto.commit": False}))


def _committed_offsets():
    """{partition: the group's offset, or OFFSET_BEGINNING when it never committed}."""
    reader = _reader()
    try:
        partitions = reader.list_topics(CARD_TRANSACTIONS.name, timeout=30).topics[CARD_TRANSACTIONS.name].partitions
        consumer = _group_member()
        try:
            committed = _once_the_coordinator_answers(lambda: consumer.committed(
                [TopicPartition(CARD_TRANSACTIONS.name, p) for p in partitions], timeout=30))
        finally:
            consumer.close()
        return {tp.partition: tp.offset if tp.offset >= 0 else OFFSET_BEGINNING for tp in committed}
    finally:
        reader.close()


def read_records(topic, starts, ends, each):
    """Call each(message) for every record of topic from starts[p] up to ends[p] (exclusive)."""
    low = watermarks(topic, ends, low=True)
    starts = {p: low[p] if starts[p] == OFFSET_BEGINNING else max(starts[p], low[p]) for p in ends}
    left = {p: end for p, end in ends.items() if end > starts[p]}
    if not left:
        return
    reader = _reader()
    try:
        reader.assign([TopicPartition(topic, p, starts[p]) for p in left])
        while left:
            for message in reader.consume(1000, timeout=1):
                if message.error():
                    continue
                each(message)
                if message.offset() + 1 >= left.get(message.partition(), 0):
                    left.pop(message.partition(), None)
    finally:
        reader.close()


def watermarks(topic, partitions, low=False):
    """{partition: its end offset} (or its first offset still kept, when low)."""
    reader = _reader()
    try:
        return {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[0 if low else 1]
                for p in partitions}
    finally:
        reader.close()


def _transactions_from(starts):
    """[(partition, offset, transaction_id)] of the transactions (not ticks) from starts on, the
    partitions' end offsets, and the broker's time of the first record read (ms)."""
    codec, found, times = CARD_TRANSACTIONS.codec(), [], []
    ends = watermarks(CARD_TRANSACTIONS.name, starts)

    def keep(message):
        times.append(message.timestamp()[1])
        if message.key() != CARD_TRANSACTIONS.encode_key(TICK_USER_ID):
            found.append((message.partition(), message.offset(), codec.decode(message.value())["transaction_id"]))

    read_records(CARD_TRANSACTIONS.name, starts, ends, keep)
    return found, ends, min(times, default=0)


def _verdict_counts(since_ms, transaction_ids):
    """How many verdicts each of transaction_ids has on the verdict topic since since_ms."""
    codec, counts = VERDICTS.codec(), Counter()
    reader = _reader()
    try:
        partitions = reader.list_topics(VERDICTS.name, timeout=30).topics[VERDICTS.name].partitions
        starts = {tp.partition: tp.offset for tp in reader.offsets_for_times(
            [TopicPartition(VERDICTS.name, p, max(since_ms, 0)) for p in partitions], timeout=30)}
    finally:
        reader.close()
    ends = watermarks(VERDICTS.name, partitions)
    starts = {p: offset if offset >= 0 else ends[p] for p, offset in starts.items()}  # -1: none since then

    def count(message):
        transaction_id = codec.decode(message.value())["transaction_id"]
        if transaction_id in transaction_ids:
            counts[transaction_id] += 1

    read_records(VERDICTS.name, starts, ends, count)
    return counts
