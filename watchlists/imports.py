"""Adding many entries to a list at once, from CSV: every line is checked, and when one is wrong
nothing is saved and each wrong line is named with what is wrong with it."""

import csv
import io
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from fraudsite.validation import has_control_characters

from .models import MAX_ENTRY_REASON_LENGTH, ListEntry
from .publishing import publish_lists
from .values import clean_value

MAX_IMPORT_ROWS = 100_000
BATCH = 500
COLUMNS = ["value", "reason", "starts_at", "expires_at"]
REQUIRED_COLUMNS = ["value", "reason"]


class InvalidImport(Exception):
    """errors: {"line N" or "header" or "file": [messages]}."""

    def __init__(self, errors):
        super().__init__(f"{len(errors)} lines are wrong")
        self.errors = errors


def _time(text, default):
    if not text.strip():
        return default
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Must be an ISO-8601 time such as 2026-07-01T00:00:00Z.") from None
    if moment.tzinfo is None:
        raise ValueError("Give a time zone (e.g. a trailing Z for UTC).")
    return moment


def _row(watch_list, row, now):
    """(entry fields, {column: message}); starts_at None when the line leaves it empty."""
    fields, errors = {}, {}
    try:
        fields["value"] = clean_value(watch_list.list_kind, row.get("value", ""))
    except ValueError as error:
        errors["value"] = str(error)
    reason = row.get("reason", "").strip()
    if not reason or has_control_characters(reason) or len(reason) > MAX_ENTRY_REASON_LENGTH:
        errors["reason"] = f"Say why, in 1 to {MAX_ENTRY_REASON_LENGTH} characters on one line."
    fields["reason"] = reason
    for name in ("starts_at", "expires_at"):
        try:
            fields[name] = _time(row.get(name, ""), None)
        except ValueError as error:
            errors[name] = str(error)
    if not errors and fields["expires_at"] and fields["expires_at"] <= (fields["starts_at"] or now):
        errors["expires_at"] = "The expiry must be after the start."
    return fields, errors


def parse(watch_list, text):
    """[entry fields and its line number] of each line of CSV text (a header naming value and
    reason, and optionally starts_at and expires_at); InvalidImport naming every wrong line."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        columns = [name.strip() for name in reader.fieldnames or []]
        missing, unknown = set(REQUIRED_COLUMNS) - set(columns), set(columns) - set(COLUMNS)
        if missing or unknown:
            raise InvalidImport({"header": [f"The first line names the columns: {', '.join(REQUIRED_COLUMNS)}, and "
                                            f"optionally starts_at and expires_at (found: {', '.join(columns) or 'none'})."]})
        rows, errors, lines, now = [], {}, {}, timezone.now()
        for number, row in enumerate(reader, start=2):
            if number - 1 > MAX_IMPORT_ROWS:
                raise InvalidImport({"file": [f"At most {MAX_IMPORT_ROWS:,} lines."]})
            fields, refused = _row(watch_list, {(k or "").strip(): v or "" for k, v in row.items()}, now)
            if not refused and fields["value"] in lines:
                refused = {"value": f"Also on line {lines[fields['value']]}."}
            if refused:
                errors[f"line {number}"] = [f"{name}: {message}" for name, message in refused.items()]
            else:
                lines[fields["value"]] = number
                rows.append({**fields, "line": number})
    except csv.Error as error:
        raise InvalidImport({"file": [f"Not readable as CSV: {error}."]}) from None
    if errors:
        raise InvalidImport(errors)
    if not rows:
        raise InvalidImport({"file": ["No entries: add a line per value below the header."]})
    return rows


def import_entries(watch_list, text, user):
    """Add (or, for a value already on the list, change) the entries of CSV text, all or none, with
    their history and the values' records queued; returns (added, changed). An empty starts_at is
    now for a new entry, and keeps an existing entry's start; a line that changes nothing is left
    alone."""
    rows = parse(watch_list, text)
    kind = watch_list.list_kind
    try:
        with publish_lists([watch_list.kind]) as touched:  # refuses a value on too many lists: nothing commits
            existing = {entry.value: entry for entry in ListEntry.objects.filter(
                watch_list=watch_list, value__in=[row["value"] for row in rows])}
            added, changed = [], []
            now, late = timezone.now(), {}
            for row in rows:
                line, entry = row.pop("line"), existing.get(row["value"])
                if entry is None:
                    added.append(ListEntry(watch_list=watch_list, key=kind.key(row["value"]), created_by=user,
                                           **{**row, "starts_at": row["starts_at"] or now}))
                    continue
                wanted = (row["reason"], row["starts_at"] or entry.starts_at, row["expires_at"])
                if wanted[2] and wanted[2] <= wanted[1]:
                    late[f"line {line}"] = [f"expires_at: Before the entry's start ({entry.starts_at.isoformat()})."]
                elif wanted != (entry.reason, entry.starts_at, entry.expires_at):
                    entry.reason, entry.starts_at, entry.expires_at = wanted
                    changed.append(entry)
            if late:
                raise InvalidImport(late)
            bulk_create_with_history(added, ListEntry, batch_size=BATCH, default_user=user,
                                     default_change_reason="CSV import")
            # In batches: one UPDATE of thousands of CASE branches takes PostgreSQL minutes.
            bulk_update_with_history(changed, ListEntry, ["reason", "starts_at", "expires_at"], batch_size=BATCH,
                                     default_user=user, default_change_reason="CSV import")
            touched.update(entry.key for entry in added + changed)
    except ValidationError as error:
        raise InvalidImport({"file": error.messages}) from None
    return len(added), len(changed)
