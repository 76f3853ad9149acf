"""fraudsite benchmarks: `make bench` (quick) or `make bench MODE=full`, each on a stack of its own
that make starts and stops; by hand, on the stack the STACK_* settings name. See bench/README.md
for what each benchmark measures.

Writes bench/results/<mode>.json (machine-readable), bench/results/<mode>.md (the table) and
bench/results/<mode>-latency.png (the B2 latency distribution).
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://fraudsite:fraudsite@localhost:5432/fraudsite_bench")
# B6's millions of verdicts live in a database of their own, so the other benchmarks' stay small.
ANALYTICS_DATABASE_URL = os.environ.get("BENCH_ANALYTICS_DATABASE_URL",
                                        "postgres://fraudsite:fraudsite@localhost:5432/fraudsite_bench_analytics")
# B7's million stored transactions too.
REPLAY_DATABASE_URL = os.environ.get("BENCH_REPLAY_DATABASE_URL",
                                     "postgres://fraudsite:fraudsite@localhost:5432/fraudsite_bench_replay")
if "REDIS_URL" not in os.environ:  # Redis database 1, with the local Redis password (scripts/services.sh)
    os.environ["REDIS_URL"] = subprocess.run([str(Path(__file__).resolve().parent.parent / "scripts" / "services.sh"),
                                              "redis-url", "1"], capture_output=True, text=True, check=True).stdout.strip()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")

MODES = {
    "quick": {"b1_records": 10_000, "b2_steps": [(1, 6), (200, 5), (1000, 3)], "b3_rates": [200], "b3_seconds": 5,
              "sustained_rate": 1000, "sustained_minutes": 1, "jobcpu_rate": 10_000,
              "b4_history": 2_000, "b4_clients": 10, "b4_rate": 10, "b4_seconds": 3, "b4_repeats": 2,
              # B5 (bench/decisions.py): (rate, seconds) steps on b5_processes web processes; the
              # overload (then the recovery at once) and the scaling runs are full mode's only.
              "b5_steps": [(200, 5)], "b5_processes": 1, "b5_overload": None, "b5_recovery": None,
              "b5_scaling_step": (1000, 60), "b5_scaling_processes": [], "b5_limit_steps": [(200, 5)],
              "b6_verdicts": 200_000, "b6_repeats": 2,
              "b7_transactions": 100_000},
    "full": {"b1_records": 200_000, "b2_steps": [(1, 120), (200, 60), (1000, 30)],
             "b3_rates": [500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000], "b3_seconds": 20,
             "sustained_rate": 10_000, "sustained_minutes": 10, "jobcpu_rate": 10_000,
             "b4_history": 10_000, "b4_clients": 100, "b4_rate": 20, "b4_seconds": 15, "b4_repeats": 5,
             # A stack minutes old answered the same decisions about twice as slowly as the same
             # stack ten minutes later (RESULTS.md, B5): the first steps come after this.
             "b5_stack_warm_up": (200, 300),
             "b5_steps": [(200, 60), (1000, 300)], "b5_processes": 2, "b5_overload": (3000, 60),
             "b5_recovery": (1000, 30), "b5_scaling_step": (1000, 60), "b5_scaling_processes": [1, 2, 4],
             "b5_limit_steps": [(1000, 60), (2000, 60), (3000, 60)],
             # the same overload with HAProxy in front (python -m fraudsite.proxy)
             "b5_proxy_steps": [(1000, 60)], "b5_proxy_overload": (3000, 60),
             "b6_verdicts": 10_000_000, "b6_repeats": 5,
             "b7_transactions": 1_000_000},
}


# B5's overload with and without HAProxy in front, and nothing else: `--mode overload --only b5`.
MODES["overload"] = {**MODES["full"], "b5_steps": [(1000, 60)], "b5_scaling_processes": [], "b5_limit_steps": []}
# B5's ladder, overload and recovery behind HAProxy only, as production runs it: `--mode proxy --only b5`.
MODES["proxy"] = {**MODES["overload"], "b5_steps": [], "b5_overload": None, "b5_proxy_steps": [(200, 60), (1000, 300)]}
# Where a decision's time goes at 200/s and 1,000/s (b5 steps' stages), the product's and the limit's,
# nothing else: `--mode stages --only b5`.
MODES["stages"] = {**MODES["full"], "b5_steps": [(200, 30), (1000, 30)], "b5_overload": None,
                   "b5_proxy_overload": None, "b5_scaling_processes": [], "b5_limit_steps": [(200, 30), (1000, 30)]}


def say(message):
    print(f"[bench] {message}", flush=True)


def setup_django():
    import django
    from django.core.management import call_command

    ensure_database()
    django.setup()
    call_command("migrate", verbosity=0)


def ensure_database():
    """Create the benchmark database (kept apart from the product's history) when missing."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


def machine():
    memory_kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_gib": round(memory_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def require_stack():
    from fraudsite.kafka import broker_reachable
    from fraudsite.flink_client import detection_jobs

    if not broker_reachable() or not any(job["state"] == "RUNNING" for job in detection_jobs()):
        sys.exit("the local stack is not running with the detection job: run `make stack-up` first")


# --- B1: consumer throughput ---------------------------------------------------------------

def fill_verdicts(topic, count):
    from confluent_kafka import Producer

    from fraudsite.kafka import client_config
    from fraudsite.topics import VERDICTS

    codec = VERDICTS.codec(topic)
    producer = Producer(client_config(**{"linger.ms": 20, "batch.num.messages": 10000}))
    for i in range(count):
        user_id = f"user_{i % 500}"
        fraud = i % 20 == 0
        record = {
            "user_id": user_id, "transaction_id": f"b1-{topic}-{i}", "timestamp": 1_700_000_000_000 + i,
            "lat": 48.85, "lng": 2.35, "amount": 10.0, "received_at": 1_700_000_000_000 + i,
            "prev_transaction_id": f"b1-{topic}-{i - 1}", "prev_timestamp": 1_700_000_000_000 + i - 1,
            "prev_lat": 51.5, "prev_lng": -0.12, "prev_amount": 5.0, "first_name": "Bench", "last_name": user_id,
            "max_speed": 900.0, "distance_km": 343.5, "elapsed_seconds": 3600.0, "speed_kmh": 343.5,
            "is_fraud": fraud, "status": "FRAUD" if fraud else "VALID",
            "reason": "speed_above_limit" if fraud else "within_limit",
            "reasons": "speed_above_limit" if fraud else "within_limit",
            "score": 60.0 if fraud else 0.0, "outcome": "decline" if fraud else "approve",
        }
        while True:
            try:
                producer.produce(topic, key=user_id.encode(), value=codec.encode(record))
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)


