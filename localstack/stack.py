"""The local streaming stack: Apache Kafka (KRaft, single node) and an Apache Flink session cluster
running the detection SQL, as plain JVM processes from pinned, checksum-verified artifacts.

Artifacts are downloaded once into STACK_CACHE_DIR (Kafka and Flink connectors from Maven
Central through Maven, the Flink runtime from PyPI's apache-flink-libraries); the state of a
running stack (data, logs, pid files, rendered config) lives in STACK_DIR.
"""

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from fraudsite import detection_sql
from fraudsite.kafka import broker_reachable
from fraudsite.topics import ensure_topics

HERE = Path(__file__).resolve().parent
KAFKA_VERSION = "4.1.1"
FLINK_VERSION = "2.2.1"
JOB_NAME_PREFIX = "fraud-detection-"

# What Flink's own scripts pass to every Flink JVM on Java 17 (env.java.opts.all in its default config).
FLINK_JAVA_17_OPTIONS = [
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
]


class StackError(Exception):
    """Something the user can fix; the message says what."""


def say(message):
    print(f"[stack] {message}", flush=True)


@dataclass
class Paths:
    cache: Path
    state: Path

    @property
    def kafka_jars(self):
        return self.cache / f"kafka-{KAFKA_VERSION}"

    @property
    def flink_home(self):
        return self.cache / f"flink-{FLINK_VERSION}"

    @property
    def logs(self):
        return self.state / "logs"

    @property
    def flink_conf(self):
        return self.state / "flink" / "conf"

    def pidfile(self, name):
        return self.state / f"{name}.pid"


def paths():
    return Paths(cache=settings.STACK_CACHE_DIR, state=settings.STACK_DIR)


# --- artifacts ------------------------------------------------------------------------------

def _run(command, what, **kwargs):
    try:
        result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise StackError(f"{what}: '{command[0]}' is not installed") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(f"{what} failed:\n{tail}")
    return result


def _lock():
    """Expected sha256 of every jar, from localstack/jars.sha256 ('<sha256>  <dir>/<file>')."""
    entries = {}
    for line in (HERE / "jars.sha256").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            entries[name] = digest
    return entries


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(directory, prefix):
    """Check every jar of directory against the lock; raise on a missing, extra or altered jar."""
    expected = {name: digest for name, digest in _lock().items() if name.startswith(prefix + "/")}
    found = {f"{prefix}/{jar.name}": jar for jar in directory.glob("*.jar")}
    if set(found) != set(expected):
        raise StackError(
            f"{directory} does not match localstack/jars.sha256: "
            f"missing {sorted(set(expected) - set(found))}, unexpected {sorted(set(found) - set(expected))}"
        )
    for name, jar in found.items():
        if _sha256(jar) != expected[name]:
            raise StackError(f"checksum mismatch for {jar}: delete {directory} and run again")


