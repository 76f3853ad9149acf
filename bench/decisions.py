"""B5: the decision API (`POST /api/v1/decisions`) through the real stack (Kafka, the Flink job,
each web process's shared verdict consumer) under an open loop of requests, with the budget at its
default; and `b5.limit`, the same load against bench/minimal_decider.py, the least a process of
this design can do per decision (produce, wait with the same waiter, answer).

The load generator is vegeta (scripts/install-vegeta.sh): compiled, a fixed rate whatever the
answers do (DESIGN.md's lesson: a closed loop slows down with the server and hides collapse). Its
targets are written to a file before a step starts, one per request with a new Idempotency-Key,
so that during the step it only sends. Every figure comes from vegeta's per-request results."""

import base64
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

BASE_DIR = Path(__file__).resolve().parent.parent
DECISIONS_PATH = "/api/v1/decisions"
MINIMAL_DECIDER = "bench.minimal_decider:app"  # the ASGI app of b5.limit
PRODUCT_APP = "fraudsite.asgi:application"  # in fraudsite.server's uvicorn command line
REQUEST_TIMEOUT_S = 5  # vegeta gives up on a request after this: counted as an error ("timeout")

# Where the requests' customers pay: around London, one in twenty from a far city, so that some
# are impossible travel (the outcome mix does not change the work; it keeps the answers real).
LONDON = (51.5074, -0.1278)
FAR_CITIES = [(48.8566, 2.3522), (40.7128, -74.0060), (52.52, 13.405), (41.9028, 12.4964)]
FAR_SHARE = 0.05

# Before a site's first measured step: every process's producer connects and gets its producer id
# (about half a second, see B2) and its first connections are made; not measured.
WARM_UP = (100, 3)  # rate, seconds
FRONT_NICE = -10  # vegeta's and HAProxy's CPU priority (in_front)
SETTLE_SECONDS = 5  # between steps, so that one step's backlog is not the next one's start

# A step is sustained when vegeta offered the rate, the p99 is within the budget and at most 1 % of
# the requests went without the job's verdict (timed out, shed or failed).
SUSTAINED_OFFERED = 0.98
SUSTAINED_VERDICT_SHARE = 0.99
# Recovery after the overload: a 1-s window is back to normal when its p99 is within 1.2x the
# steady step's and its share without a verdict within 1.2x the steady step's plus half a point
# (one or two stray time-outs in a thousand are not a backlog).
RECOVERED_P99_FACTOR = 1.2
RECOVERED_SHARE_FACTOR, RECOVERED_SHARE_SLACK = 1.2, 0.005


def install_vegeta():
    """The vegeta binary's path (scripts/install-vegeta.sh installs it once)."""
    output = subprocess.run([str(BASE_DIR / "scripts" / "install-vegeta.sh")], check=True,
                            stdout=subprocess.PIPE, text=True).stdout
    return output.strip().splitlines()[-1]


# --- targets and attacks -----------------------------------------------------------------------

def write_targets(path, url, user_ids, count, headers=None, seed=0):
    """count vegeta JSON targets (one a line): POST url with a new Idempotency-Key each and a body
    {user_id, amount, lat, lng} cycling over user_ids, with the context the simulator gives (card,
    merchant, channel; device and IP address online), as a card-authorization client sends it."""
    from bench.throughput import BENCH_CARDS_PER_CUSTOMER, BENCH_MERCHANTS
    from transactions.simulator import Simulator

    rng = random.Random(seed)
    simulator = Simulator(user_ids, seed=seed, merchants=BENCH_MERCHANTS, cards_per_customer=BENCH_CARDS_PER_CUSTOMER)
    with open(path, "w") as out:
        for i in range(count):
            lat, lng = rng.choice(FAR_CITIES) if rng.random() < FAR_SHARE else LONDON
            user_id = user_ids[i % len(user_ids)]
            context = {name: value for name, value in simulator.context(user_id).items() if value is not None}
            body = {"user_id": user_id, "amount": round(rng.uniform(5, 150), 2),
                    "lat": round(lat + rng.uniform(-0.01, 0.01), 5), "lng": round(lng + rng.uniform(-0.01, 0.01), 5),
                    **context}
            header = {"Content-Type": ["application/json"], "Idempotency-Key": [uuid.uuid4().hex], **(headers or {})}
            out.write(json.dumps({"method": "POST", "url": url, "header": header,
                                  "body": base64.b64encode(json.dumps(body).encode()).decode()}) + "\n")
    return path