# Records the naive consumer handles (at a few hundred a second it would take minutes for more).
NAIVE_SAMPLE = 20_000


def bench_b1(count):
    from django.test import override_settings

    from bench import peers

    from bench.original_consumer import consume_like_the_original
    from tests.support.kafka import create_topic, unique
    from transactions.models import Verdict
    from transactions.worker import Options, Worker

    topic = create_topic(unique("bench-b1"), partitions=1)
    say(f"B1: filling {topic} with {count:,} verdict records ...")
    fill_verdicts(topic, count)

    cpu = {name: {} for name in ("original", "consume_verdicts", "naive", "consume_and_decode", "copy")}
    say("B1 (a): the original demo's consumer loop ...")
    with peers.cpu_per_record(count, cpu["original"]):
        original = consume_like_the_original(topic, count)

    say("B1 (b): consume_verdicts, storing in PostgreSQL and pushing to Redis ...")
    with override_settings(TOPIC_CARD_TRANSACTIONS_ENRICHED=topic), peers.cpu_per_record(count, cpu["consume_verdicts"]):
        counters = Worker(Options(group_id=unique("bench"), max_messages=count, report_every=5)).run()
    stored = Verdict.objects.filter(kafka_topic=topic).count()
    ours = counters.rate()

    # Honest peers on the same topic (bench/peers.py); the naive consumer on a sample, it is slow.
    naive_count = min(count, NAIVE_SAMPLE)
    say(f"B1 (c): a naive Django consumer (ORM save per record), {naive_count:,} records ...")
    Verdict.objects.filter(kafka_topic=topic).delete()
    with peers.cpu_per_record(naive_count, cpu["naive"]):
        naive = peers.naive_django_consumer(topic, naive_count)
    say("B1 limits: librdkafka consume and decode alone, then PostgreSQL COPY of the same rows alone ...")
    with peers.cpu_per_record(count, cpu["consume_and_decode"]):
        decode_limit, rows = peers.consume_and_decode(topic, count)
    with peers.cpu_per_record(count, cpu["copy"]):
        copy_limit = peers.copy_alone(rows)
    slower_limit = min(decode_limit, copy_limit)
    return {
        "records": count, "original_per_second": round(original), "consume_verdicts_per_second": round(ours),
        "ratio": round(ours / original, 2), "stored_rows": stored, "target_ratio": 2.0,
        "naive_records": naive_count, "naive_per_second": round(naive),
        "consume_and_decode_per_second": round(decode_limit), "copy_per_second": round(copy_limit),
        "ratio_to_naive": round(ours / naive, 1), "share_of_slower_limit": round(ours / slower_limit, 2),
        "targets": {"ratio_to_naive": 10, "share_of_slower_limit": 0.6},
        "cpu_per_record": cpu, "load_average": os.getloadavg(),
    }


