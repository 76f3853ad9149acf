"""Counter rules: checks over a key other than, or beside, the customer (the counterrules app
manages them). A rule compares one counter with a threshold, for example "a card used by more than
1 customer in 24 h". A counter is an aggregate over a key's transactions in a window ending with
this one, all from the fixed menus below.

The detection job keeps a window per (key, window) pair of COUNTER_WINDOWS (a setting: each is an
operator of the job, so a new pair is a redeploy) and every aggregate of the menu on it. Rules are
data: each customer's users-config record carries the rules in force, and a rule that fires adds
the reason rule:<name> and its weight. A change of rules reaches the running job without a
redeploy, as a threshold change does.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# A reason a counter rule fires: this prefix and the rule's name.
RULE_REASON_PREFIX = "rule:"
# A rule's name is part of reason codes, which a verdict stores in 40 characters, suppressed ones
# too ("suppressed:rule:<name>").
MAX_RULE_NAME_LENGTH = 24
# The query checks this many rules (a Flink SQL array has no loop without a UDF, so each is a check
# of its own): at most this many may be active at once.
MAX_COUNTER_RULES = 8
# An allow list suppresses every rule's reason when it names this.
EVERY_RULE = RULE_REASON_PREFIX + "*"


@dataclass(frozen=True)
class CounterKey:
    name: str
    label: str
    column: str  # the transaction's column (of the detection query) the window is partitioned by


@dataclass(frozen=True)
class Aggregate:
    name: str
    label: str
    expression: str  # over the window, in Flink SQL
    counts_column: str = ""  # the column it counts distinct values of: meaningless on a key of that column


KEYS = [
    CounterKey("customer", "customer", "user_id"),
    CounterKey("card", "card token", "card_token"),
    CounterKey("device", "device", "device_id"),
    CounterKey("merchant", "merchant", "merchant_id"),
    CounterKey("ip", "IP address", "ip_address"),
]
KEYS_BY_NAME = {key.name: key for key in KEYS}

AGGREGATES = [
    Aggregate("count", "transactions", "COUNT(*)"),
    Aggregate("amount", "sum of amount", "SUM(amount)"),
    Aggregate("customers", "distinct customers", "COUNT(DISTINCT user_id)", "user_id"),
    Aggregate("countries", "distinct merchant countries", "COUNT(DISTINCT merchant_country)", "merchant_country"),
    Aggregate("devices", "distinct devices", "COUNT(DISTINCT device_id)", "device_id"),
]
AGGREGATES_BY_NAME = {aggregate.name: aggregate for aggregate in AGGREGATES}

# The window menu: name -> minutes.
WINDOWS = {"10min": 10, "1h": 60, "24h": 24 * 60}

COMPARISONS = {">": "more than", ">=": "at least"}


@dataclass(frozen=True)
class CounterWindow:
    """A (key, window) pair the job keeps: its aggregates' columns are <name>_<aggregate>."""

    key: CounterKey
    window: str

    @property
    def name(self):
        return f"{self.key.name}_{self.window}"

    @property
    def minutes(self):
        return WINDOWS[self.window]

    @property
    def interval(self):
        """The window's length as a Flink SQL interval (its fields take at most two digits)."""
        if self.minutes % 60 == 0:
            return f"INTERVAL '{self.minutes // 60}' HOUR"
        return f"INTERVAL '{self.minutes}' MINUTE"

    @property
    def aggregates(self):
        return [aggregate for aggregate in AGGREGATES if aggregate.counts_column != self.key.column]

    def counter(self, aggregate):
        return counter_name(self.key.name, self.window, aggregate.name)


def counter_name(key, window, aggregate):
    """A counter's name as a rule stores it and the job looks it up: key:window:aggregate."""
    return f"{key}:{window}:{aggregate}"


def parse_counter_windows(text):
    """[CounterWindow] of "key:window,key:window"; ImproperlyConfigured names what is wrong."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, window = item.partition(":")
        if key not in KEYS_BY_NAME or window not in WINDOWS:
            raise ImproperlyConfigured(
                f"COUNTER_WINDOWS: {item!r} is not key:window (keys: {', '.join(KEYS_BY_NAME)}; windows: "
                f"{', '.join(WINDOWS)}).")
        pair = CounterWindow(KEYS_BY_NAME[key], window)
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def counter_windows():
    """The (key, window) pairs the detection job keeps, as the COUNTER_WINDOWS setting names them."""
    return parse_counter_windows(settings.COUNTER_WINDOWS)


def counters():
    """{counter name: (CounterWindow, Aggregate)} of every counter the job computes."""
    return {pair.counter(aggregate): (pair, aggregate) for pair in counter_windows() for aggregate in pair.aggregates}