def in_front():
    """Run in a child before it starts (preexec_fn): a higher CPU priority for vegeta and HAProxy,
    standing in for the machines of their own they have in production. On two cores shared with
    the whole pipeline they otherwise wait for a core like everything else, and what is measured is
    that wait (requests unread for seconds), not the product (bench/RESULTS.md, B5). Needs root
    (CAP_SYS_NICE); without it they run at the normal priority and b5.front_nice says 0."""
    try:
        os.nice(FRONT_NICE)
    except OSError:
        pass


def front_nice():
    """The nice value in_front() gives, or 0 where it cannot raise a priority."""
    return FRONT_NICE if os.geteuid() == 0 else 0


def start_attack(vegeta, targets, rate, seconds, output, timeout=REQUEST_TIMEOUT_S, lazy=False):
    """A vegeta attack process: rate requests a second for seconds, its results to output (written
    as each request ends). It reads every target before its first request (about 5 µs each), unless
    lazy: then one by one as it sends."""
    log = Path(output).with_suffix(".log")  # vegeta's own complaints, shown if it fails
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [vegeta, "attack", f"-rate={rate}/1s", f"-duration={seconds}s", f"-timeout={timeout}s",
             # Never fewer workers than the requests in flight can need (each ends within the
             # timeout): at the limit vegeta waits for a free worker, and the loop would close.
             f"-max-workers={int(rate * timeout) + 100}", "-keepalive=true",
             "-format=json", f"-targets={targets}", f"-output={output}", *(["-lazy"] if lazy else [])],
            stdout=log_file, stderr=log_file, preexec_fn=in_front)
    process.log = log
    return process


def finish_attack(process):
    if process.wait() != 0:
        raise RuntimeError(f"vegeta attack failed (exit code {process.returncode}): {process.log.read_text()[-2000:]}")


class Result(NamedTuple):
    """One request as vegeta saw it."""
    started: float  # epoch seconds, when vegeta sent it
    latency_ms: float
    code: int  # the HTTP status; 0 when no answer came (error says why)
    error: str
    answer: str | None  # of a readable 200: "verdict", "timed_out" or "shed"; else None
    transaction_id: str | None
    seq: int  # vegeta's request number: which target it sent (they repeat from the first past the end)


def parse_result(line):
    """A Result from one line of `vegeta encode --to json`."""
    raw = json.loads(line)
    answer = transaction_id = None
    error = raw["error"]
    if raw["code"] == 200:
        try:
            body = json.loads(base64.b64decode(raw["body"]))
            answer = "shed" if body.get("shed") else "timed_out" if body.get("timed_out") else "verdict"
            transaction_id = body.get("transaction_id")
        except (ValueError, AttributeError):
            error = "unreadable 200 answer"
    return Result(datetime.fromisoformat(raw["timestamp"]).timestamp(), raw["latency"] / 1e6, raw["code"],
                  error, answer, transaction_id, raw["seq"])


def read_results(vegeta, output):
    """Every request of a vegeta results file, in the order vegeta wrote them."""
    encode = subprocess.Popen([vegeta, "encode", "--to", "json", str(output)], stdout=subprocess.PIPE, text=True)
    results = [parse_result(line) for line in encode.stdout]
    if encode.wait() != 0:
        raise RuntimeError(f"vegeta encode {output} failed (exit code {encode.returncode})")
    return results


