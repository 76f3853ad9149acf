"""The low-cost load generator (bench/loadgen/LoadGenerator.java) driven from Python.

The positions come from the project's simulator (walking customers, 5 % impossible jumps),
written once to a pool file; the Java program loops over them at the requested rate with fresh
timestamps and transaction ids, and reports its own CPU time, so every run states the share of
the machine the generator took from the pipeline.
"""

import json
import os
import re
import subprocess
import threading
from pathlib import Path

from django.conf import settings

from fraudsite.topics import CARD_TRANSACTIONS
from localstack.layout import paths
from transactions import context
from transactions.simulator import MERCHANTS, Simulator

SOURCE = Path(__file__).parent / "loadgen" / "LoadGenerator.java"
# Kafka's producer and what it loads; compression is off, but the client links the codecs.
CLIENT_JARS = ("kafka-clients-", "slf4j-api-", "lz4-java-", "snappy-java-", "zstd-jni-")


def classpath():
    jars = sorted(str(jar) for jar in paths().kafka_jars.glob("*.jar") if jar.name.startswith(CLIENT_JARS))
    if not any("kafka-clients-" in jar for jar in jars):
        raise RuntimeError(f"no Kafka client jars in {paths().kafka_jars}: run `manage.py stack up` once")
    return os.pathsep.join(jars)


def write_pool(user_ids, path, size=200_000, rate=10_000, seed=7, merchants=MERCHANTS, cards_per_customer=1):
    """size positions of the simulator's customers (with cards_per_customer cards each) at
    `merchants` merchants, as if sent at rate per second."""
    simulator = Simulator(user_ids, seed=seed, merchants=merchants, cards_per_customer=cards_per_customer)
    start = simulator.walkers[0].last_ms
    with open(path, "w") as pool:
        for number in range(size):
            user_id, record = simulator.next_transaction(now_ms=start + int(number * 1000 / rate))
            context_texts = ",".join(_context_texts(record))
            pool.write(f"{user_id},{record['lat']!r},{record['lng']!r},{record['amount']!r},{context_texts}\n")
    return path


def _context_texts(record):
    """The record's context fields in schema order, as the generator takes them ("" for null; no
    field's check lets a comma through, so the pool's lines split on commas)."""
    return [record.get(name) or "" for name in context.NAMES]


def command(*args):
    return ["java", "-XX:+UseSerialGC", "-Xmx256m", "-cp", classpath(), str(SOURCE), *map(str, args)]


def encode(record):
    """The generator's Avro bytes for one record (for the test that compares them with the codec)."""
    fields = [record[name] for name in ("timestamp", "transaction_id", "lat", "lng", "amount")]
    out = subprocess.run(command("--encode", *fields, *_context_texts(record)),
                         capture_output=True, text=True, check=True).stdout
    return bytes.fromhex(out.strip())


def start(pool, rate, seconds, run_id, topic=None, log=None):
    """The generator as a running process; finish() collects its report. Its progress lines
    (each second: 'loadgen: N of M sent, K acknowledged') go to log, a file or subprocess.PIPE."""
    return subprocess.Popen(
        command("--bootstrap", settings.KAFKA_BOOTSTRAP_SERVERS, "--topic", topic or CARD_TRANSACTIONS.name,
                "--pool", pool, "--rate", rate, "--seconds", seconds, "--run-id", run_id),
        stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True)


PROGRESS = re.compile(r"loadgen: (\d+) of \d+ sent, (\d+) acknowledged")


def follow_progress(process, on_progress):
    """Call on_progress(acknowledged) for each progress line of a generator started with
    log=subprocess.PIPE, on a thread of its own."""
    def read():
        for line in process.stderr:
            match = PROGRESS.match(line)
            if match:
                on_progress(int(match.group(2)))
    threading.Thread(target=read, daemon=True).start()


def finish(process, timeout=None):
    """The generator's report: sent, acknowledged, failed, seconds, cpu_seconds, and cpu_share (of
    every core of the machine, over its run)."""
    out = process.stdout.read()  # (its stderr, when piped, belongs to follow_progress)
    process.wait(timeout)
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {process.returncode}); see its log")
    report = json.loads(out.strip().splitlines()[-1])
    report["cpu_share"] = report["cpu_seconds"] / report["seconds"] / os.cpu_count()
    return report
