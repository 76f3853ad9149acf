"""B7: replaying a threshold proposal over 1,000,000 stored transactions (`bench/run.py --only b7`,
run alone, never by default; needs the stack).

Fills a database of its own (BENCH_REPLAY_DATABASE_URL, default fraudsite_bench_replay) with
CUSTOMERS customers and `total` stored verdicts spread evenly over the last 29 days (so all of them
fall in the default 30-day window), by `INSERT ... SELECT generate_series`; then replays a proposal
lowering every customer's speed limit, through proposals/replay.py exactly as the admin's button does
(export to Kafka, the detection SQL in Flink, compare), and records each phase's time. The fill is
redone on every run: the window is relative to now."""

import time
from datetime import timedelta

CUSTOMERS = 1000
PREFIX = "b7_"
SPAN = timedelta(days=29)

# Transaction i belongs to customer i % CUSTOMERS; record times strictly increase with i. The stored
# verdicts are all VALID within_limit except one in fifty, FRAUD speed_above_limit, half of those
# confirmed by an analyst: enough for gained, lost and their review counts to mean something.
FILL = """
INSERT INTO transactions_verdict (
    transaction_id, user_id, timestamp, lat, lng, amount, received_at, prev_transaction_id, first_name, last_name,
    max_speed, is_fraud, status, reason, reasons, outcome, kafka_topic, kafka_partition, kafka_offset, stored_at)
SELECT 'b7-' || i, %(prefix)s || lpad((i %% %(customers)s)::text, 4, '0'), received_at - interval '5 milliseconds',
       45 + random() * 10, random() * 10, round((10 + random() * 200)::numeric, 2), received_at, '', 'Bench',
       'Replay', 900, i %% 50 = 0, CASE WHEN i %% 50 = 0 THEN 'FRAUD' ELSE 'VALID' END,
       CASE WHEN i %% 50 = 0 THEN 'speed_above_limit' ELSE 'within_limit' END,
       CASE WHEN i %% 50 = 0 THEN 'speed_above_limit' ELSE 'within_limit' END, 'approve', 'bench-replay', 0, i, now()
FROM (SELECT i, %(start)s + i * %(step)s AS received_at FROM generate_series(0, %(last)s) AS i) AS rows
"""
# Their alerts (what the worker's verdicts_stored makes), half of them confirmed.
ALERTS = """
INSERT INTO alerts_alert (verdict_id, review_status, reviewed_at)
SELECT id, CASE WHEN kafka_offset % 100 = 0 THEN 'confirmed_fraud' ELSE '' END,
       CASE WHEN kafka_offset % 100 = 0 THEN now() END
FROM transactions_verdict WHERE is_fraud AND kafka_topic = 'bench-replay'
"""


def fill(total, say):
    from django.db import connection
    from django.utils import timezone

    from proposals.models import Proposal
    from transactions.models import Verdict
    from users.models import Customer

    with connection.cursor() as cursor:  # (the ORM's delete would load a million rows to cascade)
        cursor.execute(f"TRUNCATE {Verdict._meta.db_table}, {Proposal._meta.db_table}, "
                       f"{Proposal.history.model._meta.db_table}, {Customer._meta.db_table}, "
                       f"{Customer.history.model._meta.db_table} CASCADE")
    Customer.objects.bulk_create([Customer(user_id=f"{PREFIX}{n:04d}", first_name="Bench", last_name="Replay",
                                           max_speed=900) for n in range(CUSTOMERS)])
    began = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(FILL, {"prefix": PREFIX, "customers": CUSTOMERS, "start": timezone.now() - SPAN,
                              "step": SPAN / total, "last": total - 1})
        cursor.execute(ALERTS)
        cursor.execute("ANALYZE transactions_verdict")
    say(f"B7: {total:,} stored verdicts of {CUSTOMERS:,} customers in {time.monotonic() - began:.0f} s")


def bench_b7(total, say):
    from django.contrib.auth import get_user_model

    from proposals.replay_queue import replay_proposal
    from proposals.services import propose_for
    from users.models import Customer

    fill(total, say)
    author, _ = get_user_model().objects.get_or_create(username="bench-replay")
    proposal = propose_for(Customer.objects.all(), {"max_speed": 100}, author=author, reason="B7")
    say(f"B7: replaying proposal {proposal.pk} over {total:,} transactions ...")
    began = time.monotonic()
    proposal = replay_proposal(proposal.pk)
    seconds = time.monotonic() - began
    result = proposal.replay_result
    summary = {
        "transactions": result["transactions"], "customers": CUSTOMERS, "replayed": result["replayed"],
        "seconds": round(seconds, 1), "phases": result["timings"],
        "transactions_per_second": round(result["transactions"] / seconds),
        "alerts_before": result["alerts_before"], "alerts_after": result["alerts_after"],
        "gained": result["gained"], "lost": result["lost"],
    }
    say(f"B7: {summary}")
    return summary