def children_cpu_seconds():
    """User + system CPU of this process's finished (waited-for) children. During a step the only
    children that finish are vegeta's, so the difference over a step is the load generator's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- statistics -------------------------------------------------------------------------------

def percentile(ordered, q):
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 1) if ordered else None


def latency_summary(latencies_ms):
    ordered = sorted(latencies_ms)
    return {"p50_ms": percentile(ordered, 0.50), "p99_ms": percentile(ordered, 0.99),
            "max_ms": round(ordered[-1], 1) if ordered else None}


def error_kind(result):
    """What went wrong with a request that did not get a readable 200 answer."""
    if result.code == 200:
        return result.error  # "unreadable 200 answer"
    if result.code:
        return str(result.code)
    if "Client.Timeout" in result.error or "deadline exceeded" in result.error:
        return "timeout"
    return result.error.rsplit(": ", 1)[-1]  # "connection refused", "connection reset by peer", ...


def step_statistics(results, rate, seconds, processes, wall_seconds, cpu_seconds, targets=None):
    """A step's figures. Latencies are of every HTTP answer (any status); shares are of the
    requests sent, so that verdict + timed out + shed + errors make 1."""
    sent = len(results)
    starts = sorted(result.started for result in results)
    span = starts[-1] - starts[0] if sent > 1 else 0
    answers = Counter(result.answer for result in results if result.answer)
    errors = Counter(error_kind(result) for result in results if result.answer is None)
    share = lambda count: round(count / sent, 4) if sent else None
    achieved = round((sent - 1) / span, 1) if span else None
    step = {
        "rate": rate, "processes": processes, "seconds": seconds, "sent": sent, "achieved": achieved,
        **latency_summary([result.latency_ms for result in results if result.code]),
        "verdict_share": share(answers["verdict"]), "timed_out_share": share(answers["timed_out"]),
        "shed_share": share(answers["shed"]), "errors": dict(errors), "error_share": share(sum(errors.values())),
        # answers carrying the job's verdict per second of sending
        "verdicts_per_second": round(answers["verdict"] / sent * achieved, 1) if achieved else None,
        "client_cpu_share": round(cpu_seconds / wall_seconds / os.cpu_count(), 3) if wall_seconds else None,
    }
    if targets is not None:  # past the last target vegeta starts over: those requests reuse keys
        step["reused_targets"] = sum(1 for result in results if result.seq >= targets)
    return step


def stages(results, written):
    """Where the time of the answers that carried the job's verdict went (ms, p50/p99/max each):
    from vegeta's send to the broker's append of the transaction (the web tier: HTTP, key,
    customer, the recording batch, the produce); from there to Flink's producer writing the
    verdict (the detection job); from there to vegeta's receipt of the answer (the web process's
    verdict consumer, HTTP). All on this machine's one clock."""
    parts = {"web_to_broker": [], "detection_job": [], "verdict_to_answer": []}
    for result in results:
        times = written.get(result.transaction_id) if result.answer == "verdict" else None
        if times is None:
            continue
        sent_ms = result.started * 1000
        parts["web_to_broker"].append(times.received - sent_ms)
        parts["detection_job"].append(times.written - times.received)
        parts["verdict_to_answer"].append(sent_ms + result.latency_ms - times.written)
    return {name: latency_summary(values) for name, values in parts.items()}


def sustained(step, budget_ms):
    return (step["achieved"] is not None and step["achieved"] >= SUSTAINED_OFFERED * step["rate"]
            and step["p99_ms"] is not None and step["p99_ms"] <= budget_ms
            and step["verdict_share"] >= SUSTAINED_VERDICT_SHARE)


def highest_sustained(steps, budget_ms):
    """The sustained step of the highest rate (None if none was)."""
    return max((step for step in steps if sustained(step, budget_ms)), key=lambda step: step["rate"], default=None)


