"""What the list-memberships topic says about a value, and how a change gets there.

A change of an entry or a list locks every list of its kind, so that two changes of one value
cannot publish out of order, and queues the record of each value it touched in the same database
transaction (the outbox publisher sends it). A value's record holds all its entries that have not
expired; when none is left, it is a tombstone, so the job's state holds only entries that exist.
"""

from collections import defaultdict
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from counterrules.models import rule_reason_codes
from fraudsite.detection_counters import EVERY_RULE
from fraudsite.detection_lists import EVERY_LIST, EVERY_REASON, LIST_REASON_PREFIX, MAX_LIST_MEMBERSHIPS
from fraudsite.detection_sql import FRAUD_REASONS
from fraudsite.topics import LIST_MEMBERSHIPS
from outbox.publisher import enqueue


def _millis(moment):
    return None if moment is None else round(moment.timestamp() * 1000)


def membership_value(entry):
    """An entry as the value's record carries it."""
    watch_list = entry.watch_list
    return {"list": watch_list.name, "effect": watch_list.effect, "weight": float(watch_list.weight),
            "suppresses": watch_list.suppresses or EVERY_REASON, "value": entry.value,
            "starts_at": _millis(entry.starts_at), "ends_at": _millis(entry.expires_at)}


def not_expired(now):
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def records(keys, now=None, strict=True):
    """{key: the value's record, or None (a tombstone) when no entry of it is left unexpired}. A value
    with more entries than the job checks is refused (ValidationError), or when not strict (a replay
    of the past) keeps its latest-starting ones."""
    from .models import ListEntry

    found = defaultdict(list)
    entries = ListEntry.objects.filter(not_expired(now or timezone.now()), key__in=list(keys)).select_related(
        "watch_list").order_by("key", "starts_at", "id")
    for entry in entries:
        found[entry.key].append(membership_value(entry))
    crowded = sorted(key for key, memberships in found.items() if len(memberships) > MAX_LIST_MEMBERSHIPS)
    if crowded and not strict:
        for key in crowded:
            found[key] = found[key][-MAX_LIST_MEMBERSHIPS:]
    elif crowded:  # the job checks no more: refuse rather than leave one out
        raise ValidationError(
            f"{', '.join(crowded[:5])}: on more than {MAX_LIST_MEMBERSHIPS} lists at once; the detection job checks at "
            f"most {MAX_LIST_MEMBERSHIPS} lists per value (for a BIN prefix: per first 6 digits). Remove one first.")
    return {key: {"memberships": found[key]} if found[key] else None for key in keys}


def list_records(window_start):
    """{key: record} of every value with an entry that had not expired when a replay's window began:
    the lists as the replay applies them (each entry by its own period, as the live job does)."""
    from .models import ListEntry

    keys = ListEntry.objects.filter(not_expired(window_start)).values_list("key", flat=True).distinct()
    return {key: record for key, record in records(list(keys), now=window_start, strict=False).items() if record}


@contextmanager
def publish_lists(kinds):
    """A transaction for changing entries or lists of these kinds: yields a set, to which the caller
    adds the keys its change touched; their records are queued before it commits."""
    from .models import WatchList

    touched = set()
    with transaction.atomic():
        list(WatchList.objects.select_for_update().filter(kind__in=kinds).order_by("pk").values_list("pk"))
        yield touched
        touched.discard(None)
        if touched:
            enqueue(LIST_MEMBERSHIPS, records(sorted(touched)))


# The reason codes an allow list may name: every signal's, the block lists' together, and the
# counter rules' together (or each rule's: suppressible_reasons()).
SUPPRESSIBLE_REASONS = [*FRAUD_REASONS, EVERY_LIST, EVERY_RULE]


def suppressible_reasons():
    return [*SUPPRESSIBLE_REASONS, *rule_reason_codes()]


def fraud_reason_codes():
    """Every fraud reason code a verdict may carry: the signals', then each block list's (list:<name>,
    by name; a deleted list's stay on its verdicts, as any history does), then each counter rule's."""
    from .models import WatchList

    names = WatchList.objects.filter(effect=WatchList.Effect.BLOCK).order_by("name").values_list("name", flat=True)
    return [*FRAUD_REASONS, *(LIST_REASON_PREFIX + name for name in names), *rule_reason_codes()]
