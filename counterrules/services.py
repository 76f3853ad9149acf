"""A change of counter rules, as a proposal carries it: {name: {field: value}} (models.RULE_FIELDS),
each a rule's whole new definition (a new name adds a rule; active false retires one). Checked,
applied in memory for a replay, and saved with history when the proposal is approved."""

import copy
import hashlib
import json

from django.core.exceptions import ValidationError

from fraudsite.detection_counters import MAX_COUNTER_RULES

from .models import RULE_FIELDS, CounterRule


class InvalidRules(Exception):
    """A change of rules that is refused: errors is {name: {field: [messages]}} ("*" for the set)."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def _changed(rules, name, fields):
    """The rule of that name in rules (a new one if none) with the fields changed, as a copy."""
    rule = copy.copy(rules[name]) if name in rules else CounterRule(name=name)
    for field in RULE_FIELDS:
        if field in fields:
            setattr(rule, field, fields[field])
    return rule


def rules_with(changes):
    """{name: CounterRule} of every rule as it would be with the changes (unsaved); InvalidRules when
    any changed rule is refused or too many would be active."""
    rules = CounterRule.objects.in_bulk(field_name="name")
    errors = {}
    for name, fields in changes.items():
        unknown = sorted(set(fields) - set(RULE_FIELDS))
        if unknown:
            errors[name] = {"*": [f"Not a rule's field: {', '.join(unknown)}."]}
            continue
        rule = _changed(rules, name, fields)
        try:
            rule.full_clean(validate_unique=False)
        except ValidationError as error:
            errors[name] = error.message_dict
        rules[name] = rule
    active = [name for name, rule in rules.items() if rule.active]
    if len(active) > MAX_COUNTER_RULES:
        errors["*"] = {"active": [f"{len(active)} rules would be active; the detection job checks at most "
                                  f"{MAX_COUNTER_RULES}."]}
    if errors:
        raise InvalidRules(errors)
    return rules


def described(changes):
    """[(name, the rule now or None, as changed)] of a change, each a CounterRule (unsaved when changed)."""
    current = CounterRule.objects.in_bulk(list(changes), field_name="name")
    return [(name, current.get(name), _changed(current, name, fields)) for name, fields in sorted(changes.items())]


def published(rules):
    """The active rules of {name: CounterRule} as each users-config record carries them."""
    return [{"name": rule.name, "counter": rule.counter, "comparison": rule.comparison,
             "threshold": float(rule.threshold), "weight": float(rule.weight)}
            for name, rule in sorted(rules.items()) if rule.active]


def published_rules():
    """The rules in force, as each users-config record carries them."""
    return published(CounterRule.objects.in_bulk(field_name="name"))


def apply_changes(changes, *, user, reason):
    """Save the changed rules, each with who and why in its history (the caller republishes)."""
    rules = rules_with(changes)
    for name in changes:
        rule = rules[name]
        rule._change_reason, rule._history_user = reason[:100], user
        rule.save()


def rules_fingerprint():
    """A hash of every rule as it is now: a rule proposal's replay is valid for approval only while
    it is unchanged."""
    rows = CounterRule.objects.order_by("name").values_list("name", *RULE_FIELDS)
    return hashlib.sha256(json.dumps([list(row) for row in rows], default=str).encode()).hexdigest()