def recovery(overload, after, steady):
    """How the requests after an overload fared, in 1-s windows from the first of them (by the
    time vegeta sent each), compared with the steady step at the same rate: the windows, and
    recovered_after_s, the start of the first window back to normal (None: none was)."""
    first = min(result.started for result in after)
    windows = defaultdict(list)
    for result in after:
        windows[int(result.started - first)].append(result)
    p99_limit = round(RECOVERED_P99_FACTOR * steady["p99_ms"], 1)
    without_limit = round(RECOVERED_SHARE_FACTOR * (1 - steady["verdict_share"]) + RECOVERED_SHARE_SLACK, 4)
    rows = []
    for second in sorted(windows):
        window = windows[second]
        p99 = latency_summary([result.latency_ms for result in window if result.code])["p99_ms"]
        without = round(sum(1 for result in window if result.answer != "verdict") / len(window), 4)
        rows.append({"second": second, "sent": len(window), "p99_ms": p99, "without_verdict_share": without,
                     "normal": p99 is not None and p99 <= p99_limit and without <= without_limit})
    return {
        # from the overload's last request to the first one after it (vegeta processes started
        # back to back: positive is a pause, negative an overlap)
        "gap_ms": round((first - max(result.started for result in overload)) * 1000, 1),
        "p99_limit_ms": p99_limit, "without_verdict_limit": without_limit,
        "recovered_after_s": next((row["second"] for row in rows if row["normal"]), None),
        "windows": rows,
    }


# --- running steps ------------------------------------------------------------------------------

@dataclass
class Load:
    """Requests to one endpoint: vegeta, where, as whom, for which customers; files in workdir."""
    vegeta: str
    url: str
    user_ids: list
    workdir: Path
    headers: dict = None
    timeout: float = REQUEST_TIMEOUT_S
    runs: int = 0
    verdict_stages: bool = True  # read the verdict topic during each step (stages()): needs Kafka
    server_pid: int = None  # a fraudsite.server process: one of its web processes is profiled per step

    def prepare(self, rate, seconds):
        """The targets file of a step and where its results go."""
        self.runs += 1
        name = self.workdir / f"step-{self.runs}"
        count = int(rate * seconds)
        write_targets(name.with_suffix(".targets"), self.url, self.user_ids, count, self.headers, seed=self.runs)
        return name.with_suffix(".targets"), name.with_suffix(".bin"), count

    def step(self, rate, seconds, processes):
        """(the step's figures, with where the answers' time went, its results)."""
        from bench.verdict_times import verdicts_written

        targets, output, count = self.prepare(rate, seconds)
        cpu, wall = children_cpu_seconds(), time.monotonic()
        with verdicts_written() if self.verdict_stages else nullcontext({}) as written, \
                self.profiled(seconds) as profile:
            finish_attack(start_attack(self.vegeta, targets, rate, seconds, output, self.timeout))
        cpu, wall = children_cpu_seconds() - cpu, time.monotonic() - wall
        results = read_results(self.vegeta, output)
        step = step_statistics(results, rate, seconds, processes, wall, cpu, count)
        if self.verdict_stages:
            step["stages"] = stages(results, written)
        if profile:
            step["profile"] = profile
        return step, results

    def profiled(self, seconds):
        """py-spy on one web process for the step's middle (bench/profile.py), if there is one."""
        from bench import profile

        worker = profile.web_worker(self.server_pid) if self.server_pid else None
        if worker is None:
            return nullcontext({})
        return profile.profiled(worker, max(1, seconds - 2), self.workdir / f"profile-{self.runs}.txt")

    def overload(self, rate, seconds, then_rate, then_seconds, processes):
        """rate for seconds, immediately followed by then_rate for then_seconds: a second vegeta
        started when the first has sent its last request (the first still waits for its answers
        then). (the overload's figures, the after phase's figures, their results)."""
        first = self.prepare(rate, seconds)
        second = self.prepare(then_rate, then_seconds)
        cpu, wall = children_cpu_seconds(), time.monotonic()
        # Both read their targets lazily (a few µs each, while sending): each then sends within
        # milliseconds of its start, so the second starts when the first has sent its last
        # request. (Read up front, the first's hundreds of thousands take a second or two, never
        # the same.) The recovery's gap_ms is the measured pause between the two.
        launched = time.monotonic()
        overloading = start_attack(self.vegeta, first[0], rate, seconds, first[1], self.timeout, lazy=True)
        time.sleep(max(0.0, launched + seconds - time.monotonic()))
        following = start_attack(self.vegeta, second[0], then_rate, then_seconds, second[1], self.timeout, lazy=True)
        finish_attack(overloading)
        finish_attack(following)
        cpu, wall = children_cpu_seconds() - cpu, time.monotonic() - wall
        overload_results, after_results = read_results(self.vegeta, first[1]), read_results(self.vegeta, second[1])
        # one CPU figure for both processes, over both
        return (step_statistics(overload_results, rate, seconds, processes, wall, cpu, first[2]),
                step_statistics(after_results, then_rate, then_seconds, processes, wall, cpu, second[2]),
                overload_results, after_results)

    def warm_up(self, rate_and_seconds=WARM_UP):
        rate, seconds = rate_and_seconds
        targets, output, _ = self.prepare(rate, seconds)
        finish_attack(start_attack(self.vegeta, targets, rate, seconds, output, self.timeout))


