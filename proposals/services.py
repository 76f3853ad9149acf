"""Threshold proposals: drafted by one person, replayed against history (proposals/replay.py), approved
and published by another (maker-checker). Drafts are validated with the rules of the Customer
model (through users/thresholds.py) and never touch a customer or the outbox; approval publishes
through set_thresholds, in one transaction."""

import csv
import hashlib
import io
import json

from django.db import transaction
from django.utils import timezone

from accounts.rules import one_person
from counterrules import services as counter_rules
from fraudsite.flink_client import unavailable as replay_unavailable

from users.models import Customer
from users.publishing import publish_customers
from users.thresholds import (THRESHOLD_FIELDS, InvalidThresholds, apply_changes, parse_threshold, set_thresholds,
                              unknown_fields)

from .models import Proposal
from .permissions import APPROVE_PROPOSAL

# An uploaded CSV: at most this many rows (one per customer).
MAX_CSV_ROWS = 100_000


class ProposalRefused(Exception):
    """An approval, rejection or replay that may not happen now; the message says why."""


def validate_changes(changes):
    """{user_id: {field: [messages]}} of what would be refused (empty: every row is valid): unknown
    customers or fields, and whatever the Customer model refuses once the changes are applied."""
    errors = {}
    customers = Customer.objects.in_bulk(list(changes), field_name="user_id")
    for user_id, fields in changes.items():
        if not fields:
            errors[user_id] = {"*": ["No threshold to change."]}
        elif unknown_fields(fields):
            errors[user_id] = unknown_fields(fields)["*"]
        elif user_id not in customers:
            errors[user_id] = {"user_id": ["No such customer."]}
        else:
            refused = apply_changes(customers[user_id], fields)  # in memory only
            if refused:
                errors[user_id] = refused
    return errors


def _refuse_unless_draftable(reason):
    if not reason.strip():
        raise InvalidThresholds({"*": {"reason": ["Say why: a reason is required."]}})
    if replay_unavailable():  # a draft that cannot be replayed could never be approved
        raise InvalidThresholds({"*": {"replay": [f"No proposal can be replayed here: {replay_unavailable()}"]}})


def _drafted(*, author, reason, replay_days, **changes):
    proposal = Proposal(author=author, reason=reason.strip(), **changes)
    if replay_days:
        proposal.replay_days = replay_days
    record(proposal, "drafted", author)
    return proposal


def create_proposal(*, author, reason, changes, replay_days=None):
    """A draft proposal of {user_id: {field: value}}; InvalidThresholds (nothing saved) when any
    row is refused."""
    if not changes:
        raise InvalidThresholds({"*": {"changes": ["Choose at least one customer."]}})
    _refuse_unless_draftable(reason)
    errors = validate_changes(changes)
    if errors:
        raise InvalidThresholds(errors)
    return _drafted(author=author, reason=reason, replay_days=replay_days, changes=changes)


def create_rule_proposal(*, author, reason, rule_changes, replay_days=None):
    """A draft proposal of counter rules, {name: {field: value}} (counterrules/services.py);
    InvalidThresholds ({name: {field: [messages]}}, nothing saved) when any rule is refused."""
    if not rule_changes:
        raise InvalidThresholds({"*": {"rules": ["Change at least one rule."]}})
    _refuse_unless_draftable(reason)
    try:
        counter_rules.rules_with(rule_changes)
    except counter_rules.InvalidRules as error:
        raise InvalidThresholds(error.errors) from None
    return _drafted(author=author, reason=reason, replay_days=replay_days, changes={}, rule_changes=rule_changes)


def replay_input(proposal):
    """(the customers replayed, {user_id: threshold changes}; the counter rules each of their
    records carries): a threshold proposal's customers with its changes and the rules in force; a
    rule proposal's candidate rules over every active customer, since a rule counts across customers."""
    if proposal.is_rule_change:
        user_ids = Customer.objects.filter(active=True).values_list("user_id", flat=True)
        return dict.fromkeys(user_ids, {}), counter_rules.published(counter_rules.rules_with(proposal.rule_changes))
    return proposal.changes, counter_rules.published_rules()


def replay_fingerprint(proposal):
    """What the replay read that approval needs unchanged: a rule proposal's the rules, a threshold
    proposal's its customers' thresholds and the rules."""
    if proposal.is_rule_change:
        return counter_rules.rules_fingerprint()
    return hashlib.sha256((thresholds_fingerprint(proposal.user_ids) + counter_rules.rules_fingerprint()).encode()
                          ).hexdigest()


def propose_for(customers, changes, *, author, reason, replay_days=None):
    """The same changes for each customer of a selection (an admin action, a filter, everyone)."""
    return create_proposal(author=author, reason=reason, replay_days=replay_days,
                           changes={user_id: dict(changes) for user_id in customers.values_list("user_id", flat=True)})


def changes_from_csv(text):
    """{user_id: {field: value}} from CSV text: a user_id column and one column per threshold to
    change ('off' or empty turns an optional signal off). InvalidThresholds names each wrong row
    ("line N (user_id)") with its fields' messages."""
    try:
        return _changes_from_csv(text)
    except csv.Error as error:  # e.g. a field longer than the csv module reads (131,072 characters)
        raise InvalidThresholds({"file": {"*": [f"Not readable as CSV: {error}."]}}) from None


