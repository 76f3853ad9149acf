"""Replay: what a proposal would have done to the stored history.

The stack's own detection query (fraudsite/detection_sql.py, variant "replay": the same statement
over other tables) runs in Flink over topics written for one replay:

1. export: the affected customers' stored transactions (Verdict rows) in the window, plus the
   HISTORY_ROWS before it per customer (the query looks back that far), produced in their original
   arrival order to one partition, each with its original record time as CreateTime; and each
   customer's candidate users-config record (today's record with the proposal's changes), stamped
   before the first transaction;
2. flink: the rendered query reads both topics up to their end and writes verdicts to a third;
   the job finishes when its input ends; read: the replayed verdicts are read back;
3. compare: the replayed verdicts of the transactions in the window against the stored ones
   (what the live job decided with the thresholds then in force), with the analysts' reviews.

The topics are deleted afterwards. Progress goes to the proposal (percent and a message). A
replay runs in the replay process (proposals/replay_queue.py), never in a web process.

Where Flink runs is fraudsite/flink_client.py's business: the local stack's session cluster, or
Confluent Cloud's statement API (the same statement as the live cloud job, over the replay's
topics, whose value schemas the replay registers and deletes there).
"""

import logging
import time
import uuid
from datetime import timedelta

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from fraudsite import detection_sql
from fraudsite.detection_counters import RULE_REASON_PREFIX
from fraudsite.detection_sql import HISTORY_ROWS
from fraudsite.flink_client import flink_client
from fraudsite.kafka import client_config
from fraudsite.topics import (CARD_TRANSACTIONS, LIST_MEMBERSHIPS, REPLAY_TOPIC_PREFIX, TOPICS, USERS_CONFIG, VERDICTS,
                              replay_topics)

from alerts.models import ReviewStatus
from counterrules.services import published_rules
from transactions import context
from transactions.models import Verdict
from users.models import Customer, ScoringPolicy, notices_in_effect
from users.publishing import users_config_value
from watchlists.publishing import fraud_reason_codes, list_records
from users.thresholds import apply_changes

from .models import Proposal
from .services import ProposalRefused, record, replay_fingerprint, replay_input

logger = logging.getLogger("fraudsite.replay")

JOB_NAME_PREFIX = "replay-"
# Flink 2.2 refuses the detection query in batch mode (docs/operator/proposals.md, "Batch mode"): streaming mode over
# bounded topics, which finishes when the input ends.
RUNTIME_MODE = "streaming"
# How many affected transactions a result lists (the counts cover all of them).
LISTED_TRANSACTIONS = 1000
# A replay job still running after this long is cancelled (and the replay fails).
JOB_TIMEOUT_SECONDS = 3600
# What compare() reads of each replayed verdict.
COMPARED_FIELDS = ("status", "reasons")

# The stored transaction as card-transactions carried it, and how it is ordered: arrival order.
# A customer's verdicts share a partition of the verdict topic in the order the job read them.
HISTORY_SQL = f"""
WITH affected AS (SELECT unnest(%(user_ids)s::text[]) AS user_id),
in_window AS (
  SELECT v.* FROM {Verdict._meta.db_table} v JOIN affected USING (user_id)
  WHERE v.received_at >= %(start)s AND v.received_at < %(end)s
),
look_back AS (
  SELECT b.* FROM affected a CROSS JOIN LATERAL (
    SELECT * FROM {Verdict._meta.db_table} v
    WHERE v.user_id = a.user_id AND v.received_at < %(start)s
    ORDER BY v.received_at DESC, v.kafka_partition DESC, v.kafka_offset DESC LIMIT %(rows)s) b
)
SELECT user_id, transaction_id, (EXTRACT(EPOCH FROM "timestamp") * 1000)::bigint, lat, lng, amount,
       (EXTRACT(EPOCH FROM received_at) * 1000)::bigint, {", ".join(context.NAMES)}
FROM (SELECT * FROM in_window UNION ALL SELECT * FROM look_back) t
ORDER BY received_at, kafka_partition, kafka_offset
"""


class ReplayStopped(Exception):
    """The replay process was told to stop (SIGTERM) while a replay ran."""


