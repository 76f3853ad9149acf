"""The stack's Apache Flink session cluster and the detection job it runs: submitted through Flink's
SQL client, stopped by `stack down` with a savepoint that the next `stack up` resumes from. Its REST
API is read through fraudsite/flink_client.py, the client production code uses too."""

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from django.conf import settings

from fraudsite import detection_sql
from fraudsite.flink_client import JOB_NAME_PREFIX, detection_jobs, flink_overview, flink_rest
from fraudsite.topics import TOPICS

from .artifacts import ensure_flink
from .handover import hand_over
from .layout import paths
from .messages import StackError, say
from .processes import log4j_options, require_free_port, run_checked, running_pid, spawn, wait_for
from .upgrade import upgrade_compacted_topic

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


STATE_BACKENDS = ("hashmap", "rocksdb")


def _write_flink_conf():
    if settings.STACK_FLINK_STATE_BACKEND not in STATE_BACKENDS:
        raise StackError(f"STACK_FLINK_STATE_BACKEND is {settings.STACK_FLINK_STATE_BACKEND!r}: "
                         f"it must be one of {', '.join(STATE_BACKENDS)}")
    p = paths()
    p.flink_conf.mkdir(parents=True, exist_ok=True)
    checkpoints = (p.state / "flink" / "checkpoints").as_uri()
    (p.flink_conf / "config.yaml").write_text(
        f"""\
# Written by manage.py stack up; edit fraudsite/localstack/flink.py instead.
jobmanager:
  rpc: {{address: localhost, port: {settings.STACK_FLINK_RPC_PORT}}}
  bind-host: localhost
  memory: {{process: {{size: 1024m}}}}
taskmanager:
  host: localhost
  bind-host: localhost
  numberOfTaskSlots: 4
  memory: {{process: {{size: {settings.STACK_FLINK_TASKMANAGER_MEMORY}}}}}
rest:
  address: localhost
  bind-address: localhost
  port: {settings.STACK_FLINK_REST_PORT}
parallelism: {{default: {settings.STACK_FLINK_PARALLELISM}}}
execution:
  checkpointing: {{interval: 10s, dir: "{checkpoints}", incremental: true}}
state.backend.type: {settings.STACK_FLINK_STATE_BACKEND}
# The timers of the windows live on the heap even with RocksDB: few, short-lived, read at every watermark.
state.backend.rocksdb.timer-service.factory: HEAP
restart-strategy: {{type: exponential-delay}}
# The REST API's metrics (the job's watermark, read by /health) at most 1 s old rather than 10 s.
metrics: {{fetcher: {{update-interval: 1000}}}}
# Jobs are submitted by this stack (SQL client, REST), never as jars uploaded through the web UI.
# A job's tasks as the REST API reports them at most 0.5 s old rather than 3 s (its handlers cache
# the job's graph for the refresh interval): `stack up` and a hand-over see every task run sooner.
web: {{submit: {{enable: false}}, refresh-interval: 500}}
# A lost TaskManager is noticed within seconds rather than Flink's default 50 s.
heartbeat: {{interval: 2000, timeout: 10000}}
"""
    )


