"""Verdict history as CSV, streamed row by row so an export of millions never sits in memory."""

import csv

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


class _Line:
    def write(self, text):
        return text


def _safe(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def verdict_csv_lines(queryset):
    """The header, then one CSV line per verdict of the queryset."""
    writer = csv.writer(_Line())
    yield writer.writerow([name for name, _ in COLUMNS])
    for verdict in queryset.iterator(chunk_size=2000):
        yield writer.writerow([_safe(value(verdict)) for _, value in COLUMNS])