def stored(results, wait_seconds=60):
    """Whether every transaction answered (200, not shed) is stored with its verdict: a
    Transaction row and a Verdict row, waiting up to wait_seconds for the last verdicts."""
    from transactions.models import Transaction, Verdict

    # HAProxy's own timed-out answer (PROXY_SERVER_TIMEOUT_MS) names no transaction: not checked.
    ids = sorted({result.transaction_id for result in results
                  if result.answer in ("verdict", "timed_out") and result.transaction_id})
    deadline = time.monotonic() + wait_seconds
    while True:
        transactions = _present(Transaction, ids)
        verdicts = _present(Verdict, ids)
        if len(transactions & verdicts) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(1)
    return {"answered": len(ids), "missing_transactions": len(ids) - len(transactions),
            "missing_verdicts": len(ids) - len(verdicts),
            "stored_share": round(len(transactions & verdicts) / len(ids), 4) if ids else None}


def _present(model, ids, chunk=10_000):
    found = set()
    for start in range(0, len(ids), chunk):
        found.update(model.objects.filter(transaction_id__in=ids[start:start + chunk])
                     .values_list("transaction_id", flat=True))
    return found


def describe(step):
    return (f"{step['rate']}/s x {step['processes']} processes: achieved {step['achieved']}/s, p50 {step['p50_ms']} "
            f"/ p99 {step['p99_ms']} / max {step['max_ms']} ms, verdict {step['verdict_share']:.1%}, timed out "
            f"{step['timed_out_share']:.1%}, shed {step['shed_share']:.1%}, errors {step['errors'] or 'none'}, "
            f"client CPU {step['client_cpu_share']:.1%}"
            + "".join(f"; {name} p50 {part['p50_ms']} / p99 {part['p99_ms']} ms"
                      for name, part in step.get("stages", {}).items())
            + (f"; a web process's interpreter held {step['profile']['busy_share']:.0%} of the step"
               if "busy_share" in step.get("profile", {}) else ""))


# --- B5 and its limit ----------------------------------------------------------------------------

