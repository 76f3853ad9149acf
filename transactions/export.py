"""CSV exports, streamed row by row so an export of millions never sits in memory: the verdict
history, and any table of rows (the analytics tables), all through one formula guard."""

import csv
import re

COLUMNS = [
    ("transaction_id", lambda v: v.transaction_id), ("user_id", lambda v: v.user_id),
    ("first_name", lambda v: v.first_name), ("last_name", lambda v: v.last_name),
    ("timestamp", lambda v: v.timestamp.isoformat()), ("received_at", lambda v: v.received_at.isoformat()),
    ("lat", lambda v: v.lat), ("lng", lambda v: v.lng), ("amount", lambda v: v.amount),
    ("status", lambda v: v.status), ("reasons", lambda v: v.reasons), ("speed_kmh", lambda v: v.speed_kmh),
    ("max_speed", lambda v: v.max_speed), ("distance_km", lambda v: v.distance_km),
    ("average_amount", lambda v: v.average_amount), ("local_hour", lambda v: v.local_hour),
    ("review_status", lambda v: v.review_status if v.is_fraud else ""),
    ("reviewed_at", lambda v: v.reviewed_at.isoformat() if v.reviewed_at else ""),
]
# A spreadsheet runs a cell that starts like a formula; such text is exported with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet whose list separator is ";" (or that splits on tabs) reads "x;=1+2" as two cells,
# the second a formula: a quote goes before a formula start that follows such a separator too.
FORMULA_AFTER_SEPARATOR = re.compile(r"([;,\t]\s*)(?=[=+\-@])")
# Bidirectional overrides and isolates make a cell read other than it is: shown as U+FFFD instead.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


class _Line:
    def write(self, text):
        return text


def _safe(value):
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    value = FORMULA_AFTER_SEPARATOR.sub(r"\1'", BIDI_CONTROLS.sub("\ufffd", value))
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_lines(header, rows):
    """The header, then one CSV line per row (a sequence of values), each cell through the formula guard."""
    writer = csv.writer(_Line())
    yield writer.writerow([_safe(name) for name in header])
    for row in rows:
        yield writer.writerow([_safe(value) for value in row])


def verdict_csv_lines(queryset):
    """The header, then one CSV line per verdict of the queryset (a Verdict queryset)."""
    verdicts = queryset.with_alert_state().iterator(chunk_size=2000)
    return csv_lines([name for name, _ in COLUMNS], ([value(verdict) for _, value in COLUMNS] for verdict in verdicts))