def _maven_copy(pom, destination, what):
    say(f"downloading {what} from Maven Central (once) ...")
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    _run(
        [
            "mvn", "-B", "-q", "--strict-checksums",
            f"-Dmaven.repo.local={paths().cache / 'm2'}",
            "-f", str(HERE / pom),
            "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ],
        f"downloading {what}",
    )
    return staging


def ensure_kafka():
    target = paths().kafka_jars
    if not target.exists():
        staging = _maven_copy("kafka-pom.xml", target, f"Apache Kafka {KAFKA_VERSION}")
        _verify(staging, "kafka")
        staging.rename(target)
    _verify(target, "kafka")
    return target


def ensure_flink():
    home = paths().flink_home
    if not home.exists():
        p = paths()
        downloads = p.cache / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        say(f"downloading the Flink {FLINK_VERSION} runtime (apache-flink-libraries, ~310 MB, once) ...")
        _run(
            [
                sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
                "-r", str(HERE / "flink-requirements.txt"), "-d", str(downloads),
            ],
            "downloading apache-flink-libraries",
        )
        wheel = next(downloads.glob(f"apache_flink_libraries-{FLINK_VERSION}-*.whl"))
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(("pyflink/lib/", "pyflink/opt/flink-sql-client", "pyflink/opt/flink-python",
                                      "pyflink/bin/bash-java-utils.jar")) and member.endswith(".jar"):
                    target = staging / Path(member).relative_to("pyflink")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, open(target, "wb") as sink:
                        shutil.copyfileobj(source, sink)
        connectors = _maven_copy("flink-pom.xml", staging / "connectors", "Flink's Kafka connector and Avro format")
        connectors.rename(staging / "connectors")
        _verify(staging / "connectors", "flink-connectors")
        staging.rename(home)
    _verify(home / "connectors", "flink-connectors")
    return home


# --- processes ------------------------------------------------------------------------------

def _pid(name):
    pidfile = paths().pidfile(name)
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    if not _alive(pid):
        pidfile.unlink()
        return None
    return pid


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _require_free(port, setting):
    if not _port_free(port):
        raise StackError(f"port {port} is taken by another process: stop it or set {setting} to another port")


def _spawn(name, command, env=None):
    p = paths()
    p.logs.mkdir(parents=True, exist_ok=True)
    with open(p.logs / f"{name}.out", "ab") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the caller's terminal must not kill the stack
            env={**os.environ, **(env or {})}, cwd=p.state,
        )
    p.pidfile(name).write_text(str(process.pid))
    return process.pid


def _wait(what, check, timeout, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    hint = f"; see {log}" if log else ""
    raise StackError(f"{what} did not come up within {timeout} s{hint}")


def _log4j_options(name):
    return [
        f"-Dlog.file={paths().logs / (name + '.log')}",
        f"-Dlog4j.configurationFile=file:{HERE / 'log4j2.properties'}",
        f"-Dlog4j2.configurationFile=file:{HERE / 'log4j2.properties'}",
    ]


def require_java():
    if shutil.which("java") is None:
        raise StackError("Java 17 or newer is required: apt-get install openjdk-17-jre-headless")


# --- Kafka ----------------------------------------------------------------------------------

def format_kafka_storage(properties, data, classpath):
    """Give a new broker its cluster id (once; a formatted data directory is kept)."""
    if (data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # --cluster-id=...: a random id may begin with "-", which would read as an option.
    _run(["java", "-cp", classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
          "-c", str(properties)], "formatting Kafka's storage")


def start_kafka():
    if _pid("kafka"):
        say(f"Kafka already running (pid {_pid('kafka')})")
        return
    jars = ensure_kafka()
    _require_free(settings.STACK_KAFKA_PORT, "STACK_KAFKA_PORT")
    _require_free(settings.STACK_KAFKA_CONTROLLER_PORT, "STACK_KAFKA_CONTROLLER_PORT")
    p = paths()
    data = p.state / "kafka" / "data"
    properties = p.state / "kafka" / "server.properties"
    properties.parent.mkdir(parents=True, exist_ok=True)
    kafka_port, controller_port = settings.STACK_KAFKA_PORT, settings.STACK_KAFKA_CONTROLLER_PORT
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@localhost:{controller_port}",
                f"listeners=PLAINTEXT://localhost:{kafka_port},CONTROLLER://localhost:{controller_port}",
                f"advertised.listeners=PLAINTEXT://localhost:{kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "",
            ]
        )
    )
    classpath = f"{jars}/*"
    format_kafka_storage(properties, data, classpath)
    pid = _spawn("kafka", ["java", "-Xms512m", "-Xmx512m", *_log4j_options("kafka"),
                           "-cp", classpath, "kafka.Kafka", str(properties)])
    say(f"Kafka starting on localhost:{kafka_port} (pid {pid})")
    _wait("Kafka", broker_reachable, 90, p.logs / "kafka.log")
    created = ensure_topics()
    say(f"topics ready{' (created ' + ', '.join(created) + ')' if created else ''}")


# --- Flink ----------------------------------------------------------------------------------

