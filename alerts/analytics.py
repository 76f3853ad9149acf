"""Rule quality: per fraud reason code, over a period, how often it fires, how its alerts were
decided, how fast, which reasons fire together, and day by day. Each table is one PostgreSQL
query that aggregates in the database (10 million verdicts must not come into Python); the documentation's
analytics page (docs/analyst/analytics.md) defines every figure.

The period selects alerts by arrival (`received_at`, from the first day's midnight to the end of
the last day, in TIME_ZONE); an alert's review figures are its decisions as they stand now,
whenever they were made."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from watchlists.publishing import fraud_reason_codes

from .models import ReviewStatus

DEFAULT_DAYS = 30
MAX_DAYS = 366
# The days a period may cover: from the epoch (no verdict is older) to a day whose midnight after
# and a year around it still fit Python's and PostgreSQL's calendars (date.max is 9999-12-31).
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9998, 12, 31)
NEEDS_POSTGRESQL = ("Analytics needs PostgreSQL: its queries aggregate in the database. Set DATABASE_URL to a "
                    "PostgreSQL database (make run does).")


class PeriodError(ValueError):
    """A period that cannot be analysed; the message says why."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self):
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def bounds(self):
        """[start, end) as aware datetimes: midnight of the first day to midnight after the last."""
        zone = timezone.get_default_timezone()
        return (timezone.make_aware(datetime.combine(self.first, time()), zone),
                timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time()), zone))

    def query(self):
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def period_from(params, today=None):
    """The period of `?from=YYYY-MM-DD&to=YYYY-MM-DD`; each defaults to the last DEFAULT_DAYS days
    up to today. Raises PeriodError for a bad date, from after to, or more than MAX_DAYS days."""
    today = today or timezone.localdate()
    last = _day(params, "to", today)
    first = _day(params, "from", last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise PeriodError(f"The period's start ({first}) is after its end ({last}).")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"The period is {(last - first).days + 1} days long; at most {MAX_DAYS} days.")
    return Period(first, last)


PARAMETERS = {"from": "start", "to": "end"}


def _day(params, name, default):
    text = params.get(name, "")
    if not text:
        return default
    day = None
    try:
        if len(text) == 10:  # fromisoformat alone would also take 20260501 and 2026-W18-5
            day = date.fromisoformat(text)
    except ValueError:
        pass
    if day is None:
        raise PeriodError(f"The period's {PARAMETERS[name]} ({name}) must be a date written YYYY-MM-DD, "
                          f"not {text[:40]}.")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise PeriodError(f"The period's {PARAMETERS[name]} ({name}) must lie between {EARLIEST_DAY} and "
                          f"{LATEST_DAY}, not {day}.")
    return day


def supported():
    return connection.vendor == "postgresql"


# The period's alerts: FRAUD verdicts by arrival, read from the partial index
# verdict_alerts_by_arrival alone (transactions.models.Verdict), so a query reads the period's
# alerts and nothing else.
ALERTS = """
    SELECT v.id, v.reasons, v.received_at
    FROM transactions_verdict v
    WHERE v.is_fraud AND v.received_at >= %(start)s AND v.received_at < %(end)s
"""
# Each alert once per fraud reason it lists (suppressed:... codes are not alerts).
FIRED = """
    SELECT a.*, fired.reason
    FROM alerts a CROSS JOIN LATERAL unnest(string_to_array(a.reasons, ',')) AS fired(reason)
    WHERE fired.reason = ANY(%(reasons)s)
"""

# Each alert's review status (alerts.Alert) and first decision, read by the period's range of
# verdict ids from their tables' verdict id indexes: joined to the period's alerts directly, the
# planner hashed both whole tables, twice the time of the rest (B6 in bench/RESULTS.md).
REASONS_SQL = f"""
WITH alerts AS MATERIALIZED ({ALERTS}),
id_range AS (SELECT min(id) AS low, max(id) AS high FROM alerts),
states AS MATERIALIZED (
    SELECT s.verdict_id, s.review_status FROM alerts_alert s
    WHERE s.verdict_id BETWEEN (SELECT low FROM id_range) AND (SELECT high FROM id_range)
),
first_decisions AS (
    SELECT r.verdict_id, min(r.decided_at) AS decided_at
    FROM alerts_alertreview r
    WHERE r.verdict_id BETWEEN (SELECT low FROM id_range) AND (SELECT high FROM id_range)
    GROUP BY r.verdict_id
),
fired AS ({FIRED})
SELECT f.reason,
       count(*) AS alerts,
       count(*) FILTER (WHERE s.review_status <> %(open)s) AS reviewed,
       count(*) FILTER (WHERE s.review_status = %(confirmed)s) AS confirmed_fraud,
       count(*) FILTER (WHERE s.review_status = %(false_positive)s) AS false_positive,
       count(*) FILTER (WHERE s.review_status = %(follow_up)s) AS needs_follow_up,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.decided_at - f.received_at))
           AS median_seconds
FROM fired f JOIN states s ON s.verdict_id = f.id
LEFT JOIN first_decisions d ON d.verdict_id = f.id
GROUP BY f.reason
"""