def bench_b5(config, open_site, user_ids, results_dir, say):
    """The product's steps (config: run.py's b5_ settings), then the limit's. open_site(processes)
    is a context manager yielding the running site with that many web processes."""
    from django.conf import settings

    from api.models import ClientKey

    budget = settings.DECISION_BUDGET_MS
    vegeta = install_vegeta()
    _, secret = ClientKey.objects.create_key(name=f"bench-{time.time():.0f}", scopes=["decisions"],
                                             rate_limit_per_minute=1_000_000)
    steps = []
    with tempfile.TemporaryDirectory(prefix="b5-") as workdir:
        def load(site):
            return Load(vegeta, site.url + DECISIONS_PATH, user_ids, Path(workdir),
                        headers={"Authorization": [f"Api-Key {secret}"]}, server_pid=site.processes["web"].pid)

        processes = config["b5_processes"]
        with open_site(processes) as site:
            requests = load(site)
            requests.warm_up()
            if config["b5_steps"] and config.get("b5_stack_warm_up"):
                rate, seconds = config["b5_stack_warm_up"]
                say(f"B5: warming the stack up, {rate} decisions/s for {seconds} s (not measured) ...")
                requests.warm_up((rate, seconds))
            for rate, seconds in config["b5_steps"]:
                say(f"B5: {rate} decisions/s for {seconds} s, {processes} web processes (budget {budget} ms) ...")
                step, results = requests.step(rate, seconds, processes)
                step["phase"] = "ladder"
                say(f"B5 {describe(step)}; checking that every answered transaction is stored ...")
                step["storage"] = stored(results)  # also lets the pipeline settle before the next step
                say(f"B5 storage: {step['storage']}")
                steps.append(step)
                time.sleep(SETTLE_SECONDS)
            if config["b5_overload"]:
                (rate, seconds), (then_rate, then_seconds) = config["b5_overload"], config["b5_recovery"]
                say(f"B5: overload, {rate}/s for {seconds} s, then {then_rate}/s for {then_seconds} s ...")
                step, after, overload_results, after_results = requests.overload(rate, seconds, then_rate,
                                                                                 then_seconds, processes)
                steady = next((s for s in steps if s["rate"] == then_rate), after)
                step.update(phase="overload", after=after,
                            recovery=recovery(overload_results, after_results, steady))
                say(f"B5 overload {describe(step)}; after: {describe(after)}; "
                    f"back to normal after {step['recovery']['recovered_after_s']} s")
                steps.append(step)
        if config.get("b5_proxy_overload"):
            time.sleep(SETTLE_SECONDS)
            with open_site(processes) as site, haproxy_in_front(site, Path(workdir), results_dir / "b5-proxy.log") as url:
                requests = Load(vegeta, url + DECISIONS_PATH, user_ids, Path(workdir),
                                headers={"Authorization": [f"Api-Key {secret}"]}, server_pid=site.processes["web"].pid)
                requests.warm_up()
                for rate, seconds in config["b5_proxy_steps"]:
                    say(f"B5 behind HAProxy: {rate}/s for {seconds} s, {processes} web processes ...")
                    step, results = requests.step(rate, seconds, processes)
                    step.update(phase="proxy", storage=stored(results))
                    say(f"B5 behind HAProxy {describe(step)}; storage: {step['storage']}")
                    steps.append(step)
                    time.sleep(SETTLE_SECONDS)
                (rate, seconds), (then_rate, then_seconds) = config["b5_proxy_overload"], config["b5_recovery"]
                say(f"B5 behind HAProxy: overload, {rate}/s for {seconds} s, then {then_rate}/s for {then_seconds} s ...")
                step, after, overload_results, after_results = requests.overload(rate, seconds, then_rate,
                                                                                 then_seconds, processes)
                steady = next((s for s in steps if s["phase"] == "proxy" and s["rate"] == then_rate), after)
                step.update(phase="proxy overload", after=after,
                            recovery=recovery(overload_results, after_results, steady))
                say(f"B5 behind HAProxy, overload {describe(step)}; after: {describe(after)}; "
                    f"back to normal after {step['recovery']['recovered_after_s']} s")
                steps.append(step)
        scaling_rate, scaling_seconds = config["b5_scaling_step"]
        for processes in config["b5_scaling_processes"]:
            time.sleep(SETTLE_SECONDS)
            with open_site(processes) as site:
                requests = load(site)
                requests.warm_up()
                say(f"B5 scaling: {scaling_rate}/s for {scaling_seconds} s, {processes} web processes ...")
                step, _ = requests.step(scaling_rate, scaling_seconds, processes)
                step["phase"] = "scaling"
                say(f"B5 {describe(step)}")
                steps.append(step)

        limit = {"processes": config["b5_processes"], "steps": [], "sustainable_rate": None}
        if config["b5_limit_steps"]:
            time.sleep(SETTLE_SECONDS)
            limit = bench_limit(vegeta, user_ids, config["b5_processes"], config["b5_limit_steps"],
                                Path(workdir), results_dir / "b5-limit-processes.log", say)

    # The product's sustainable rate, compared with the limit's on the same number of processes.
    steady = [step for step in steps if not step["phase"].endswith("overload") and step["processes"] == limit["processes"]]
    best = highest_sustained(steady, budget)
    for step in steps:
        if step["phase"].endswith("overload"):
            step["verdicts_vs_sustainable"] = (round(step["verdicts_per_second"] / best["verdicts_per_second"], 2)
                                               if best else None)
    return {
        "budget_ms": budget, "steps": steps, "limit": limit, "front_nice": front_nice(),
        "sustainable_rate": best["rate"] if best else None, "sustainable_processes": limit["processes"],
        "share_of_limit": (round(best["rate"] / limit["sustainable_rate"], 2)
                           if best and limit["sustainable_rate"] else None),
        "sustained_means": f"achieved >= {SUSTAINED_OFFERED:.0%} of the rate, p99 <= {budget} ms, "
                           f">= {SUSTAINED_VERDICT_SHARE:.0%} of requests answered with the job's verdict",
    }