def flink_rest(path, method="GET", timeout=5, body=None):
    request = urllib.request.Request(
        f"http://localhost:{settings.STACK_FLINK_REST_PORT}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={} if body is None else {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def flink_overview():
    try:
        return flink_rest("/overview", timeout=2)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _write_flink_conf():
    p = paths()
    p.flink_conf.mkdir(parents=True, exist_ok=True)
    checkpoints = (p.state / "flink" / "checkpoints").as_uri()
    (p.flink_conf / "config.yaml").write_text(
        f"""\
# Written by manage.py stack up; edit fraudsite/localstack/stack.py instead.
jobmanager:
  rpc: {{address: localhost, port: {settings.STACK_FLINK_RPC_PORT}}}
  bind-host: localhost
  memory: {{process: {{size: 1024m}}}}
taskmanager:
  host: localhost
  bind-host: localhost
  numberOfTaskSlots: 4
  memory: {{process: {{size: 1728m}}}}
rest:
  address: localhost
  bind-address: localhost
  port: {settings.STACK_FLINK_REST_PORT}
parallelism: {{default: {settings.STACK_FLINK_PARALLELISM}}}
execution:
  checkpointing: {{interval: 10s, dir: "{checkpoints}"}}
restart-strategy: {{type: exponential-delay}}
# The REST API's metrics (the job's watermark, read by /health) at most 1 s old rather than 10 s.
metrics: {{fetcher: {{update-interval: 1000}}}}
# Jobs are submitted by this stack (SQL client, REST), never as jars uploaded through the web UI.
web: {{submit: {{enable: false}}}}
# A lost TaskManager is noticed within seconds rather than Flink's default 50 s.
heartbeat: {{interval: 2000, timeout: 10000}}
"""
    )


def _resource_options(flink_home, which):
    """JVM flags and -D memory settings for a JobManager or TaskManager, as Flink's scripts get them."""
    result = _run(
        ["java", "-cp", f"{flink_home}/bin/bash-java-utils.jar:{flink_home}/lib/*",
         "org.apache.flink.runtime.util.bash.BashJavaUtils", which, "--configDir", str(paths().flink_conf)],
        f"computing Flink memory settings ({which})",
    )
    lines = [line.split(":", 1)[1] for line in result.stdout.splitlines()
             if line.startswith("BASH_JAVA_UTILS_EXEC_RESULT:")]
    jvm_flags, dynamic_properties = lines[0].split(), lines[1].split()
    return jvm_flags, dynamic_properties


def _flink_classpath(flink_home):
    return f"{flink_home}/lib/*:{flink_home}/connectors/*"


def start_flink():
    flink_home = ensure_flink()
    _write_flink_conf()
    p = paths()
    if not _pid("flink-jobmanager"):
        _require_free(settings.STACK_FLINK_REST_PORT, "STACK_FLINK_REST_PORT")
        _require_free(settings.STACK_FLINK_RPC_PORT, "STACK_FLINK_RPC_PORT")
        jvm, dynamic = _resource_options(flink_home, "GET_JM_RESOURCE_PARAMS")
        pid = _spawn("flink-jobmanager", [
            "java", *jvm, *FLINK_JAVA_17_OPTIONS, *_log4j_options("flink-jobmanager"),
            "-cp", _flink_classpath(flink_home),
            "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
            "--configDir", str(p.flink_conf), *dynamic,
        ])
        say(f"Flink JobManager starting, web UI http://localhost:{settings.STACK_FLINK_REST_PORT} (pid {pid})")
    if not _pid("flink-taskmanager"):
        jvm, dynamic = _resource_options(flink_home, "GET_TM_RESOURCE_PARAMS")
        pid = _spawn("flink-taskmanager", [
            "java", *jvm, *FLINK_JAVA_17_OPTIONS, *_log4j_options("flink-taskmanager"),
            "-cp", _flink_classpath(flink_home),
            "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
            "--configDir", str(p.flink_conf), *dynamic,
        ])
        say(f"Flink TaskManager starting (pid {pid})")
    _wait("the Flink cluster", lambda: (flink_overview() or {}).get("taskmanagers", 0) >= 1, 120,
          p.logs / "flink-jobmanager.log")


def detection_jobs():
    """Jobs of the cluster whose name marks them as the detection job: [{'jid', 'name', 'state'}]."""
    try:
        jobs = flink_rest("/jobs/overview")["jobs"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return []
    return [job for job in jobs if job["name"].startswith(JOB_NAME_PREFIX)]


def local_sql():
    return detection_sql.render("local", bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)


def expected_job_name():
    return JOB_NAME_PREFIX + detection_sql.fingerprint(local_sql())


def run_sql_script(script, what):
    """Run a SQL script through Flink's SQL client (embedded); returns its output."""
    p = paths()
    flink_home = p.flink_home
    result = _run(
        ["java", *FLINK_JAVA_17_OPTIONS, *_log4j_options("sql-client"),
         "-cp", f"{_flink_classpath(flink_home)}:{flink_home}/opt/*",
         "org.apache.flink.table.client.SqlClient", "embedded", "-f", str(script)],
        f"running {what}", env={**os.environ, "FLINK_CONF_DIR": str(p.flink_conf)}, cwd=p.state,
        timeout=300,
    )
    if "[ERROR]" in result.stdout:  # the SQL client exits 0 even when a statement fails
        error = result.stdout[result.stdout.index("[ERROR]"):].splitlines()[:3]
        raise StackError(f"{what} was rejected ({script}):\n" + "\n".join(error))
    return result.stdout


def submit_detection_job():
    """Run the rendered local SQL through Flink's SQL client unless that exact SQL already runs."""
    name = expected_job_name()
    live = [job for job in detection_jobs() if job["state"] in ("RUNNING", "CREATED", "INITIALIZING", "RESTARTING")]
    if any(job["name"] == name for job in live):
        say(f"detection job {name} already running")
        return
    for job in live:  # an older version of the SQL
        say(f"cancelling outdated detection job {job['name']}")
        flink_rest(f"/jobs/{job['jid']}?mode=cancel", method="PATCH")
    p = paths()
    script = p.state / "flink" / "detection.sql"
    settings_lines = [f"SET 'pipeline.name' = '{name}';"]
    savepoint = _savepoint_for(name)
    if savepoint:
        say(f"resuming from the savepoint taken at the last `stack down` ({savepoint})")
        settings_lines.append(f"SET 'execution.savepoint.path' = '{savepoint}';")
    script.write_text("\n".join(settings_lines) + f"\n\n{local_sql()}")
    say(f"submitting detection job {name} ({script}) ...")
    run_sql_script(script, "the detection SQL")
    _wait("the detection job", lambda: any(job["name"] == name and job["state"] == "RUNNING"
                                           for job in detection_jobs()), 120, p.logs / "flink-jobmanager.log")
    _savepoint_file().unlink(missing_ok=True)  # used; a later restart must not go back to it
    say(f"detection job RUNNING: http://localhost:{settings.STACK_FLINK_REST_PORT}")


def _savepoint_file():
    return paths().state / "flink" / "savepoint.json"


def _savepoint_for(job_name):
    """The savepoint of the same SQL (state of other SQL may not fit), if `stack down` left one."""
    if not _savepoint_file().exists():
        return None
    saved = json.loads(_savepoint_file().read_text())
    if saved["job_name"] != job_name:
        say(f"not resuming {saved['job_name']}'s savepoint: the detection SQL has changed")
        return None
    return saved["location"]


def suspend_detection_job(timeout=120):
    """Stop the running detection job with a savepoint, so that the next `up` resumes its state
    (each customer's previous transaction, the Kafka offsets) instead of starting afresh."""
    for job in detection_jobs():
        if job["state"] != "RUNNING":
            continue
        target = (paths().state / "flink" / "savepoints").as_uri()
        trigger = flink_rest(f"/jobs/{job['jid']}/stop", method="POST",
                             body={"targetDirectory": target, "drain": False})["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = flink_rest(f"/jobs/{job['jid']}/savepoints/{trigger}")
            if status["status"]["id"] == "COMPLETED":
                operation = status["operation"]
                if "location" in operation:
                    _savepoint_file().write_text(json.dumps({"job_name": job["name"], "location": operation["location"]}))
                    say(f"detection job stopped with a savepoint: {operation['location']}")
                else:
                    say(f"the savepoint failed; the next start begins afresh: {operation.get('failure-cause')}")
                break
            time.sleep(0.5)
        else:
            say(f"no savepoint within {timeout} s; the next start begins afresh")


# --- commands -------------------------------------------------------------------------------

def start_clock():
    """The event-time clock (transactions/clock.py), part of the stack like the broker and Flink."""
    if _pid("event-clock"):
        say(f"event-time clock already running (pid {_pid('event-clock')})")
        return
    pid = _spawn("event-clock", [sys.executable, str(settings.BASE_DIR / "manage.py"), "event_clock"], env={
        "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
        "TOPIC_CARD_TRANSACTIONS": settings.TOPIC_CARD_TRANSACTIONS,
        "EVENT_TIME_TICK_MS": str(settings.EVENT_TIME_TICK_MS),
    })
    say(f"event-time clock ticking every {settings.EVENT_TIME_TICK_MS} ms (pid {pid})")


def up():
    require_java()
    p = paths()
    p.state.mkdir(parents=True, exist_ok=True)
    start_kafka()
    start_clock()
    start_flink()
    submit_detection_job()


def _stop(name, timeout=30):
    pid = _pid(name)
    if pid is None:
        return
    say(f"stopping {name} (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.3)
    paths().pidfile(name).unlink(missing_ok=True)


def _alive(pid):
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child, now reaped
            return False
    except ChildProcessError:  # started by another process (e.g. an earlier `stack up`)
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie left to a parent that never reaps is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def down(purge=False):
    if not purge and _pid("flink-jobmanager") and flink_overview():
        suspend_detection_job()
    stop(started_processes())
    if purge:
        shutil.rmtree(paths().state, ignore_errors=True)
        say(f"removed {paths().state}")
    say("stack is down")


def status():
    """A dict describing the stack; also what `manage.py stack status` prints."""
    from fraudsite.topics import topic_configs

    report = {"kafka_pid": _pid("kafka"), "kafka_reachable": broker_reachable(), "topics": {}}
    if report["kafka_reachable"]:
        from confluent_kafka.admin import AdminClient

        from fraudsite.kafka import client_config

        existing = AdminClient(client_config()).list_topics(timeout=5).topics
        report["topics"] = {name: name in existing for name in topic_configs()}
    report["flink_jobmanager_pid"] = _pid("flink-jobmanager")
    report["flink_taskmanager_pid"] = _pid("flink-taskmanager")
    report["flink_web_ui"] = f"http://localhost:{settings.STACK_FLINK_REST_PORT}"
    report["detection_jobs"] = detection_jobs()
    report["expected_job"] = expected_job_name()
    report["event_clock_pid"] = _pid("event-clock")
    from transactions import health

    verdicts = health.report()  # how late verdicts are (the job's watermark, stored verdicts)
    report["verdicts"] = {key: verdicts[key] for key in
                          ("status", "verdict_lag_seconds", "job_watermark_lag_seconds",
                           "oldest_unjudged_transaction_seconds", "lag_alert_seconds")}
    report["logs"] = str(paths().logs)
    return report


STOP_ORDER = ("flink-taskmanager", "flink-jobmanager", "event-clock", "kafka")


def started_processes():
    """Names of the stack's processes that are running now (for callers that clean up after themselves)."""
    return {name for name in STOP_ORDER if _pid(name)}


def stop(names):
    """Stop the given stack processes, Flink before the clock before Kafka."""
    for name in STOP_ORDER:
        if name in names:
            _stop(name)