COFIRING_SQL = f"""
WITH alerts AS MATERIALIZED ({ALERTS}),
fired AS ({FIRED})
SELECT a.reason, b.reason, count(*)
FROM fired a JOIN fired b ON a.id = b.id
GROUP BY a.reason, b.reason
"""

TREND_SQL = f"""
WITH alerts AS MATERIALIZED ({ALERTS}),
fired AS ({FIRED})
SELECT (f.received_at AT TIME ZONE %(zone)s)::date AS day, f.reason, count(*)
FROM fired f
GROUP BY day, f.reason
"""

REASON_COLUMNS = ["reason", "alerts", "reviewed", "share_reviewed", "confirmed_fraud", "false_positive",
                  "needs_follow_up", "precision", "false_positive_rate", "median_minutes_to_first_decision"]


def _rows(sql, period, reasons):
    start, end = period.bounds()
    params = {"start": start, "end": end, "reasons": reasons, "zone": settings.TIME_ZONE,
              "open": ReviewStatus.OPEN, "confirmed": ReviewStatus.CONFIRMED_FRAUD,
              "false_positive": ReviewStatus.FALSE_POSITIVE, "follow_up": ReviewStatus.NEEDS_FOLLOW_UP}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner cannot estimate unnest's rows, overestimates these queries' cost a thousandfold
        # and JIT-compiles them: on 10 million verdicts that took 215 ms of a 537 ms query (B6).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _ratio(part, whole):
    return round(part / whole, 4) if whole else None


def reason_table(period):
    """One dict per fraud reason (every reason, in fraud_reason_codes order), keys REASON_COLUMNS."""
    reasons = fraud_reason_codes()
    found = {row[0]: row for row in _rows(REASONS_SQL, period, reasons)}
    table = []
    for reason in reasons:
        _, alerts, reviewed, confirmed, false_positive, follow_up, median = found.get(reason, (reason, 0, 0, 0, 0, 0, None))
        table.append({
            "reason": reason, "alerts": alerts, "reviewed": reviewed, "share_reviewed": _ratio(reviewed, alerts),
            "confirmed_fraud": confirmed, "false_positive": false_positive, "needs_follow_up": follow_up,
            "precision": _ratio(confirmed, confirmed + false_positive),
            "false_positive_rate": _ratio(false_positive, reviewed),
            "median_minutes_to_first_decision": None if median is None else round(median / 60, 1),
        })
    return table


def cofiring_table(period):
    """{"reasons": the fraud reason codes, "counts": square matrix}: counts[i][j] = alerts listing both
    reason i and reason j (the diagonal: alerts listing reason i)."""
    reasons = fraud_reason_codes()
    counts = {(a, b): n for a, b, n in _rows(COFIRING_SQL, period, reasons)}
    return {"reasons": reasons, "counts": [[counts.get((a, b), 0) for b in reasons] for a in reasons]}


def trend_table(period):
    """{"days": every day of the period, "reasons": the fraud reason codes, "counts": {reason: alerts per day}}."""
    reasons = fraud_reason_codes()
    counts = {(day, reason): n for day, reason, n in _rows(TREND_SQL, period, reasons)}
    return {"days": period.days, "reasons": reasons,
            "counts": {reason: [counts.get((day, reason), 0) for day in period.days] for reason in reasons}}


def cofiring_rows(table):
    """The matrix for the page: per reason, its cells with the count and the share of the row
    reason's alerts that also list the column's reason, in steps of 20 % for shading."""
    rows = []
    for reason, counts in zip(table["reasons"], table["counts"]):
        alerts = counts[table["reasons"].index(reason)]
        cells = [{"count": n, "share": _ratio(n, alerts), "shade": min(4, int(5 * n / alerts)) if n else None}
                 for n in counts]
        rows.append({"reason": reason, "cells": cells})
    return rows


# Each table as CSV rows: a header and lists of values, the same figures the page shows.
def reason_csv(period):
    return REASON_COLUMNS, [[row[column] for column in REASON_COLUMNS] for row in reason_table(period)]


def cofiring_csv(period):
    table = cofiring_table(period)
    return ["reason", *table["reasons"]], [[reason, *row] for reason, row in zip(table["reasons"], table["counts"])]


def trend_csv(period):
    table = trend_table(period)
    return (["day", *table["reasons"]],
            [[day.isoformat(), *(table["counts"][reason][n] for reason in table["reasons"])]
             for n, day in enumerate(table["days"])])


CSV_TABLES = {"reasons": reason_csv, "cofiring": cofiring_csv, "trend": trend_csv}