# --- B2: end-to-end latency --------------------------------------------------------------

def bench_customers(count=50):
    from django.db import transaction

    from outbox.publisher import publish_all_pending
    from tests.support.pipeline import wait_until_customers_read
    from users.models import Customer
    from users.publishing import publish_customers

    user_ids = [f"bench_{i:03d}" for i in range(count)]
    with transaction.atomic():
        for user_id in user_ids:
            Customer.objects.update_or_create(user_id=user_id, defaults={"first_name": "Bench", "last_name": user_id,
                                                                         "max_speed": 900})
        # Published again even when unchanged: the benchmarks' stack may be new (make bench starts
        # one), and a customer its job has never read gets no verdict at all.
        publish_customers(Customer.objects.filter(user_id__in=user_ids))
    publish_all_pending()
    wait_until_customers_read()  # the detection job has read the customers' limits
    return user_ids


def live_site(name, **options):
    """The site (tests.support.site: the web server in production mode and a verdict worker, on a
    free port), its processes' output in bench/results/<name>-processes.log; yields a Site.
    options: running_site's (web_processes=N)."""
    from tests.support.kafka import unique
    from tests.support.site import running_site

    return running_site({}, RESULTS / f"{name}-processes.log", worker_group=unique(f"bench-{name}"), **options)


def percentiles(latencies):
    latencies = sorted(latencies)
    if not latencies:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    pick = lambda q: round(latencies[min(int(q * len(latencies)), len(latencies) - 1)], 1)
    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "max_ms": round(latencies[-1], 1)}