def bench_limit(vegeta, user_ids, processes, limit_steps, workdir, log, say):
    """The same ladder against bench/minimal_decider.py: the limit of this design."""
    from django.conf import settings

    steps = []
    with minimal_decider(processes, log) as url:
        requests = Load(vegeta, url + DECISIONS_PATH, user_ids, workdir)
        requests.warm_up()
        for rate, seconds in limit_steps:
            say(f"B5 limit: the minimal decider, {rate}/s for {seconds} s, {processes} processes ...")
            step, _ = requests.step(rate, seconds, processes)
            say(f"B5 limit {describe(step)}")
            steps.append(step)
            time.sleep(SETTLE_SECONDS)
    best = highest_sustained(steps, settings.DECISION_BUDGET_MS)
    return {"processes": processes, "steps": steps, "sustainable_rate": best["rate"] if best else None}


@contextmanager
def haproxy_in_front(site, workdir, log):
    """HAProxy with the product's configuration (python -m fraudsite.proxy) in front of the site;
    yields its URL."""
    from fraudsite import proxy

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # HAProxy binds it itself
    with open(log, "w") as output, proxy.running(workdir / "proxy", f"127.0.0.1:{port}",
                                                 f"127.0.0.1:{site.port}", output, preexec_fn=in_front) as url:
        yield url


@contextmanager
def minimal_decider(processes, log, ready_timeout=60):
    """uvicorn serving bench/minimal_decider.py with `processes` workers on a free port, with
    the environment the site gets (tests.support.site); yields its URL once every worker answers."""
    from django.conf import settings

    from fraudsite.server import answer_without_delay, uvicorn_argv
    from tests.support.site import listening_socket

    env = {**os.environ, "DEBUG": "False", "HTTPS_ONLY": "False", "SECRET_KEY": settings.SECRET_KEY,
           "ALLOWED_HOSTS": "localhost,127.0.0.1"}
    # Listening before uvicorn starts (it serves the inherited socket), as the tests' site does.
    listener = listening_socket()
    answer_without_delay(listener)  # what fraudsite.server does for the product's inherited socket
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with open(log, "w") as output:
        server = subprocess.Popen(
            # The product's uvicorn command line (event loop, HTTP parser, no access log, ...), this app.
            [MINIMAL_DECIDER if arg == PRODUCT_APP else arg for arg in uvicorn_argv(processes, fd=listener.fileno())],
            cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, pass_fds=[listener.fileno()])
        listener.close()
        try:
            _wait_for_workers(url, processes, server, log, ready_timeout)
            yield url
        finally:
            server.terminate()  # uvicorn's supervisor stops its workers
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_for_workers(url, processes, server, log, timeout):
    """Until `processes` different workers have answered (each starts its waiter before it accepts)."""
    seen, deadline = set(), time.monotonic() + timeout
    while len(seen) < processes:
        if server.poll() is not None:
            raise RuntimeError(f"the minimal decider ended (exit code {server.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {processes} minimal decider workers answered; see {log}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as response:
                seen.add(json.loads(response.read())["pid"])
        except OSError:
            time.sleep(0.2)