class Phases:
    """Reports progress to the proposal (update(): no audit row per percent) and times each phase.
    A report is also where a replay stops when its process is told to (stopped is set)."""

    def __init__(self, proposal_id, stopped=None):
        self.proposal_id, self.stopped, self.timings, self._started = proposal_id, stopped, {}, None

    def report(self, percent, message):
        if self.stopped is not None and self.stopped.is_set():
            raise ReplayStopped("the replay process was told to stop; queue the replay again")
        logger.info("proposal %s replay: %s%% %s", self.proposal_id, percent, message)
        if self.proposal_id is not None:
            Proposal.objects.filter(pk=self.proposal_id).update(replay_progress=percent, replay_message=message[:500])

    def start(self, name, percent, message):
        self.stop()
        self._started = (name, time.monotonic())
        self.report(percent, message)

    def stop(self):
        if self._started:
            name, began = self._started
            self.timings[name] = round(time.monotonic() - began, 3)
            self._started = None


def candidate_records(changes, window_start, rules):
    """{user_id: users-config value}: each customer as published today, with the changes applied,
    the travel notices that had not ended when the window began and these counter rules."""
    customers = list(Customer.objects.filter(user_id__in=list(changes)))
    scoring = ScoringPolicy.current().published_fields()
    notices = {}
    for notice in notices_in_effect([c.pk for c in customers], now=window_start):
        notices.setdefault(notice.customer_id, []).append(notice)
    records = {}
    for customer in customers:
        refused = apply_changes(customer, changes[customer.user_id])  # in memory only
        if refused:
            raise ProposalRefused(f"{customer.user_id}: {refused}")
        if customer.active:
            records[customer.user_id] = users_config_value(customer, notices.get(customer.pk, []), scoring, rules)
    return records


def create_topics(topics):
    # One partition: read order is then the order written, the original arrival order. Kept
    # forever: old record times would otherwise fall out of a time-based retention at once. The
    # users-config copy is compacted like the live one (Confluent Cloud infers an upsert table from that).
    admin = AdminClient(client_config())  # must outlive its futures
    configs = {topic.role: {"retention.ms": "-1", "message.timestamp.type": "CreateTime",
                            "cleanup.policy": topic.config["cleanup.policy"]} for topic in TOPICS}
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=-1, config=configs[role])
                                   for role, name in topics.items()])
    for future in futures.values():
        future.result(30)
    if settings.SCHEMA_REGISTRY_URL:  # the values' schemas, as Terraform registers the live topics'
        from confluent_kafka.schema_registry import Schema

        from fraudsite.avro import registry_client

        for topic in TOPICS:
            registry_client().register_schema(f"{topics[topic.role]}-value",
                                              Schema(topic.value_schema_path.read_text(), "AVRO"))


def delete_topics(topics):
    try:
        admin = AdminClient(client_config())  # must outlive its futures
        for future in admin.delete_topics(list(topics.values())).values():
            future.result(30)
        if settings.SCHEMA_REGISTRY_URL:
            from fraudsite.avro import registry_client

            for name in topics.values():
                registry_client().delete_subject(f"{name}-value")
                registry_client().delete_subject(f"{name}-value", permanent=True)
    except Exception:  # cleaning up must not hide the replay's own outcome
        logger.exception("could not delete the replay topics %s", list(topics.values()))


