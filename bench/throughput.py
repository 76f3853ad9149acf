"""B3: pipeline throughput with all four signals, driven by the low-cost load generator.
And the detection job's CPU alone (jobcpu), the measure each change to the job is judged by.

Steps of rising rates, and a sustained run at one rate. Whether the pipeline keeps up is read
from Kafka, not the database: the verdict topic has grown by every transaction sent (the Flink
job), and the verdict worker's group has committed every verdict (the worker commits only what it
stored). Every second the sustained run checks that what was stored covers what had been sent
5 s earlier. Each step records the CPU the generator, the TaskManager, Kafka and the worker used.
"""

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import loadgen

BASE_DIR = Path(__file__).resolve().parent.parent
STORED_WITHIN_SECONDS = 5
# Every customer has all four signals on (the slowest path through the job).
ALL_SIGNALS = {"max_speed": 900, "velocity_max_transactions": 5, "velocity_window_minutes": 10,
               "spend_factor": 5.0, "usual_hour_start": 6, "usual_hour_end": 23, "time_zone": "Europe/London"}


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    return int(next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS")).split()[1]) / 1024


class Offsets:
    """Sums of a topic's end offsets, and of the committed offsets of a consumer group on it."""

    def __init__(self, group):
        from confluent_kafka import Consumer

        from fraudsite.kafka import client_config

        # Never subscribes: it only reads offsets (the group's committed ones, as the group's id).
        self.consumer = Consumer(client_config(**{"group.id": group, "enable.auto.commit": False}))

    def _partitions(self, topic):
        from confluent_kafka import TopicPartition

        metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
        return [TopicPartition(topic, p) for p in metadata.partitions]

    def end(self, topic):
        return sum(self.consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in self._partitions(topic))

    def committed(self, topic):
        return sum(max(tp.offset, 0) for tp in self.consumer.committed(self._partitions(topic), timeout=10))

    def close(self):
        self.consumer.close()


def setup_customers(count, say=print):
    """count customers with every signal on, published and read by the job; their user ids."""
    from outbox.publisher import publish_all_pending
    from simple_history.utils import bulk_create_with_history
    from tests.support.pipeline import wait_until_customers_read
    from users.models import Customer
    from users.publishing import publish_customers

    user_ids = [f"bench_{i:03d}" for i in range(count)]
    existing = set(Customer.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    Customer.objects.filter(user_id__in=existing).update(active=True, **ALL_SIGNALS)
    bulk_create_with_history([Customer(user_id=user_id, first_name="Bench", last_name=user_id, active=True, **ALL_SIGNALS)
                              for user_id in user_ids if user_id not in existing], Customer, batch_size=2_000)
    publish_customers(Customer.objects.filter(user_id__in=user_ids))
    sent, failed = publish_all_pending()
    say(f"customers: {count:,} in force ({count - len(existing):,} new), {sent:,} records published ({failed} failed)")
    # Long: after a run past capacity, the job first works off what it had not judged.
    wait_until_customers_read(timeout=900)
    return user_ids


# Spread as card traffic is: each of 10,000 customers pays with one of 100 cards (1,000,000 cards,
# a few transactions each in a run), at one of 20,000 merchants (0.5/s each at 10,000/s). What a
# busier key costs is in bench/RESULTS.md (B3, the counter rules).
BENCH_CUSTOMERS = 10_000
BENCH_CARDS_PER_CUSTOMER = 100
BENCH_MERCHANTS = 20_000


# Issue 32's target load: 10 lists of 10,000 entries each, of the kinds with many values (a block
# and an allow list of a kind hold different values). One bench customer's card is on the
# stolen-cards list, so its transactions fire a list reason; nothing else matches.
BENCH_LISTS = [("bench-stolen-cards", "card_token", "block"), ("bench-trusted-cards", "card_token", "allow"),
               ("bench-mule-merchants", "merchant", "block"), ("bench-vip-merchants", "merchant", "allow"),
               ("bench-bad-devices", "device", "block"), ("bench-lab-devices", "device", "allow"),
               ("bench-proxies", "ip", "block"), ("bench-office-ips", "ip", "allow"),
               ("bench-watched-customers", "customer", "block"), ("bench-risky-bins", "bin", "block")]
BENCH_LIST_ENTRIES = 10_000
BENCH_LISTS_IN_FORCE = f"{len(BENCH_LISTS)} lists of {BENCH_LIST_ENTRIES:,} entries"
BENCH_RULES_IN_FORCE = "the 4 example counter rules (counterrules/examples.py)"


def _bench_list_value(kind, list_number, n):
    if kind == "ip":
        return f"10.{list_number}.{n // 256}.{n % 256}"
    if kind == "bin":
        return f"{50_000_000 + n * 100:08d}"  # each under a 6-digit key of its own
    return f"bench-{list_number}-{kind}-{n}"


def setup_lists(user_ids, say=print):
    """BENCH_LISTS, each with BENCH_LIST_ENTRIES entries (imported as the admin's CSV import does),
    published and read by the job."""
    from django.utils import timezone

    from fraudsite.topics import LIST_MEMBERSHIPS
    from outbox.publisher import enqueue, publish_all_pending
    from tests.support.pipeline import wait_until_lists_read
    from transactions.simulator import card_and_device
    from watchlists.imports import import_entries
    from watchlists.publishing import list_records
    from watchlists.models import WatchList

    for number, (name, kind, effect) in enumerate(BENCH_LISTS):
        watch_list, _ = WatchList.objects.get_or_create(name=name, defaults={"kind": kind, "effect": effect})
        values = [_bench_list_value(kind, number, n) for n in range(BENCH_LIST_ENTRIES)]
        if name == "bench-stolen-cards":
            values[0] = card_and_device(user_ids[0])[0]
        added, changed = import_entries(watch_list, "value,reason\n" + "".join(f"{value},benchmark\n" for value in values),
                                        user=None)
        say(f"lists: {name}: {added:,} entries added, {changed:,} changed")
    # Every value in force, also those the import left unchanged: the stack's topics may be new.
    enqueue(LIST_MEMBERSHIPS, list_records(timezone.now()))
    sent, failed = publish_all_pending()
    say(f"lists: {sent:,} records published ({failed} failed); waiting for the job to read them")
    wait_until_lists_read(timeout=300)
    say("lists: in force")


def setup_rules(say=print):
    """The issue's four example counter rules in force, published with every customer and read by the job."""
    from counterrules.examples import EXAMPLE_RULES
    from counterrules.services import apply_changes
    from outbox.publisher import publish_all_pending
    from tests.support.pipeline import wait_until_customers_read
    from users.models import Customer
    from users.publishing import publish_customers

    apply_changes(EXAMPLE_RULES, user=None, reason="benchmark")
    publish_customers(Customer.objects.filter(active=True))
    sent, failed = publish_all_pending()
    say(f"rules: {len(EXAMPLE_RULES)} in force, {sent:,} records published ({failed} failed)")
    wait_until_customers_read(timeout=300)


def setup_detection(customers=BENCH_CUSTOMERS, say=print):
    """Issue 32's load: the customers, the 10 lists and the 4 rules in force; the customers' ids."""
    user_ids = setup_customers(customers, say)
    setup_lists(user_ids, say)
    setup_rules(say)
    return user_ids


def customers_pool(results_dir):
    """The benchmark's customers, lists and rules set up, and the generator's pool file of their
    positions (generated per run, not kept: bench/.gitignore)."""
    return loadgen.write_pool(setup_detection(), results_dir / "b3-pool.csv", merchants=BENCH_MERCHANTS,
                              cards_per_customer=BENCH_CARDS_PER_CUSTOMER)


def stack_pids():
    from localstack.layout import paths

    return {name: int(paths().pidfile(name).read_text()) for name in ("kafka", "flink-taskmanager")}


def flink_memory():
    """The TaskManager's heap in use (MiB) and the last checkpoint's state size (bytes)."""
    from fraudsite.flink_client import detection_jobs, flink_rest

    from tests.support import wait_until

    taskmanager = flink_rest("/taskmanagers")["taskmanagers"][0]["id"]
    # The first ask of a metric only starts its fetching: it answers with nothing.
    heap = wait_until(lambda: flink_rest(f"/taskmanagers/{taskmanager}/metrics?get=Status.JVM.Memory.Heap.Used"),
                      10, "the TaskManager's heap metric", interval=0.5)[0]["value"]
    job = next(job for job in detection_jobs() if job["state"] == "RUNNING")["jid"]
    latest = flink_rest(f"/jobs/{job}/checkpoints")["latest"]["completed"] or {}
    return {"taskmanager_heap_used_mib": round(float(heap) / 2**20), "state_size_bytes": latest.get("state_size")}


class Pipeline:
    """The stack's processes and a verdict worker of its own group, with their CPU accounted."""

    def __init__(self, log):
        from django.conf import settings

        from tests.support.kafka import group_at_end, wait_until_group_stable

        self.topic_in, self.topic_out = settings.TOPIC_CARD_TRANSACTIONS, settings.TOPIC_CARD_TRANSACTIONS_ENRICHED
        self.group = group_at_end(f"bench-b3-{uuid.uuid4().hex[:8]}", self.topic_out)
        self.worker = subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", "--group", self.group],
                                       cwd=BASE_DIR, env=os.environ, stdout=log, stderr=subprocess.STDOUT)
        self.pids = {**stack_pids(), "worker": self.worker.pid}
        self.offsets = Offsets(self.group)
        wait_until_group_stable(self.group)

    def cpu(self):
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def position(self):
        """(transactions in, verdicts out, verdicts stored) so far."""
        return (self.offsets.end(self.topic_in), self.offsets.end(self.topic_out),
                self.offsets.committed(self.topic_out))

    def close(self):
        self.offsets.close()
        self.worker.terminate()
        self.worker.wait(30)


def run_step(pipeline, pool, rate, seconds, generator_log):
    """One step: the generator at rate for seconds; kept up when everything sent is stored within
    STORED_WITHIN_SECONDS of the last send."""
    in0, out0, stored0 = pipeline.position()
    cpu0 = pipeline.cpu()
    report = loadgen.finish(loadgen.start(pool, rate, seconds, f"b3-{uuid.uuid4().hex[:6]}", log=generator_log))
    sent = report["acknowledged"]
    deadline = time.monotonic() + STORED_WITHIN_SECONDS
    while True:
        _, out, stored = pipeline.position()
        if stored - stored0 >= sent or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    cpu1 = pipeline.cpu()
    return {
        "rate": rate, "seconds": seconds, "sent": sent, "achieved_send_rate": round(sent / report["seconds"]),
        "verdicts_out": out - out0, "stored_within_5s": stored - stored0, "kept_up": stored - stored0 >= sent,
        "generator_cpu_share": round(report["cpu_share"], 3),
        "cpu_seconds_per_1000": {name: round((cpu1[name] - cpu0[name]) / max(sent, 1) * 1000, 3) for name in cpu1},
    }


def bench_b3(rates, step_seconds, results_dir, say):
    from django.conf import settings

    pool = customers_pool(results_dir)
    with open(results_dir / "b3-processes.log", "w") as log:
        pipeline = Pipeline(log)
        steps, best = [], 0
        try:
            for rate in rates:
                steps.append(run_step(pipeline, pool, rate, step_seconds, log))
                say(f"B3: {rate}/s -> {steps[-1]}")
                if not steps[-1]["kept_up"]:
                    break
                best = rate
                if steps[-1]["achieved_send_rate"] < rate * 0.95:
                    say("B3: the load generator cannot go faster")
                    break
        finally:
            pipeline.close()
    return {"partitions": settings.TOPIC_PARTITIONS, "flink_parallelism": settings.STACK_FLINK_PARALLELISM,
            "lists": BENCH_LISTS_IN_FORCE, "rules": BENCH_RULES_IN_FORCE, "step_seconds": step_seconds,
            "highest_rate_kept_up": best, "steps": steps}


def bench_sustained(rate, minutes, results_dir, say):
    """rate/s for minutes: each second, what was stored must cover what was sent 5 s before."""
    from django.conf import settings

    pool = customers_pool(results_dir)
    with open(results_dir / "sustained-processes.log", "w") as log:
        pipeline = Pipeline(log)
        try:
            memory_start = {**flink_memory(), "worker_rss_mib": round(rss_mib(pipeline.worker.pid))}
            _, _, stored0 = pipeline.position()
            cpu0 = pipeline.cpu()
            generator = loadgen.start(pool, rate, minutes * 60, f"sustained-{uuid.uuid4().hex[:6]}",
                                      log=subprocess.PIPE)
            acknowledged = []  # (when, how many the broker had acknowledged), from the generator each second
            loadgen.follow_progress(generator, lambda count: acknowledged.append((time.monotonic(), count)))
            started, checks, worst_behind, late_seconds = time.monotonic(), 0, 0, 0
            while generator.poll() is None:
                time.sleep(1)
                stored = pipeline.position()[2] - stored0
                checks += 1
                # What the broker had acknowledged STORED_WITHIN_SECONDS ago must be stored by now.
                due = [count for when, count in acknowledged if when <= time.monotonic() - STORED_WITHIN_SECONDS]
                behind = (due[-1] if due else 0) - stored
                worst_behind = max(worst_behind, behind)
                late_seconds += behind > 0
                if checks % 60 == 0:
                    say(f"sustained: {checks} checks, {acknowledged[-1][1] if acknowledged else 0:,} sent, "
                        f"{stored:,} stored")
            report = loadgen.finish(generator)
            time.sleep(STORED_WITHIN_SECONDS)
            _, out, stored = pipeline.position()
            cpu1 = pipeline.cpu()
            memory_end = {**flink_memory(), "worker_rss_mib": round(rss_mib(pipeline.worker.pid))}
        finally:
            pipeline.close()
    sent = report["acknowledged"]
    return {
        "partitions": settings.TOPIC_PARTITIONS, "flink_parallelism": settings.STACK_FLINK_PARALLELISM,
        "rate": rate, "minutes": minutes, "sent": sent, "achieved_send_rate": round(sent / report["seconds"]),
        "stored": stored - stored0, "every_verdict_stored_within_5s": late_seconds == 0 and stored - stored0 >= sent,
        "checks": checks, "checks_with_verdicts_older_than_5s": late_seconds, "most_verdicts_behind": worst_behind,
        "generator_cpu_share": round(report["cpu_share"], 3),
        "cpu_seconds_per_1000": {name: round((cpu1[name] - cpu0[name]) / max(sent, 1) * 1000, 3) for name in cpu1},
        "memory_start": memory_start, "memory_end": memory_end, "elapsed_seconds": round(time.monotonic() - started),
    }


def bench_jobcpu(rate, results_dir, say, warmup_seconds=40, windows=3, window_seconds=30):
    """The TaskManager's CPU seconds per 1,000 transactions, the job alone (no verdict worker) at
    rate/s: after warmup_seconds, the median of windows of window_seconds each. Transactions are
    counted by the verdicts the job wrote in each window (the clock's ticks have none)."""
    from django.conf import settings

    from fraudsite.flink_client import detection_jobs

    job = next(job["name"] for job in detection_jobs() if job["state"] == "RUNNING")
    load_before = os.getloadavg()[0]  # the machine is shared: how busy it was, for the record
    pool = customers_pool(results_dir)
    taskmanager = stack_pids()["flink-taskmanager"]
    offsets = Offsets(f"bench-jobcpu-{uuid.uuid4().hex[:8]}")
    topic_out = settings.TOPIC_CARD_TRANSACTIONS_ENRICHED
    seconds = warmup_seconds + windows * window_seconds + 5  # a margin so the last window is all load
    with open(results_dir / "jobcpu-processes.log", "w") as log:
        generator = loadgen.start(pool, rate, seconds, f"jobcpu-{uuid.uuid4().hex[:6]}", log=log)
        try:
            time.sleep(warmup_seconds)
            figures = []
            for _ in range(windows):
                out0, cpu0 = offsets.end(topic_out), cpu_seconds(taskmanager)
                time.sleep(window_seconds)
                out1, cpu1 = offsets.end(topic_out), cpu_seconds(taskmanager)
                figures.append({"transactions": out1 - out0, "cpu_seconds": round(cpu1 - cpu0, 2),
                                "per_1000": round((cpu1 - cpu0) / max(out1 - out0, 1) * 1000, 4)})
                say(f"jobcpu: {figures[-1]}")
            report = loadgen.finish(generator)
        finally:
            if generator.poll() is None:
                generator.kill()
            offsets.close()
    return {"job": job, "partitions": settings.TOPIC_PARTITIONS, "flink_parallelism": settings.STACK_FLINK_PARALLELISM,
            "lists": BENCH_LISTS_IN_FORCE, "rules": BENCH_RULES_IN_FORCE, "rate": rate, "warmup_seconds": warmup_seconds,
            "window_seconds": window_seconds,
            "achieved_send_rate": round(report["acknowledged"] / report["seconds"]),
            "generator_cpu_share": round(report["cpu_share"], 3),
            "load_average_before": load_before,
            "windows": figures,
            "taskmanager_cpu_seconds_per_1000": statistics.median(f["per_1000"] for f in figures)}
