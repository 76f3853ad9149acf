"""B6: the analytics page on 10,000,000 verdicts (`bench/run.py --only b6`, never by default).

Fills a database of its own (BENCH_ANALYTICS_DATABASE_URL, default fraudsite_bench_analytics, so
the other benchmarks' tables stay small) with verdicts spread evenly over 365 days up to the first
fill, about
5 % of them alerts with a realistic mix of reasons, two thirds of the alerts decided; then times
GET /analytics/ in the server (Django's test client: middleware, view, queries, template) over the
default 30 days and over the whole year, several times, and each CSV export. The filled table is
kept: a rerun fills only what is missing."""

import statistics
import time
from datetime import timedelta

TOPIC = "bench-analytics"  # the bench verdicts' kafka_topic, which marks them
# Verdicts arrive evenly, newest first: 10,000,000 of them span 365 days (27,397 a day); a smaller
# fill (quick mode) covers the most recent days of the same timeline, and a later larger one extends it.
STEP = timedelta(days=365) / 10_000_000
CHUNK = 1_000_000

# One row per verdict: r picks fraud (5 %), m the reasons. Reason mix of the alerts (roughly what
# the demo traffic gives): impossible travel most often, velocity and spend deviation next,
# unusual hour alone or as a companion; a few with a suppressed reason too.
FILL = f"""
INSERT INTO transactions_verdict (
    transaction_id, user_id, timestamp, lat, lng, amount, received_at, prev_transaction_id, first_name, last_name,
    is_fraud, status, reason, reasons, outcome, kafka_topic, kafka_partition, kafka_offset, stored_at)
SELECT 'ba-' || i, 'sim_' || lpad((i %% 10000)::text, 5, '0'), received_at - interval '5 milliseconds',
       (random() * 170 - 85), (random() * 360 - 180), round((random() * 500)::numeric, 2), received_at, '',
       'Bench', 'Analytics', fraud, CASE WHEN fraud THEN 'FRAUD' ELSE 'VALID' END, split_part(reasons, ',', 1),
       reasons, '', '{TOPIC}', 0, i, received_at
FROM (
    SELECT i, r < 0.05 AS fraud, received_at,
           CASE WHEN r >= 0.05 THEN CASE WHEN m < 0.97 THEN 'within_limit' WHEN m < 0.995 THEN 'no_history'
                                         ELSE 'suppressed:speed_above_limit' END
                WHEN m < 0.30 THEN 'speed_above_limit'
                WHEN m < 0.40 THEN 'speed_above_limit,unusual_hour'
                WHEN m < 0.45 THEN 'speed_above_limit,velocity_exceeded'
                WHEN m < 0.48 THEN 'non_positive_elapsed_time'
                WHEN m < 0.63 THEN 'velocity_exceeded'
                WHEN m < 0.70 THEN 'velocity_exceeded,spend_deviation'
                WHEN m < 0.82 THEN 'spend_deviation'
                WHEN m < 0.85 THEN 'spend_deviation,unusual_hour,suppressed:speed_above_limit'
                WHEN m < 0.97 THEN 'unusual_hour'
                ELSE 'speed_above_limit,velocity_exceeded,spend_deviation,unusual_hour' END AS reasons
    FROM (
        SELECT i, random() AS r, random() AS m, %(end)s - (i + 1) * %(step)s AS received_at
        FROM generate_series(%(first)s, %(last)s) AS i
    ) draws
) draws_and_reasons
"""
# Every alert (what the worker's verdicts_stored makes), two thirds decided: d picks the decision.
# Precision differs by reason, so the charts have something to show.
ALERTS = f"""
INSERT INTO alerts_alert (verdict_id, review_status, reviewed_at)
SELECT id,
       CASE WHEN d < 0.33 THEN ''
            WHEN d < 0.33 + 0.62 * confirm_share THEN 'confirmed_fraud'
            WHEN d < 0.95 THEN 'false_positive' ELSE 'needs_follow_up' END,
       CASE WHEN d >= 0.33 THEN received_at + (d * d * 600) * interval '1 minute' END
FROM (
    SELECT id, received_at, random() AS d,
           CASE WHEN reasons LIKE 'speed%%' OR reasons LIKE 'non_positive%%' THEN 0.8
                WHEN reasons LIKE 'velocity%%' THEN 0.55 ELSE 0.3 END AS confirm_share
    FROM transactions_verdict
    WHERE kafka_topic = '{TOPIC}' AND kafka_offset BETWEEN %(first)s AND %(last)s AND is_fraud
) shaped
"""
# Every decided alert's decision as an AlertReview, and for one in ten final ones a follow-up before it.
REVIEWS = f"""
INSERT INTO alerts_alertreview (verdict_id, decision, comment, reviewer_id, reviewer_username, decided_at)
SELECT verdict_id, decision, 'bench', NULL, 'bench', decided_at FROM (
    SELECT a.verdict_id, a.review_status AS decision, a.reviewed_at AS decided_at
    FROM alerts_alert a JOIN transactions_verdict v ON v.id = a.verdict_id
    WHERE v.kafka_topic = '{TOPIC}' AND v.kafka_offset BETWEEN %(first)s AND %(last)s AND a.review_status <> ''
    UNION ALL
    SELECT a.verdict_id, 'needs_follow_up', v.received_at + (a.reviewed_at - v.received_at) / 2
    FROM alerts_alert a JOIN transactions_verdict v ON v.id = a.verdict_id
    WHERE v.kafka_topic = '{TOPIC}' AND v.kafka_offset BETWEEN %(first)s AND %(last)s
      AND a.review_status IN ('confirmed_fraud', 'false_positive') AND v.kafka_offset %% 10 = 0
) decisions
"""


