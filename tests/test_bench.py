"""The benchmarks' load generator writes exactly what the product's codec writes, and sends what it says."""

import subprocess
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, TopicPartition

from bench import loadgen
from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS
from transactions import context


@pytest.mark.parametrize("record", [
    {"timestamp": 1_700_000_000_000, "transaction_id": "tx-1", "lat": 51.5, "lng": -0.12, "amount": 12.5},
    {"timestamp": 0, "transaction_id": "é-" + "x" * 200, "lat": -90.0, "lng": 180.0, "amount": 0.01},
    {"timestamp": 1_700_000_000_000, "transaction_id": "tx-2", "lat": 1.5, "lng": 2.5, "amount": 3.5,
     "card_token": "c1f0e8b2" * 16, "card_bin": "412345", "merchant_id": "m-1", "merchant_category_code": "5411",
     "merchant_country": "GB", "channel": "ecommerce", "device_id": None, "ip_address": "2001:db8::7"},
])
def test_the_generator_encodes_like_the_codec(stack, record):
    assert loadgen.encode(record) == CARD_TRANSACTIONS.codec().encode(record)


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
    columns = ["user_id", "lat", "lng", "amount", *context.NAMES]
    pooled = [dict(zip(columns, line.split(","))) for line in pool.read_text().splitlines()]
    assert {name: decoded[name] or "" for name in context.NAMES} in [  # the simulator's context, as pooled
        {name: line[name] for name in context.NAMES} for line in pooled]


# --- B5 (bench/decisions.py): vegeta's results read back, without the stack ---------------------

class CannedDecisions:
    """A tiny HTTP server answering POSTs like the decision API, by the body's user_id: "verdict",
    "late" (timed out), "shed", "busy" (503), "slow" (no answer before the client gives up)."""

    def __init__(self):
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept-alive connections, as vegeta uses them

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((self.headers["Idempotency-Key"], body))
                kind = body["user_id"]
                if kind == "slow":
                    time.sleep(2)
                status, answer = (503, {"error": "busy"}) if kind == "busy" else (200, {
                    "transaction_id": self.headers["Idempotency-Key"], "decision": "approve",
                    "timed_out": kind == "late", **({"shed": True} if kind == "shed" else {})})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the client closed a "slow" request's connection: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/decisions"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vegeta():
    import shutil
    from pathlib import Path

    from bench import decisions

    if shutil.which("go") is None and not (Path.home() / ".cache/fraudsite/bin/vegeta").exists():
        pytest.skip("needs Go (scripts/install-vegeta.sh installs vegeta with it)")
    return decisions.install_vegeta()


def test_b5_counts_each_kind_of_answer_from_vegetas_results(vegeta, tmp_path):
    from bench import decisions

    server = CannedDecisions()
    try:
        load = decisions.Load(vegeta, server.url, ["verdict", "late", "shed", "busy", "slow"], tmp_path,
                              headers={"Authorization": ["Api-Key x"]}, timeout=1, verdict_stages=False)
        step, results = load.step(50, 2, processes=1)
    finally:
        server.close()
    # 100 requests, 20 of each kind, in turn. vegeta's -duration is a time limit: on a busy machine
    # the last request or two can fall past it and are not sent, so the kinds are counted from what
    # the server received, and the shares must be of those.
    kinds = Counter(body["user_id"] for _, body in server.received)
    sent = step["sent"]
    assert (step["rate"], step["seconds"], step["processes"]) == (50, 2, 1)
    assert (sent, step["reused_targets"]) == (len(server.received), 0) and 95 <= sent <= 100
    assert kinds == Counter((["verdict", "late", "shed", "busy", "slow"] * 20)[:sent])
    # the rate the requests went out at, from their start times (vegeta paces them at 50/s; on a busy
    # machine it catches up late ones, so the exact figure varies)
    starts = sorted(result.started for result in results)
    assert step["achieved"] == round((sent - 1) / (starts[-1] - starts[0]), 1) and 40 <= step["achieved"] <= 60
    share = lambda count: round(count / sent, 4)
    shares = (step["verdict_share"], step["timed_out_share"], step["shed_share"], step["error_share"])
    assert shares == (share(kinds["verdict"]), share(kinds["late"]), share(kinds["shed"]),
                      share(kinds["busy"] + kinds["slow"]))
    assert step["errors"] == {"503": kinds["busy"], "timeout": kinds["slow"]}
    assert 0 < step["p50_ms"] <= step["p99_ms"] <= step["max_ms"] < 1000  # answers only: no time-out among them
    assert 0 < step["client_cpu_share"] < 1
    assert step["verdicts_per_second"] == round(kinds["verdict"] / sent * step["achieved"], 1)
    # every request sent once, with a key of its own
    keys = [key for key, _ in server.received]
    assert len(keys) == len(set(keys)) == sent
    assert all({"amount", "lat", "lng"} <= set(body) and -180 <= body["lng"] <= 180 for _, body in server.received)
    # the answered transactions are those a storage check looks for (verdict or timed out, not shed)
    answered = {r.transaction_id for r in results if r.answer in ("verdict", "timed_out")}
    assert len(answered) == kinds["verdict"] + kinds["late"] and answered <= set(keys)