def _resource_options(flink_home, which):
    """JVM flags and -D memory settings for a JobManager or TaskManager, as Flink's scripts get them."""
    result = run_checked(
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


def _spawn_flink_process(flink_home, name, resources, entrypoint):
    """A JobManager or TaskManager JVM, started as Flink's own scripts start it; returns its pid."""
    jvm, dynamic = _resource_options(flink_home, resources)
    return spawn(name, [
        "java", *jvm, *FLINK_JAVA_17_OPTIONS, *log4j_options(name), "-cp", _flink_classpath(flink_home),
        entrypoint, "--configDir", str(paths().flink_conf), *dynamic,
    ])


def start_flink():
    flink_home = ensure_flink()
    _write_flink_conf()
    p = paths()
    if not running_pid("flink-jobmanager"):
        require_free_port(settings.STACK_FLINK_REST_PORT, "STACK_FLINK_REST_PORT")
        require_free_port(settings.STACK_FLINK_RPC_PORT, "STACK_FLINK_RPC_PORT")
        pid = _spawn_flink_process(flink_home, "flink-jobmanager", "GET_JM_RESOURCE_PARAMS",
                                   "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint")
        say(f"Flink JobManager starting, web UI http://localhost:{settings.STACK_FLINK_REST_PORT} (pid {pid})")
    if not running_pid("flink-taskmanager"):
        pid = _spawn_flink_process(flink_home, "flink-taskmanager", "GET_TM_RESOURCE_PARAMS",
                                   "org.apache.flink.runtime.taskexecutor.TaskManagerRunner")
        say(f"Flink TaskManager starting (pid {pid})")
    wait_for("the Flink cluster", lambda: (flink_overview() or {}).get("taskmanagers", 0) >= 1, 120,
             p.logs / "flink-jobmanager.log")


def local_sql():
    return detection_sql.render("local", bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)


def expected_job_name():
    return JOB_NAME_PREFIX + detection_sql.fingerprint(local_sql())


def run_sql_script(script, what):
    """Run a SQL script through Flink's SQL client (embedded); returns its output."""
    p = paths()
    flink_home = p.flink_home
    archive = _class_archive(flink_home)
    dumped = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    try:
        result = run_checked(
            # C1 only: the client lives seconds, and C2's compiling never paid back (planning the
            # detection SQL took 22 s of CPU with it, 13 s without).
            ["java", "-XX:TieredStopAtLevel=1", *_class_sharing(archive, dumped), *FLINK_JAVA_17_OPTIONS,
             *log4j_options("sql-client"), "-cp", f"{_flink_classpath(flink_home)}:{flink_home}/opt/*",
             "org.apache.flink.table.client.SqlClient", "embedded", "-f", str(script)],
            f"running {what}", env={**os.environ, "FLINK_CONF_DIR": str(p.flink_conf)}, cwd=p.state,
            timeout=300,
        )
        if dumped.exists():
            dumped.replace(archive)  # whole, or not at all: another client may be reading it
    finally:
        dumped.unlink(missing_ok=True)
    if "[ERROR]" in result.stdout:  # the SQL client exits 0 even when a statement fails
        error = result.stdout[result.stdout.index("[ERROR]"):].splitlines()[:3]
        raise StackError(f"{what} was rejected ({script}):\n" + "\n".join(error))
    return result.stdout


def _class_archive(flink_home):
    """Where the SQL client's class-data archive is kept: beside the Flink it was made from, shared by
    every stack directory (a test session's stack maps it at its first job instead of dumping it, a
    few seconds), and named after what it depends on, the Java binary and the jars, so that another
    Java or another jar gets an archive of its own rather than one the JVM would refuse."""
    java = Path(shutil.which("java") or "java").resolve()
    jars = sorted((path.name, path.stat().st_size) for folder in ("lib", "connectors", "opt")
                  for path in (flink_home / folder).glob("*.jar"))
    made_from = json.dumps([str(java), java.stat().st_mtime_ns if java.exists() else 0, jars])
    return flink_home.parent / f"sql-client-{hashlib.sha256(made_from.encode()).hexdigest()[:16]}.jsa"


def _class_sharing(archive, dumped):
    """The SQL client's classes, dumped into an archive at its first run and mapped from it by the
    later runs (Java's class-data sharing): 13 s of CPU to plan the detection SQL without, 10 s
    with. A Java that cannot use the archive says so and runs without it."""
    return [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else [f"-XX:ArchiveClassesAtExit={dumped}"]


def submit_detection_job():
    """Run the rendered local SQL through Flink's SQL client unless that exact SQL already runs.

    A redeploy (a job of other SQL runs, or `stack down` left one's savepoint) never judges a
    transaction twice and skips none: the old job is stopped drained, which gives every
    transaction it read its verdict, and the new job starts at the first transaction of each
    partition without one (localstack/handover.py); so does any job not resumed from its own
    savepoint (one that ended without, in a killed stack, too). Its state starts empty:
    docs/operator/local-stack.md says what the first transactions after a redeploy lack."""
    name = expected_job_name()
    live = [job for job in detection_jobs() if job["state"] in ("RUNNING", "CREATED", "INITIALIZING", "RESTARTING")]
    if any(job["name"] == name for job in live):
        say(f"detection job {name} already running")
        return
    saved = _saved_job()
    if not live and saved and saved["job_name"] != name:
        live, saved = _resumed_to_hand_over(saved), None
    for job in live:
        say(f"stopping outdated detection job {job['name']} drained; {name} takes over at its offsets")
        if _stop_with_savepoint(job, drain=True) is None:
            raise StackError(f"{job['name']} did not stop with a savepoint: not starting {name}, which would "
                             f"judge again what it had read. See {paths().logs / 'flink-jobmanager.log'}")
    savepoint = saved["location"] if saved and saved["job_name"] == name else None
    if savepoint:
        say(f"resuming from the savepoint taken at the last `stack down` ({savepoint})")
    else:  # also when a job ended without a savepoint (a killed stack): what has a verdict is not judged again
        for contract in TOPICS:  # the new SQL may read a newer version of a compacted topic's schema
            if contract.config.get("cleanup.policy") == "compact" and contract.previous_value_schema_paths:
                upgrade_compacted_topic(contract)
        cut_over = hand_over()
        say("the new job starts at " + ", ".join(f"partition {p} offset {o}" for p, o in sorted(cut_over.items())))
    _run_job(name, local_sql(), savepoint)
    _savepoint_file().unlink(missing_ok=True)  # used; a later restart must not go back to it
    say(f"detection job RUNNING: http://localhost:{settings.STACK_FLINK_REST_PORT}")


def _resumed_to_hand_over(saved):
    """The job of other SQL that `stack down` left a savepoint of, resumed so that it can be stopped
    drained ([that job]); [] when its SQL was not kept."""
    if saved["sql"] is None:
        say(f"not resuming {saved['job_name']}'s savepoint: the detection SQL has changed, and its SQL was not kept")
        return []
    say(f"the detection SQL has changed since `stack down`: resuming {saved['job_name']} to hand over where it stopped")
    return [_run_job(saved["job_name"], saved["sql"], savepoint=saved["location"])]


def _run_job(name, sql, savepoint=None):
    """Submit `sql` as the job `name` (from `savepoint` if given), wait until it runs, return it."""
    p = paths()
    script = p.state / "flink" / "detection.sql"
    settings_lines = [f"SET 'pipeline.name' = '{name}';"]
    if savepoint:
        settings_lines.append(f"SET 'execution.savepoint.path' = '{savepoint}';")
    script.write_text("\n".join(settings_lines) + f"\n\n{sql}")
    _job_sql_file(name).write_text(sql)  # what a later hand-over resumes, should the SQL change
    say(f"submitting detection job {name} ({script}) ...")
    run_sql_script(script, "the detection SQL")
    wait_for(f"the detection job {name}", lambda: _all_tasks_running(name), 120, p.logs / "flink-jobmanager.log")
    return next(job for job in detection_jobs() if job["name"] == name and job["state"] == "RUNNING")


def _all_tasks_running(name):
    """The job runs, every task included: a savepoint can be taken (the job's own state says
    RUNNING while its tasks are still being deployed)."""
    for job in detection_jobs():
        if job["name"] == name and job["state"] == "RUNNING":
            vertices = flink_rest(f"/jobs/{job['jid']}")["vertices"]
            return all(vertex["status"] == "RUNNING" for vertex in vertices)
    return False


def _savepoint_file():
    return paths().state / "flink" / "savepoint.json"


def _job_sql_file(job_name):
    return paths().state / "flink" / f"{job_name}.sql"


def _saved_job():
    """{'job_name', 'location', 'sql'} of the savepoint `stack down` left, if any (sql: None when
    an older version of this code did not keep the job's SQL)."""
    if not _savepoint_file().exists():
        return None
    saved = json.loads(_savepoint_file().read_text())
    sql = _job_sql_file(saved["job_name"])
    return {**saved, "sql": sql.read_text() if sql.exists() else None}


def suspend_detection_job(timeout=120):
    """Stop the running detection job with a savepoint, so that the next `up` resumes its state
    (each customer's previous transactions, the Kafka offsets) instead of starting afresh."""
    for job in detection_jobs():
        if job["state"] == "RUNNING":
            location = _stop_with_savepoint(job, drain=False, timeout=timeout)
            if location:
                _savepoint_file().write_text(json.dumps({"job_name": job["name"], "location": location}))
            else:
                say("the next start begins afresh")


def _stop_with_savepoint(job, drain, timeout=120):
    """Stop the job with a savepoint (drained: event time advanced to its end first, so every
    transaction read is judged); the savepoint's location, or None when it failed."""
    target = (paths().state / "flink" / "savepoints").as_uri()
    deadline = time.monotonic() + timeout
    trigger = None
    while time.monotonic() < deadline:
        if trigger is None:
            trigger = flink_rest(f"/jobs/{job['jid']}/stop", method="POST",
                                 body={"targetDirectory": target, "drain": drain})["request-id"]
        status = flink_rest(f"/jobs/{job['jid']}/savepoints/{trigger}")
        if status["status"]["id"] == "COMPLETED":
            operation = status["operation"]
            if "location" in operation:
                say(f"detection job {job['name']} stopped with a savepoint: {operation['location']}")
                return operation["location"]
            cause = (operation.get("failure-cause") or {}).get("stack-trace", "").split("\n")[0]
            say(f"the savepoint of {job['name']} failed, trying again: {cause}")
            trigger = None  # e.g. a task still starting: the job runs on, so it can be tried again
        time.sleep(0.5)
    say(f"no savepoint of {job['name']} within {timeout} s")
    return None