def fill(total, say):
    """Verdicts up to `total` (kafka_offset 0 .. total-1, the newest first), with their alerts and reviews.
    Secondary indexes are dropped while a large fill runs and rebuilt after (a bulk build is many
    times faster than updating a dozen indexes row by row); constraints stay."""
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(kafka_offset), min(received_at) FROM transactions_verdict "
                       "WHERE kafka_topic = %s", [TOPIC])
        have, last_offset, oldest = cursor.fetchone()
        if have >= total:
            say(f"B6: {have:,} verdicts already there (kept from an earlier run)")
            return oldest
        step = STEP
        if last_offset is None:
            start, end = 0, timezone.now()
        else:  # continue the first fill's timeline: offset i arrived at end - (i + 1) steps
            cursor.execute("SELECT received_at FROM transactions_verdict WHERE kafka_topic = %s AND kafka_offset = %s",
                           [TOPIC, last_offset])
            start, end = last_offset + 1, cursor.fetchone()[0] + (last_offset + 1) * step
        indexes = _drop_secondary_indexes(cursor) if total - start >= CHUNK else []
        try:
            for first in range(start, total, CHUNK):
                last = min(first + CHUNK, total) - 1
                began = time.perf_counter()
                cursor.execute(FILL, {"first": first, "last": last, "end": end, "step": step})
                say(f"B6: verdicts {first:,}..{last:,} stored in {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()
            cursor.execute(ALERTS, {"first": start, "last": total - 1})
            cursor.execute(REVIEWS, {"first": start, "last": total - 1})
            say(f"B6: their alerts and decisions stored in {time.perf_counter() - began:.1f} s")
        finally:
            began = time.perf_counter()
            for definition in indexes:
                cursor.execute(definition)
            if indexes:
                say(f"B6: {len(indexes)} indexes rebuilt in {time.perf_counter() - began:.1f} s")
        cursor.execute("VACUUM ANALYZE transactions_verdict")
        cursor.execute("VACUUM ANALYZE alerts_alert")
        cursor.execute("VACUUM ANALYZE alerts_alertreview")
        cursor.execute("SELECT min(received_at) FROM transactions_verdict WHERE kafka_topic = %s", [TOPIC])
        return cursor.fetchone()[0]


def _drop_secondary_indexes(cursor):
    """Drop the verdict table's indexes that back no constraint; returns their definitions."""
    cursor.execute("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = 'transactions_verdict'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes]


def timed(get, repeats):
    """ms per call of get(), the first (cold) one, the median and the max; a response must be a 200
    and a streamed one is read to its end."""
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        response = get()
        if hasattr(response, "status_code"):
            assert response.status_code == 200, response.status_code
            if response.streaming:
                b"".join(response.streaming_content)
        seconds.append((time.perf_counter() - began) * 1000)
    return {"first_ms": round(seconds[0], 1), "median_ms": round(statistics.median(seconds), 1),
            "max_ms": round(max(seconds), 1), "runs": len(seconds)}


def query_plan(period):
    """EXPLAIN ANALYZE of the per-reason query: which index it used and how many rows it read."""
    from django.conf import settings
    from django.db import connection

    from alerts import analytics
    from fraudsite.detection_sql import FRAUD_REASONS

    start, end = period.bounds()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + analytics.REASONS_SQL, {
            "start": start, "end": end, "reasons": FRAUD_REASONS, "zone": settings.TIME_ZONE, "open": "",
            "confirmed": "confirmed_fraud", "false_positive": "false_positive", "follow_up": "needs_follow_up"})
        return [line for (line,) in cursor.fetchall()]


def bench_b6(total, repeats, say):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from alerts import analytics
    from transactions.models import Verdict

    began = time.perf_counter()
    oldest = fill(total, say)
    fill_seconds = round(time.perf_counter() - began, 1)
    user, _ = get_user_model().objects.get_or_create(username="bench-analytics",
                                                     defaults={"is_superuser": True, "is_staff": True})
    client = Client(HTTP_HOST="localhost")  # an allowed host (not "testserver": no test environment here)
    client.force_login(user)
    today = timezone.localdate()
    periods = {"default_30_days": analytics.period_from({}, today=today),
               "whole_range": analytics.Period(timezone.localtime(oldest).date(), today)}
    results = {"verdicts": Verdict.objects.count(), "fill_seconds": fill_seconds, "periods": {}}
    for name, period in periods.items():
        query = {"from": period.first.isoformat(), "to": period.last.isoformat()}
        alerts = sum(row["alerts"] for row in analytics.reason_table(period))
        say(f"B6: GET /analytics/ over {name} ({period.first} .. {period.last}), {repeats} times ...")
        figures = {"from": query["from"], "to": query["to"], "alert_reasons": alerts,
                   "page": timed(lambda: client.get(reverse("analytics"), query), repeats),
                   "csv": {table: timed(lambda: client.get(reverse("analytics-csv", args=[table]), query), repeats)
                           for table in analytics.CSV_TABLES},
                   "queries": {}}
        for table, function in (("reasons", analytics.reason_table), ("cofiring", analytics.cofiring_table),
                                ("trend", analytics.trend_table)):
            figures["queries"][table] = timed(lambda: function(period), repeats)
        figures["reasons_plan"] = query_plan(period)
        say(f"B6 {name}: page median {figures['page']['median_ms']} ms, max {figures['page']['max_ms']} ms")
        results["periods"][name] = figures
    return results