def test_b5_recovery_windows_sustained_steps_and_table(monkeypatch):
    import os

    from bench import decisions
    from bench.decisions import Result

    def results(start, latencies, answer="verdict", rate=10):
        return [Result(start + i / rate, latency, 200, "", answer, f"t{start}-{i}", i)
                for i, latency in enumerate(latencies)]

    steady = decisions.step_statistics(results(0, [50] * 99 + [100]), 10, 10, 2, 10, 0.1)
    assert (steady["p50_ms"], steady["p99_ms"], steady["max_ms"], steady["verdict_share"]) == (50, 100, 100, 1.0)
    assert steady["client_cpu_share"] == round(0.1 / 10 / os.cpu_count(), 3)
    overload = results(100, [900] * 50)
    # after the overload (ends at 104.9 s): a slow second, a second of time-outs, then normal
    after = (results(105, [400] * 10) + results(106, [100] * 5, "timed_out") + results(106.5, [100] * 5)
             + results(107, [110] * 10) + results(108, [500] * 10))
    recovery = decisions.recovery(overload, after, steady)
    assert recovery["gap_ms"] == 100.0
    assert (recovery["p99_limit_ms"], recovery["without_verdict_limit"]) == (120.0, 0.005)
    assert [(w["second"], w["sent"], w["normal"]) for w in recovery["windows"]] == [
        (0, 10, False), (1, 10, False), (2, 10, True), (3, 10, False)]
    assert recovery["recovered_after_s"] == 2

    # where an answer's time went, from the verdict's times (ms): only answers carrying a verdict
    from bench.verdict_times import VerdictTimes

    answered = [Result(1.0, 40.0, 200, "", "verdict", "a", 0), Result(1.0, 200.0, 200, "", "timed_out", "b", 1)]
    written = {"a": VerdictTimes(sent=999, received=1_005, written=1_030),
               "b": VerdictTimes(sent=999, received=1_005, written=1_300)}
    assert decisions.stages(answered, written) == {
        "web_to_broker": {"p50_ms": 5.0, "p99_ms": 5.0, "max_ms": 5.0},
        "detection_job": {"p50_ms": 25.0, "p99_ms": 25.0, "max_ms": 25.0},
        "verdict_to_answer": {"p50_ms": 10.0, "p99_ms": 10.0, "max_ms": 10.0}}

    slow = {**steady, "rate": 20, "p99_ms": 151}
    unoffered = {**steady, "rate": 30, "achieved": 25}
    assert decisions.highest_sustained([steady, slow, unoffered], budget_ms=150) is steady
    assert decisions.highest_sustained([slow], budget_ms=150) is None

    # run.py's table shows every step (importing it sets environment defaults: kept to this test)
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.setenv(name, os.environ.get(name, "unused"))
    from bench.run import b5_table

    overload_step = {**decisions.step_statistics(overload, 30, 5, 2, 5, 0.1), "phase": "overload",
                     "after": steady, "recovery": recovery, "verdicts_vs_sustainable": 1.0}
    storage = {"answered": 100, "missing_transactions": 0, "missing_verdicts": 0, "stored_share": 1.0}
    b5 = {"budget_ms": 150, "steps": [{**steady, "phase": "ladder", "storage": storage},
                                      overload_step, {**steady, "phase": "scaling"}],
          "limit": {"processes": 2, "steps": [steady], "sustainable_rate": 10},
          "sustainable_rate": 10, "sustainable_processes": 2, "share_of_limit": 1.0, "sustained_means": "..."}
    text = "\n".join(b5_table(b5))
    assert "overload: 30/s for 5 s" in text and "scaling: 10/s" in text and "B5 limit" in text
    assert "back to normal" in text and "**1.0** of the limit" in text