def bench_b2(steps):
    """Latency by stage at each (rate, seconds): produce -> verdict on card-transactions-enriched,
    -> stored by the worker, -> received by an operator's WebSocket client. A transaction's own
    timestamp is its send time; every stage is measured on the same transactions."""
    from bench.verdict_times import verdicts_written
    from tests.support.websocket_clients import operator_cookies, stream_to_clients

    user_ids = bench_customers()
    results = []
    with live_site("b2") as site:
        for rate, seconds in steps:
            say(f"B2: {rate}/s for {seconds} s through Kafka, Flink, the worker, Redis and the web server ...")
            started_ms = time.time() * 1000
            with verdicts_written() as on_topic:
                sent_ids, sent, (received,) = asyncio.run(
                    stream_to_clients(site.url, operator_cookies(1), user_ids, rate, seconds))
            # The load generator's new producer needs about half a second to connect (and get its
            # idempotent producer id); transactions stamped meanwhile measure that, not the pipeline.
            measured = {i for i, sent_ms in sent_ids.items() if sent_ms >= started_ms + GENERATOR_WARM_UP_MS}
            stages = {"topic": {i: on_topic[i].written - on_topic[i].sent for i in measured if i in on_topic},
                      "stored": stored_latencies(measured),
                      "websocket": {i: latency for i, latency in received.items() if i in measured}}
            step = {"rate_per_second": rate, "seconds": seconds, "sent": sent, "measured": len(measured),
                    **{stage: {"received": len(values), **percentiles(list(values.values()))}
                       for stage, values in stages.items()},
                    "latencies_ms": {stage: sorted(values.values()) for stage, values in stages.items()}}
            say(f"B2 {rate}/s: " + ", ".join(f"{stage} p50 {step[stage]['p50_ms']} / p99 {step[stage]['p99_ms']} ms"
                                             for stage in stages))
            results.append(step)
    return {"steps": results, "targets": B2_TARGETS}


GENERATOR_WARM_UP_MS = 1000

# Issue 13's targets, per stage (ms): produce -> topic p99 at every rate; -> WebSocket p50 and p99
# at 1/s and 200/s; no verdict later than 1 s at 1,000/s.
B2_TARGETS = {"topic_p99_ms": 50, "websocket_p50_ms": 60, "websocket_p99_ms": 150, "max_ms_at_1000": 1000}


def stored_latencies(ids):
    """ms from each transaction's send time (its timestamp) to its verdict row being written."""
    from transactions.models import Verdict

    rows = Verdict.objects.filter(transaction_id__in=list(ids)).values_list("transaction_id", "timestamp", "stored_at")
    return {transaction_id: (stored_at - timestamp).total_seconds() * 1000 for transaction_id, timestamp, stored_at in rows}


def seed_history(count):
    from transactions.models import Verdict

    have = Verdict.objects.filter(kafka_topic="bench-history").count()
    moment = datetime.now(timezone.utc)
    Verdict.objects.bulk_create([
        Verdict(transaction_id=f"history-{i}", user_id=f"bench_{i % 50:03d}", timestamp=moment, received_at=moment,
                lat=(i * 7) % 170 - 85, lng=(i * 13) % 360 - 180, amount=10, is_fraud=i % 20 == 0,
                status="FRAUD" if i % 20 == 0 else "VALID", reason="within_limit", max_speed=900, speed_kmh=12.5,
                first_name="Bench", last_name="History", kafka_topic="bench-history", kafka_partition=0,
                kafka_offset=i)
        for i in range(have, count)
    ], batch_size=2000)