def export_history(user_ids, start, end, topic, phases):
    """Produce the transactions to replay; returns [(transaction_id, user_id)] in order."""
    producer = Producer(client_config(**{"linger.ms": 50, "batch.num.messages": 10_000, "compression.type": "lz4",
                                         "queue.buffering.max.messages": 500_000}))
    codec = CARD_TRANSACTIONS.codec(topic)
    produced = []
    with connection.cursor() as cursor:
        cursor.execute(HISTORY_SQL, {"user_ids": list(user_ids), "start": start, "end": end, "rows": HISTORY_ROWS})
        while rows := cursor.fetchmany(20_000):
            for user_id, transaction_id, stamp, lat, lng, amount, received_at, *context_values in rows:
                value = codec.encode({"timestamp": stamp, "transaction_id": transaction_id, "lat": lat, "lng": lng,
                                      "amount": amount, **dict(zip(context.NAMES, context_values))})
                while True:
                    try:
                        producer.produce(topic, key=user_id.encode(), value=value, timestamp=received_at)
                        break
                    except BufferError:
                        producer.poll(0.1)
                produced.append((transaction_id, received_at))
            producer.poll(0)
            phases.report(5 + min(15, len(produced) // 100_000), f"exported {len(produced):,} transactions")
    if producer.flush(120):
        raise RuntimeError("Kafka did not take every replayed transaction within 120 s")
    return produced


def produce_before(contract, records, topic, first_time_ms):
    """Produce {key: value} of a contract (a registry Topic) to a replay's copy of its topic, stamped
    a second before the first replayed transaction, so that every transaction sees them."""
    producer = Producer(client_config(**{"linger.ms": 20}))
    codec = contract.codec(topic)
    for key, value in records.items():
        producer.produce(topic, key=key.encode(), value=codec.encode(value), timestamp=first_time_ms - 1000)
    if producer.flush(60):
        raise RuntimeError(f"Kafka did not take the replay's {contract.role} records within 60 s")


def _end_offset(topic):
    consumer = Consumer(client_config(**{"group.id": REPLAY_TOPIC_PREFIX + "progress", "enable.auto.commit": False}))
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        consumer.close()


def run_job(topics, total, phases, runtime_mode=RUNTIME_MODE, timeout=None, client=None):
    """Run the rendered replay SQL where Flink runs (fraudsite/flink_client.py) and wait until the
    job finishes, reporting the verdicts written so far against the transactions sent."""
    client = client or flink_client()
    name = JOB_NAME_PREFIX + topics["card_transactions"].removeprefix(REPLAY_TOPIC_PREFIX).split("-")[0]
    statements = [sql for _, sql in detection_sql.statements(
        client.variant, bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, partitions=1, topics=topics,
        runtime_mode=runtime_mode)]

    def progress():
        written = _end_offset(topics["card_transactions_enriched"])
        phases.report(25 + int(65 * min(written, total) / max(total, 1)),
                      f"Flink: {written:,} of {total:,} transactions judged")

    client.run_bounded(name, statements, progress, timeout or JOB_TIMEOUT_SECONDS)
    return name


def read_verdicts(topic, fields=None):
    """{transaction_id: verdict record} of the replay's output (the sink is at-least-once: the last
    wins); only these fields of each when given (a million whole records would take gigabytes)."""
    consumer = Consumer(client_config(**{"group.id": REPLAY_TOPIC_PREFIX + uuid.uuid4().hex, "enable.auto.commit": False,
                                         "fetch.max.bytes": 50 * 2**20}))
    codec = VERDICTS.codec(topic)
    verdicts = {}
    try:
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, 0)])
        position = 0
        while position < end:
            for message in consumer.consume(10_000, timeout=1):
                if message.error():
                    continue
                record = codec.decode(message.value())
                verdicts[record["transaction_id"]] = record if fields is None else {f: record[f] for f in fields}
                position = message.offset() + 1
    finally:
        consumer.close()
    return verdicts


def replay_history(changes, start, end, phases=None, fields=None, rules=None):
    """Run the detection query over the customers' stored transactions with the candidate
    thresholds and counter rules (None: the rules in force); returns {transaction_id: replayed
    verdict (these fields of it)} of every transaction sent (the window's and the look-back before it)."""
    phases = phases or Phases(None)
    topics = replay_topics(uuid.uuid4().hex[:12])
    create_topics(topics)
    try:
        phases.start("export", 5, "exporting the stored transactions")
        records = candidate_records(changes, start, published_rules() if rules is None else rules)
        produced = export_history(list(changes), start, end, topics["card_transactions"], phases)
        if not produced:
            phases.stop()
            return {}
        produce_before(USERS_CONFIG, records, topics["users_config"], produced[0][1])
        produce_before(LIST_MEMBERSHIPS, list_records(start), topics["list_memberships"], produced[0][1])
        phases.start("flink", 25, f"Flink: judging {len(produced):,} transactions")
        run_job(topics, len(produced), phases)
        phases.start("read", 90, "reading the replayed verdicts")
        verdicts = read_verdicts(topics["card_transactions_enriched"], fields)
        phases.stop()
        missing = len({transaction_id for transaction_id, _ in produced} - set(verdicts))
        if missing:
            raise RuntimeError(f"the replay judged {len(verdicts):,} of {len(produced):,} transactions; {missing:,} missing")
        return verdicts
    finally:
        delete_topics(topics)