def _changes_from_csv(text):
    reader = csv.DictReader(io.StringIO(text))
    fields = _threshold_columns(reader.fieldnames)
    changes, errors, lines = {}, {}, {}
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_CSV_ROWS:
            raise InvalidThresholds({"*": {"*": [f"At most {MAX_CSV_ROWS:,} rows."]}})
        row = {(key or "").strip(): value or "" for key, value in row.items()}
        user_id = row.get("user_id", "").strip()
        parsed, refused = _parsed_row(row, user_id, fields, lines)
        if refused:
            errors[f"line {number} ({user_id or 'no user_id'})"] = refused
        else:
            changes[user_id], lines[user_id] = parsed, number
    for user_id, refused in validate_changes(changes).items():
        errors[f"line {lines[user_id]} ({user_id})"] = refused
    if errors:
        raise InvalidThresholds(errors)
    return changes


def _threshold_columns(fieldnames):
    """The threshold columns the CSV's header names, beside user_id; InvalidThresholds for a header
    without user_id, with a column that is no threshold, or with no threshold."""
    columns = [name.strip() for name in fieldnames or []]
    if "user_id" not in columns:
        raise InvalidThresholds({"header": {"user_id": ["The first line must name the columns, user_id among them."]}})
    unknown = sorted(set(columns) - {"user_id", *THRESHOLD_FIELDS})
    if unknown:
        raise InvalidThresholds({"header": {name: ["Not a threshold."] for name in unknown}})
    fields = [name for name in columns if name != "user_id"]
    if not fields:
        raise InvalidThresholds({"header": {"*": ["Name at least one threshold column."]}})
    return fields


def _parsed_row(row, user_id, fields, lines):
    """(the row's thresholds, its errors by field: empty when there are none); lines: the line of
    each user_id read so far."""
    if not user_id:
        return {}, {"user_id": ["Missing."]}
    if user_id in lines:
        return {}, {"user_id": [f"Also on line {lines[user_id]}."]}
    parsed, refused = {}, {}
    for field in fields:
        try:
            parsed[field] = parse_threshold(field, row.get(field, ""))
        except ValueError as error:
            refused[field] = [str(error)]
    return parsed, refused


def thresholds_fingerprint(user_ids):
    """A hash of these customers' current thresholds (and whether they are active): a replay is
    valid for approval only while it is unchanged."""
    rows = Customer.objects.filter(user_id__in=user_ids).order_by("user_id").values_list(
        "user_id", "active", *THRESHOLD_FIELDS)
    return hashlib.sha256(json.dumps([list(row) for row in rows], default=str).encode()).hexdigest()


def record(proposal, reason, user):
    """Save, with who and why in the proposal's history (also outside a request)."""
    proposal._change_reason, proposal._history_user = reason, user
    proposal.save()


def approve(proposal, *, user):
    """Publish the proposal's changes (set_thresholds, one transaction, through the outbox) when
    user may: a different person from its author, with the approve permission, after a finished
    replay whose customers' thresholds have not changed since. ProposalRefused otherwise."""
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if not user.has_perm(APPROVE_PROPOSAL):
            raise ProposalRefused("You may not approve proposals.")
        if one_person(user, proposal.author):
            raise ProposalRefused("A proposal must be approved by someone other than its author, and not through "
                                  "an account either of them made.")
        if proposal.status != Proposal.Status.REPLAYED:
            raise ProposalRefused(f"Only a replayed proposal can be approved; this one is "
                                  f"{proposal.get_status_display().lower()}.")
        if replay_fingerprint(proposal) != proposal.replay_fingerprint:
            raise ProposalRefused(f"Its {'rules' if proposal.is_rule_change else 'customers or the rules'} have changed "
                                  "since the replay: replay it again before approving.")
        if proposal.is_rule_change:
            counter_rules.apply_changes(proposal.rule_changes, user=user, reason=f"proposal {proposal.pk}: {proposal.reason}")
            publish_customers(Customer.objects.filter(active=True))
        groups = {}  # customers with the same changes: one set_thresholds call each
        for user_id, changes in proposal.changes.items():
            groups.setdefault(json.dumps(changes, sort_keys=True), []).append(user_id)
        for changes, user_ids in groups.items():
            set_thresholds(Customer.objects.filter(user_id__in=user_ids), json.loads(changes), changed_by=user,
                           reason=f"proposal {proposal.pk}: {proposal.reason}"[:100])
        proposal.status, proposal.decided_by, proposal.decided_at = Proposal.Status.PUBLISHED, user, timezone.now()
        record(proposal, f"approved by {user.get_username()} and published", user)
    return proposal


def reject(proposal, *, user, reason):
    """Close the proposal without publishing; records who and why. A published one cannot be."""
    if not reason.strip():
        raise ProposalRefused("Say why the proposal is rejected.")
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if not user.has_perm(APPROVE_PROPOSAL):
            raise ProposalRefused("You may not reject proposals.")
        if proposal.status in (Proposal.Status.PUBLISHED, Proposal.Status.REJECTED):
            raise ProposalRefused(f"This proposal is already {proposal.get_status_display().lower()}.")
        proposal.status, proposal.decided_by, proposal.decided_at = Proposal.Status.REJECTED, user, timezone.now()
        proposal.decision_reason = reason.strip()[:500]
        record(proposal, f"rejected by {user.get_username()}", user)
    return proposal
