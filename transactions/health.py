"""Is every part up, and are verdicts on time? What /health answers, `stack status` prints and
the operator page's badge shows.

Verdict lag is the larger of two ages:
- how far the detection job's output watermark trails the wall clock: every transaction older
  than the watermark has been judged, so this is how long a transaction can wait for its verdict
  in Flink (with the event-time clock ticking, about one tick interval when all is well);
- the age of the oldest transaction submitted on this site that has no stored verdict yet
  (Flink, Kafka and the worker together), over the last day. A transaction's verdict is the one of
  its transaction_id, whichever of the two was stored first: there is no link to miss.

Verdict conflicts (redelivered verdicts that differ from the stored one, kept but never applied)
are counted over the last day; they do not change the status, which is about being on time.
"""

import threading
import time
import urllib.error
import urllib.parse
from datetime import timedelta

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from fraudsite import metrics
from fraudsite.flink_client import detection_jobs, flink_rest
from fraudsite.kafka import broker_reachable, client_config
from outbox.publisher import oldest_pending_seconds

from .models import Transaction, Verdict, VerdictConflict

UNJUDGED_WINDOW = timedelta(days=1)
CONFLICTS_WINDOW = timedelta(days=1)
METRICS_REFRESH_SECONDS = 0.3
# However many pages and monitors poll, the parts are asked at most once per this many seconds.
REPORT_CACHE_SECONDS = 1.0
_cache = {"at": float("-inf"), "report": None}
_cache_lock = threading.Lock()


def database_reachable():
    try:
        connection.ensure_connection()
        return True
    except DatabaseError:
        return False


def worker_running(timeout=3.0):
    """Whether a verdict worker is a member of its consumer group right now."""
    group = settings.VERDICT_WORKER_GROUP
    admin = AdminClient(client_config())  # must outlive the future
    try:
        description = admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout + 1)
    except (KafkaException, TimeoutError):
        return False
    return description.state == ConsumerGroupState.STABLE and bool(description.members)


def detection_job():
    """The local detection job's state and the age of its output watermark (seconds), or None
    where the job is not the local stack's (HEALTH_CHECKS_FLINK off, e.g. Confluent Cloud)."""
    if not settings.HEALTH_CHECKS_FLINK:
        return None
    running = [job for job in detection_jobs() if job["state"] == "RUNNING"]
    if not running:
        return {"state": "NOT RUNNING", "watermark_lag_seconds": None}
    job = running[0]
    try:
        query = _writer_watermark_query(job["jid"])
        # Flink answers from its metric store and refreshes it in the background, at most once a
        # second: the first answer can be seconds old, the one after a refresh is current.
        asked = time.time()  # when the refresh that the second answer shows was started
        flink_rest(query, timeout=2)
        time.sleep(METRICS_REFRESH_SECONDS)
        watermark_ms = min(int(mark["value"]) for mark in flink_rest(query, timeout=2))
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return {"state": job["state"], "watermark_lag_seconds": None}
    lag = None if watermark_ms < 0 else max(asked - watermark_ms / 1000, 0.0)
    return {"state": job["state"], "watermark_lag_seconds": lag}


def _writer_watermark_query(jid):
    """The REST query for the watermark reaching each subtask's Kafka writer: the temporal join's
    output. (The vertex's own input watermark counts the idle users-config input and stays at its
    minimum.) ValueError when the job has no such metric."""
    for vertex in reversed(flink_rest(f"/jobs/{jid}", timeout=2)["vertices"]):  # topological order
        metrics = f"/jobs/{jid}/vertices/{vertex['id']}/metrics"
        names = [metric["id"] for metric in flink_rest(metrics, timeout=2)
                 if metric["id"].endswith("__Writer.currentInputWatermark")]
        if names:
            return f"{metrics}?get={urllib.parse.quote(','.join(names))}"
    raise ValueError(f"job {jid} reports no writer watermark")


def oldest_unjudged_seconds():
    """Age of the oldest transaction submitted here (within a day) with no verdict of its
    transaction_id stored."""
    judged = Verdict.objects.filter(transaction_id=OuterRef("transaction_id"))
    try:
        oldest = (Transaction.objects.filter(~Exists(judged), submitted_at__gte=timezone.now() - UNJUDGED_WINDOW)
                  .order_by("submitted_at").values_list("submitted_at", flat=True).first())
    except DatabaseError:  # e.g. not migrated yet: nothing is known about stored verdicts
        return None
    return None if oldest is None else (timezone.now() - oldest).total_seconds()


def _unless_unmigrated(query):
    try:
        return query()
    except DatabaseError:  # e.g. not migrated yet: nothing is known
        return None


def recent_conflicts():
    """How many verdict conflicts were recorded within CONFLICTS_WINDOW."""
    try:
        return VerdictConflict.objects.filter(recorded_at__gte=timezone.now() - CONFLICTS_WINDOW).count()
    except DatabaseError:  # e.g. not migrated yet
        return None


def cached_report():
    """report(), computed at most once per REPORT_CACHE_SECONDS whoever asks."""
    with _cache_lock:
        if time.monotonic() - _cache["at"] >= REPORT_CACHE_SECONDS:
            _cache["report"] = report()
            _cache["at"] = time.monotonic()
        return _cache["report"]


def cached_report_off_thread():
    """cached_report() for a worker thread of the asynchronous view: the thread's database
    connection is closed afterwards rather than left open in the pool."""
    try:
        return cached_report()
    finally:
        connection.close()


def report():
    """Every check, the verdict lag, and an overall status: ok, lagging (verdicts later than
    VERDICT_LAG_ALERT_SECONDS) or down (a part unreachable)."""
    database = database_reachable()
    job = detection_job()
    watermark_lag = job["watermark_lag_seconds"] if job else None
    unjudged = oldest_unjudged_seconds() if database else None
    unpublished = _unless_unmigrated(oldest_pending_seconds) if database else None
    conflicts = recent_conflicts() if database else None
    broker = broker_reachable()
    checks = {
        "database": database,
        "broker": broker,
        "worker": worker_running() if broker else None,  # unknowable without the broker: not waited for
        "flink_job": None if job is None else job["state"] == "RUNNING",
    }
    lags = [lag for lag in (watermark_lag, unjudged) if lag is not None]
    verdict_lag = max(lags) if lags else None
    if False in checks.values():
        status = "down"
    elif verdict_lag is not None and verdict_lag > settings.VERDICT_LAG_ALERT_SECONDS:
        status = "lagging"
    else:
        status = "ok"
    return {
        "status": status,
        "checks": checks,
        "verdict_lag_seconds": verdict_lag,
        "job_watermark_lag_seconds": watermark_lag,
        "oldest_unjudged_transaction_seconds": unjudged,
        "lag_alert_seconds": settings.VERDICT_LAG_ALERT_SECONDS,
        # Customer changes not yet on users-config (the outbox publisher down, or Kafka refusing).
        "oldest_unpublished_change_seconds": unpublished,
        # Redelivered verdicts that differ from the stored one, recorded in the last day (the
        # admin's verdict conflicts): kept, never applied. Any at all is worth a look.
        "verdict_conflicts": conflicts,
        # Decision requests answered with the fallback at once by admission control (all web
        # processes, since they started): more than a few means too few web processes.
        "decisions_shed": metrics.shed_total(),
    }