def _fraud_reasons(reasons, codes):
    return [reason for reason in (reasons or "").split(",") if reason in codes]


def compare(replayed, user_ids, start, end, rules=()):
    """Alerts gained and lost in the window against the stored verdicts, with the analysts'
    decisions on them, per reason code (the candidate rules' too), and the affected transactions."""
    empty = lambda: {"count": 0, **{status or "open": 0 for status in ReviewStatus.values}}  # noqa: E731
    codes = fraud_reason_codes()
    codes += [code for code in (RULE_REASON_PREFIX + rule["name"] for rule in rules) if code not in codes]
    result = {"transactions": 0, "not_replayed": 0, "alerts_before": 0, "alerts_after": 0, "gained": empty(), "lost": empty(),
              "per_reason": {reason: {"gained": 0, "lost": 0} for reason in codes}, "affected": []}
    stored = Verdict.objects.filter(user_id__in=user_ids, received_at__gte=start, received_at__lt=end).order_by(
        "received_at", "kafka_partition", "kafka_offset").values_list(
        "transaction_id", "user_id", "received_at", "status", "reasons", "alert__review_status", "speed_kmh")
    for transaction_id, user_id, received_at, status, reasons, review, speed in stored.iterator(chunk_size=20_000):
        after = replayed.get(transaction_id)
        if after is None:  # stored after the export had read the window (the worker was behind)
            result["not_replayed"] += 1
            continue
        before_fraud, after_fraud = status == "FRAUD", after["status"] == "FRAUD"
        result["transactions"] += 1
        result["alerts_before"] += before_fraud
        result["alerts_after"] += after_fraud
        if before_fraud == after_fraud:
            continue
        change = "gained" if after_fraud else "lost"
        result[change]["count"] += 1
        result[change][review or "open"] += 1
        for reason in _fraud_reasons(after["reasons"] if after_fraud else reasons, codes):
            result["per_reason"][reason][change] += 1
        if len(result["affected"]) < LISTED_TRANSACTIONS:
            result["affected"].append({
                "transaction_id": transaction_id, "user_id": user_id, "received_at": received_at.isoformat(),
                "change": change, "before": reasons, "after": after["reasons"], "review_status": review or "open",
                "speed_kmh": speed})
    return result


def run_claimed(proposal, stopped=None):
    """Replay a proposal that this process has claimed (proposals/replay_queue.py: it is REPLAYING,
    under this process's name) over its window, storing progress and then the result, or the error
    with the proposal marked failed. stopped: an Event that, once set, stops the replay at its next
    progress report (the replay process's SIGTERM)."""
    end = timezone.now()
    start = end - timedelta(days=proposal.replay_days)
    phases = Phases(proposal.pk, stopped)
    try:
        fingerprint = replay_fingerprint(proposal)  # before reading: a change during the replay shows
        changes, rules = replay_input(proposal)
        replayed = replay_history(changes, start, end, phases, fields=COMPARED_FIELDS, rules=rules)
        phases.start("compare", 92, "comparing with the stored verdicts")
        result = compare(replayed, list(changes), start, end, rules)
        phases.stop()
        result["timings"] = phases.timings
        result["replayed"] = len(replayed)
    except Exception as error:
        logger.exception("replay of proposal %s failed", proposal.pk)
        _finish(proposal, "replay failed", status=Proposal.Status.REPLAY_FAILED,
                replay_message=f"Replay failed: {error}"[:500])
        raise
    return _finish(proposal, "replayed", status=Proposal.Status.REPLAYED, replay_result=result,
                   replay_fingerprint=fingerprint, replay_window_start=start, replay_window_end=end,
                   replay_progress=100, replay_message="finished")


def _finish(claimed, reason, **fields):
    """Record the replay's end on the proposal, unless it is no longer this replay's: marked failed
    meanwhile (its heartbeat was missed), rejected, or claimed again."""
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=claimed.pk)
        if (proposal.status, proposal.replay_started_at) != (Proposal.Status.REPLAYING, claimed.replay_started_at):
            logger.warning("proposal %s: its replay ended (%s) but it is %s now: not recorded", claimed.pk, reason,
                           proposal.get_status_display().lower())
            return proposal
        for name, value in fields.items():
            setattr(proposal, name, value)
        proposal.replay_finished_at = timezone.now()
        record(proposal, reason, None)
    return proposal