def test_the_minimal_decider_answers_the_verdict_or_timed_out(monkeypatch, settings):
    """bench/minimal_decider.py as uvicorn drives it, with the producer and the waiter replaced."""
    import asyncio
    import json

    from bench import minimal_decider

    settings.DECISION_BUDGET_MS = 50
    produced, forgotten = [], []

    class Waiter:
        futures = {}

        def expect(self, user_id, transaction_id):
            self.futures[transaction_id] = asyncio.get_running_loop().create_future()
            return self.futures[transaction_id]

        def forget(self, transaction_id):
            forgotten.append(transaction_id)

    waiter = Waiter()

    class Producer:
        def send(self, topic, key, value, failed):
            record = CARD_TRANSACTIONS.codec().decode(value)
            produced.append((topic, key, record))
            if key == b"decided":  # the job's verdict comes; for anyone else, none
                waiter.futures[record["transaction_id"]].set_result({"outcome": "decline", **record})

    monkeypatch.setattr(minimal_decider, "shared_waiter", lambda: waiter)
    monkeypatch.setattr(minimal_decider.fraudsite.kafka, "request_producer", Producer)

    async def post(body):
        sent = []

        async def receive():
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

        async def send(message):
            sent.append(message)

        await minimal_decider.app({"type": "http", "method": "POST", "path": "/api/v1/decisions"}, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])

    status, decided = asyncio.run(post({"user_id": "decided", "amount": 12.5, "lat": 51.5, "lng": -0.12}))
    assert status == 200 and decided["decision"] == "decline" and decided["timed_out"] is False
    status, late = asyncio.run(post({"user_id": "late", "amount": 1, "lat": 0, "lng": 0}))
    assert status == 200 and late == {"transaction_id": late["transaction_id"], "decision": "review", "timed_out": True}
    (topic, key, record), _ = produced
    assert (topic, key) == (CARD_TRANSACTIONS.name, b"decided")
    assert (record["transaction_id"], record["amount"], record["lat"], record["lng"]) == (
        decided["transaction_id"], 12.5, 51.5, -0.12)
    assert forgotten == [decided["transaction_id"], late["transaction_id"]]  # nothing left waiting


def test_a_profile_says_how_busy_the_interpreter_was_and_under_which_functions():
    from bench import profile

    raw = "\n".join([
        "thread (1): MainThread;<module> (<string>:1);run (asyncio/runners.py:118);"
        "_respond (api/endpoint.py:311);send (uvicorn/protocols/http/httptools_impl.py:524) 30",
        "thread (1): MainThread;<module> (<string>:1);_handle (api/endpoint.py:264);"
        "_respond (api/endpoint.py:300);_respond (api/endpoint.py:311) 10",
        "thread (2): decision-store;_bootstrap (threading.py:1002);store (api/endpoint.py:86) 60",
    ])
    summary = profile.summarize(raw, seconds=2)
    assert summary["samples"] == 100 and summary["busy_share"] == 0.5  # 100 of 2 s x 100 samples/s
    assert summary["threads"] == {"decision-store": 0.6, "MainThread": 0.4}
    # inclusive, a recursive function once per sample; start-up frames are no evidence
    assert summary["functions"] == {"store (endpoint.py)": 0.6, "_respond (endpoint.py)": 0.4,
                                    "send (httptools_impl.py)": 0.3, "_handle (endpoint.py)": 0.1}


def test_the_decision_benchmarks_requests_carry_a_valid_context_of_many_cards(tmp_path):
    """B5's requests carry what a card-authorization client sends, each value as the API checks it."""
    import base64
    import json

    from bench.decisions import write_targets

    targets = write_targets(tmp_path / "targets", "http://x/api/v1/decisions", ["a", "b"], 300)
    bodies = [json.loads(base64.b64decode(json.loads(line)["body"])) for line in targets.read_text().splitlines()]
    assert len(bodies) == 300
    for body in bodies:
        errors = {}
        cleaned = context.clean_context(body, errors)
        assert not errors and cleaned["card_token"] and cleaned["merchant_id"] and cleaned["channel"]
    assert len({body["card_token"] for body in bodies}) > 100  # the customers' many cards