def bench_b4(history, clients, rate, seconds, repeats=5):
    """B4: the page's time to render with `history` verdicts stored, and delivery to `clients` sockets."""
    from playwright.sync_api import sync_playwright

    from tests.support.websocket_clients import operator_cookies, stream_to_clients

    seed_history(history)
    user_ids = bench_customers()
    cookies = operator_cookies(clients)
    cookie = cookies[0]
    with live_site("b4") as site:
        say(f"B4: rendering the operator page with {history:,} verdicts stored, {repeats} times ...")
        renders, paints = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            for _ in range(repeats):
                context = browser.new_context()
                context.add_cookies([{"name": "sessionid", "value": cookie.split("=", 1)[1],
                                      "url": site.url}])
                page = context.new_page()
                page.goto(site.url + "/")
                page.wait_for_function("document.querySelectorAll('#log li').length >= 200")
                renders.append(page.evaluate("performance.now()"))
                paints.append(page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"))
                context.close()
            browser.close()
        say(f"B4: {clients} WebSocket clients, {rate}/s for {seconds} s ...")
        _, sent, received = asyncio.run(
            stream_to_clients(site.url, cookies, user_ids, rate, seconds))
    deliveries = [latency for client in received for latency in client.values()]
    return {
        "history_verdicts": history, "render_ms_median": round(statistics.median(renders), 1),
        "first_contentful_paint_ms_median": round(statistics.median(p for p in paints if p is not None), 1),
        "clients": clients, "rate_per_second": rate, "seconds": seconds, "sent": sent,
        "deliveries_expected": sent * clients, "deliveries": len(deliveries),
        "clients_missing_any": sum(1 for client in received if len(client) < sent),
        **{f"delivery_{key}": value for key, value in percentiles(deliveries).items()},
    }


def plot(latencies, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    axis.hist(latencies, bins=60, color="#1565c0")
    for q, colour in ((0.5, "#2e7d32"), (0.95, "#ef6c00"), (0.99, "#c62828")):
        value = latencies[min(int(q * len(latencies)), len(latencies) - 1)]
        axis.axvline(value, color=colour, linestyle="--", label=f"p{int(q * 100)} = {value:.0f} ms")
    axis.set_xlabel("produce → verdict at a WebSocket client (ms)")
    axis.set_ylabel("transactions")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def b5_table(b5):
    if "limit" not in b5:  # kept from before vegeta (bench/decisions.py's first version)
        return ["B5: results in an older format; run `bench/run.py --only b5` again.", ""]

    def row(label, step, stored=""):
        return (f"| {label} | {step['processes']} | {step['achieved']}/s | {step['p50_ms']} / {step['p99_ms']} / "
                f"{step['max_ms']} | {step['verdict_share']:.1%} / {step['timed_out_share']:.1%} / "
                f"{step['shed_share']:.1%} | {step['errors'] or 'none'} | {step['client_cpu_share']:.1%} |{stored}")

    head = ("processes | achieved | p50 / p99 / max ms | verdict / timed out / shed | errors "
            "| client CPU share (of the machine) |")
    lines = [f"| B5: decision API, budget {b5['budget_ms']} ms | {head} stored with its verdict |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for step in b5["steps"]:
        label = f"{step['rate']:,}/s for {step['seconds']} s"
        proxied = "behind HAProxy: " if step["phase"].startswith("proxy") else ""
        if step["phase"].endswith("overload"):
            after = step["after"]
            lines.append(row(f"{proxied}overload: {label}", step, " |"))
            lines.append(row(f"then at once {after['rate']:,}/s for {after['seconds']} s", after, " |"))
            recovery = step["recovery"]
            notes.append(f"{proxied}Overload: {step['verdicts_per_second']:,}/s answered with the job's verdict "
                         f"({step['verdicts_vs_sustainable']}x the sustainable rate's), max {step['max_ms']} ms; "
                         f"back to normal (per 1-s window p99 <= {recovery['p99_limit_ms']} ms, without a verdict "
                         f"<= {recovery['without_verdict_limit']:.1%}) {recovery['recovered_after_s']} s after it "
                         f"ended ({recovery['gap_ms']} ms between the two loads).")
        else:
            storage = step.get("storage")
            stored = (f" {storage['stored_share']:.2%} of {storage['answered']:,} ({storage['missing_transactions']} "
                      f"transactions, {storage['missing_verdicts']} verdicts missing) |" if storage else " |")
            lines.append(row(("scaling: " if step["phase"] == "scaling" else proxied) + label, step, stored))
    limit = b5["limit"]
    lines += ["", f"| B5 limit: bench/minimal_decider.py (produce and wait only) | {head}",
              "|---|---|---|---|---|---|---|"]
    lines += [row(f"{step['rate']:,}/s for {step['seconds']} s", step) for step in limit["steps"]]
    processes = f"{b5['sustainable_processes']} process{'es' if b5['sustainable_processes'] != 1 else ''}"
    notes.append(f"Sustainable ({b5['sustained_means']}) on {processes}: the API "
                 f"{b5['sustainable_rate']}/s, the limit {limit['sustainable_rate']}/s: "
                 f"**{b5['share_of_limit']}** of the limit.")
    return lines + [""] + notes + [""]


def table(results):
    lines = [f"Run {results['finished']} ({results['mode']} mode) on {results['machine']['cpus']} CPUs "
             f"({results['machine']['cpu_model']}), {results['machine']['memory_gib']} GiB.", ""]
    if "b1" in results:
        b1 = results["b1"]
        lines += ["| B1: consumer throughput | verdicts/s |", "|---|---|",
                  f"| (a) original demo's loop (poll one, decode, emit; stores nothing) | {b1['original_per_second']:,} |",
                  f"| (b) consume_verdicts (PostgreSQL upsert + Redis push) | {b1['consume_verdicts_per_second']:,} |",
                  f"| ratio b/a (target ≥ {b1['target_ratio']}) | **{b1['ratio']}** |",
                  f"| rows stored of {b1['records']:,} | {b1['stored_rows']:,} |"]
        if "naive_per_second" in b1:
            lines += [f"| (c) naive Django consumer (ORM save per record; {b1['naive_records']:,} records) | {b1['naive_per_second']:,} |",
                      f"| limit: librdkafka consume and decode alone | {b1['consume_and_decode_per_second']:,} |",
                      f"| limit: PostgreSQL COPY of the same rows alone | {b1['copy_per_second']:,} |",
                      f"| (b) / (c) (target ≥ {b1['targets']['ratio_to_naive']}) | **{b1['ratio_to_naive']}** |",
                      f"| (b) / slower limit (target ≥ {b1['targets']['share_of_slower_limit']}) | **{b1['share_of_slower_limit']}** |"]
        if "cpu_per_record" in b1:
            lines += ["", "| B1: CPU µs per record | this process (every thread) | PostgreSQL |", "|---|---|---|"]
            lines += [f"| {name} | {used['python_us']} | {used['postgres_us']} |" for name, used in b1["cpu_per_record"].items()]
        lines.append("")
    if "b2" in results:
        targets = results["b2"]["targets"]
        lines += ["| B2: latency from produce (ms) | verdict on the topic p50 / p99 / max | stored p50 / p99 / max "
                  "| WebSocket p50 / p99 / max | received of sent |", "|---|---|---|---|---|"]
        for step in results["b2"]["steps"]:
            cells = [" / ".join(str(step[stage][key]) for key in ("p50_ms", "p99_ms", "max_ms"))
                     for stage in ("topic", "stored", "websocket")]
            lines.append(f"| {step['rate_per_second']}/s for {step['seconds']} s | " + " | ".join(cells)
                         + f" | {step['websocket']['received']:,} of {step['measured']:,} measured ({step['sent']:,} sent) |")
        lines += ["", f"Targets: topic p99 ≤ {targets['topic_p99_ms']} ms; WebSocket p50 ≤ {targets['websocket_p50_ms']} ms "
                  f"and p99 ≤ {targets['websocket_p99_ms']} ms at 1/s and 200/s; nothing later than "
                  f"{targets['max_ms_at_1000']} ms at 1,000/s.", ""]
    if "b3" in results:
        lines += ["| B3: pipeline throughput, all four signals | highest rate kept up with | steps (rate: kept up, "
                  "generator CPU share, TaskManager CPU s per 1,000) |", "|---|---|---|"]
        for key, b3 in sorted(results["b3"].items()):
            steps = ", ".join(
                f"{step['rate']}: {'yes' if step['kept_up'] else 'no'}"
                + (f", {step['generator_cpu_share']:.0%}, {step['cpu_seconds_per_1000']['flink-taskmanager']}"
                   if "generator_cpu_share" in step else "")
                for step in b3["steps"])
            lines.append(f"| {key} ({b3['step_seconds']} s steps) | {b3['highest_rate_kept_up']}/s | {steps} |")
        lines.append("")
    for key, run in sorted(results.get("sustained", {}).items()):
        lines += ["| Sustained run | |", "|---|---|",
                  f"| {key}: {run['rate']:,}/s for {run['minutes']} min | {run['sent']:,} sent at "
                  f"{run['achieved_send_rate']:,}/s, {run['stored']:,} stored; every verdict within 5 s: "
                  f"{'yes' if run['every_verdict_stored_within_5s'] else 'no'} "
                  f"({run['checks_with_verdicts_older_than_5s']} of {run['checks']} checks late, "
                  f"at most {run['most_verdicts_behind']:,} behind) |",
                  f"| generator CPU share | {run['generator_cpu_share']:.0%} |",
                  f"| CPU s per 1,000 transactions | {run['cpu_seconds_per_1000']} |",
                  f"| memory at start / end | {run['memory_start']} / {run['memory_end']} |", ""]
    if "b4" in results:
        b4 = results["b4"]
        lines += ["| B4: the operator page | |", "|---|---|",
                  f"| first contentful paint, {b4['history_verdicts']:,} verdicts stored (median) | {b4['first_contentful_paint_ms_median']} ms |",
                  f"| history rendered in the log (median) | {b4['render_ms_median']} ms |",
                  f"| {b4['clients']} clients, {b4['rate_per_second']}/s for {b4['seconds']} s: deliveries | {b4['deliveries']:,} of {b4['deliveries_expected']:,} ({b4['clients_missing_any']} clients missed any) |",
                  f"| delivery latency p50 / p99 / max | {b4['delivery_p50_ms']} / {b4['delivery_p99_ms']} / {b4['delivery_max_ms']} ms |", ""]
    if "b5" in results:
        lines += b5_table(results["b5"])
    if "b6" in results:
        b6 = results["b6"]
        lines += [f"| B6: the analytics page, {b6['verdicts']:,} verdicts | alerts | page first / median / max ms "
                  f"| CSV reasons / cofiring / trend median ms |", "|---|---|---|---|"]
        for name, period in b6["periods"].items():
            page = period["page"]
            lines.append(f"| {name} ({period['from']} .. {period['to']}) | {period['alert_reasons']:,} alert reasons "
                         f"| {page['first_ms']} / {page['median_ms']} / {page['max_ms']} | "
                         + " / ".join(str(period["csv"][table]["median_ms"]) for table in ("reasons", "cofiring", "trend"))
                         + " |")
        lines.append("")
    if "b7" in results:
        b7 = results["b7"]
        phases = b7["phases"]
        lines += [f"| B7: replay of a proposal, {b7['transactions']:,} transactions of {b7['customers']:,} customers | |",
                  "|---|---|",
                  f"| total | {b7['seconds']} s ({b7['transactions_per_second']:,} transactions/s) |",
                  f"| export / Flink / read back / compare | {phases['export']} / {phases['flink']} / "
                  f"{phases['read']} / {phases['compare']} s |",
                  f"| alerts before / after | {b7['alerts_before']:,} / {b7['alerts_after']:,} |", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=MODES, default="quick")
    parser.add_argument("--only", choices=["b1", "b2", "b3", "b4", "b5", "b6", "b7", "sustained", "jobcpu"], action="append",
                        help="run only these benchmarks (sustained: B3's sustained run, b6: the analytics "
                             "page on millions of verdicts, b7: a proposal's replay over a million transactions; "
                             "b6 and b7 each in a database of its own, run alone; jobcpu: the detection job's "
                             "CPU alone; none of these by default)")
    parser.add_argument("--rate", type=int, help="the sustained and jobcpu runs' rate (default: the mode's)")
    parser.add_argument("--label", help="jobcpu: the key its result is kept under (default: the job's name)")
    args = parser.parse_args()
    settings = MODES[args.mode]
    if args.only and "b6" in args.only:
        if set(args.only) != {"b6"}:
            parser.error("b6 runs alone: it uses a database of its own")
        os.environ["DATABASE_URL"] = ANALYTICS_DATABASE_URL
    if args.only and "b7" in args.only:
        if set(args.only) != {"b7"}:
            parser.error("b7 runs alone: it uses a database of its own")
        os.environ["DATABASE_URL"] = REPLAY_DATABASE_URL
    setup_django()
    if args.only != ["b6"]:  # B6 needs PostgreSQL only
        require_stack()
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"{args.mode}.json"
    # With --only, the other benchmarks' latest results in this mode are kept.
    results = json.loads(output.read_text()) if args.only and output.exists() else {}
    results.update({"mode": args.mode, "machine": machine(), "started": datetime.now(timezone.utc).isoformat()})
    chosen = args.only or ["b1", "b2", "b3", "b4", "b5"]
    if "b1" in chosen:
        results["b1"] = bench_b1(settings["b1_records"])
        say(f"B1: {results['b1']}")
    if "b2" in chosen:
        results["b2"] = bench_b2(settings["b2_steps"])
        websocket_200 = next(step for step in results["b2"]["steps"] if step["rate_per_second"] == 200)
        if websocket_200["latencies_ms"]["websocket"]:
            plot(websocket_200["latencies_ms"]["websocket"], RESULTS / f"{args.mode}-latency.png",
                 f"B2: produce to WebSocket at 200 transactions/s for {websocket_200['seconds']} s")
        if args.mode == "quick":
            for step in results["b2"]["steps"]:
                step["latencies_ms"] = None
    if "b3" in chosen:
        from bench.throughput import bench_b3

        b3 = bench_b3(settings["b3_rates"], settings["b3_seconds"], RESULTS, say)
        key = f"{b3['partitions']} partitions, parallelism {b3['flink_parallelism']}"
        results.setdefault("b3", {})[key] = b3  # one entry per stack configuration
    if "sustained" in chosen:
        from bench.throughput import bench_sustained

        sustained = bench_sustained(args.rate or settings["sustained_rate"], settings["sustained_minutes"], RESULTS, say)
        key = f"{sustained['partitions']} partitions, parallelism {sustained['flink_parallelism']}"
        results.setdefault("sustained", {})[key] = sustained
        say(f"sustained: {sustained}")
    if "jobcpu" in chosen:
        from bench.throughput import bench_jobcpu

        jobcpu = bench_jobcpu(args.rate or settings["jobcpu_rate"], RESULTS, say)
        results.setdefault("jobcpu", {})[args.label or jobcpu["job"]] = jobcpu  # one entry per SQL version
        say(f"jobcpu: {jobcpu['taskmanager_cpu_seconds_per_1000']} TaskManager CPU s per 1,000 at {jobcpu['rate']}/s")
    if "b4" in chosen:
        results["b4"] = bench_b4(settings["b4_history"], settings["b4_clients"], settings["b4_rate"],
                                 settings["b4_seconds"], settings["b4_repeats"])
        say(f"B4: {results['b4']}")
    if "b5" in chosen:
        from bench.decisions import bench_b5
        from bench.throughput import setup_detection

        results["b5"] = bench_b5(settings, lambda processes: live_site(f"b5-{processes}p", web_processes=processes),
                                 setup_detection(), RESULTS, say)
    if "b6" in chosen:
        from bench.analytics import bench_b6

        results["b6"] = bench_b6(settings["b6_verdicts"], settings["b6_repeats"], say)
    if "b7" in chosen:
        from bench.replay import bench_b7

        results["b7"] = bench_b7(settings["b7_transactions"], say)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    output.write_text(json.dumps(results, indent=2))
    (RESULTS / f"{args.mode}.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
