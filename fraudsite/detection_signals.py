"""The detection job's signals (its fraud rules), each declared once.

A declaration says what a signal reports (its reason codes, each with its default weight in the
scoring policy), what a customer sets for it (its thresholds: the Customer fields, their checks and
the users-config fields), and which fields of the verdict record it (the Verdict's columns). From
these come: the Customer's threshold fields and constraints, SIGNAL_FIELDS and THRESHOLD_FIELDS,
the admin's fields, the scoring policy's weights, users/schemas/users-config.avsc (written by
`manage.py users_config_schema`), FRAUD_REASONS (which travel notices, the analytics, the admin
and the replays use), and the per-signal parts of sql/detection.sql: whether a reason fired,
whether a travel notice suppresses it, the reasons left and the score.

What stays written by hand is the signal's own SQL: in sql/detection.sql, the CASE of the
`signals` CTE that sets its `<name>_reason` column (its reason code when it fires, else NULL) and
the columns it measures; and its fields in the verdict schema, sql/card-transactions-enriched.avsc.
docs/architecture.md ("Where to add") is the recipe.

The travel signal (impossible travel, the max_speed threshold) is the query's skeleton: its SQL,
its two reasons and its verdict fields are written out in sql/detection.sql and the Verdict; it is
declared here for its threshold and weights. The template renders the further signals.
"""

import zoneinfo
from dataclasses import dataclass, field
from typing import Callable

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Velocity and spend deviation look back at most this many transactions per customer (so the
# velocity threshold N is at most this), and spend deviation needs at least SPEND_MIN_HISTORY.
HISTORY_ROWS = 20
SPEND_MIN_HISTORY = 3

# Fastest plausible travel between two card uses: well above an airliner, far below "anything".
MAX_SPEED_LIMIT_KMH = 100_000
# Velocity looks back at most as many transactions as the detection job keeps per customer.
MAX_VELOCITY_TRANSACTIONS = HISTORY_ROWS
MAX_VELOCITY_WINDOW_MINUTES = 7 * 24 * 60

# The scoring policy's outcome thresholds, their defaults and help: a score at least review_from is
# answered review, at least decline_from decline (below both: approve).
OUTCOME_THRESHOLDS = {
    "review_from": (20, "A score at least this is answered review."),
    "decline_from": (50, "A score at least this is answered decline."),
}


def validate_time_zone(name):
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"{name!r} is not an IANA time zone (for example Europe/London).")


@dataclass(frozen=True)
class Threshold:
    """One threshold of a signal: a Customer field (null: optional, the signal is off while its
    optional thresholds are empty) and the doc of its users-config field."""

    name: str
    field: models.Field
    doc: str = ""


@dataclass(frozen=True)
class Signal:
    name: str  # detection.sql's <name>_reason (its reason code when it fired, else NULL) and <name>_suppressed
    reasons: dict  # reason code -> its default weight in the scoring policy
    thresholds: list
    verdict_fields: dict = field(default_factory=dict)  # the Verdict's fields for it: name -> Django field
    constraints: list = field(default_factory=list)  # CheckConstraints on the Customer's thresholds
    all_or_none: str = ""  # the error when only some of its optional thresholds are set
    check: Callable = None  # further checks of a customer's thresholds: customer -> {field: message}

    @property
    def reason(self):
        """The reason code of a further signal (one each: the template gives each one column)."""
        (code,) = self.reasons
        return code

    def threshold_errors(self, customer):
        """{field: message} of what is wrong with the customer's thresholds of this signal."""
        optional = [threshold.name for threshold in self.thresholds if threshold.field.null]
        given = [getattr(customer, name) is not None for name in optional]
        if self.all_or_none and any(given) and not all(given):
            return {optional[-1]: self.all_or_none}
        return self.check(customer) if self.check else {}


def _optional(field_class, *args, **options):
    return field_class(*args, null=True, blank=True, **options)


def _usual_hours_differ(customer):
    if customer.usual_hour_start is not None and customer.usual_hour_start == customer.usual_hour_end:
        return {"usual_hour_end": "Usual hours must differ (leave both empty for no limit)."}
    return {}


TRAVEL = Signal(
    name="travel",
    reasons={"speed_above_limit": 60, "non_positive_elapsed_time": 60},
    thresholds=[
        Threshold("max_speed", models.FloatField(
            "maximum speed (km/h)",
            validators=[MinValueValidator(0.001), MaxValueValidator(MAX_SPEED_LIMIT_KMH)],
            help_text=f"Travel faster than this between two transactions is fraud (up to {MAX_SPEED_LIMIT_KMH:,} km/h).",
        ), doc="Highest plausible travel speed between two transactions, km/h."),
    ],
    constraints=[models.CheckConstraint(
        condition=models.Q(max_speed__gt=0) & models.Q(max_speed__lte=MAX_SPEED_LIMIT_KMH),
        name="customer_max_speed_in_range",
    )],
)

VELOCITY = Signal(
    name="velocity",
    reasons={"velocity_exceeded": 40},
    thresholds=[
        Threshold("velocity_max_transactions", _optional(
            models.PositiveSmallIntegerField, "velocity: most transactions",
            validators=[MinValueValidator(1), MaxValueValidator(MAX_VELOCITY_TRANSACTIONS)],
            help_text=f"More than this many transactions within the window is fraud (1-{MAX_VELOCITY_TRANSACTIONS}).",
        ), doc="Velocity: more than this many transactions within velocity_window_minutes is fraud (1-20). "
               "Null: signal off."),
        Threshold("velocity_window_minutes", _optional(
            models.PositiveIntegerField, "velocity: window (minutes)",
            validators=[MinValueValidator(1), MaxValueValidator(MAX_VELOCITY_WINDOW_MINUTES)],
        )),
    ],
    verdict_fields={
        "velocity_max_transactions": _optional(models.IntegerField),
        "velocity_window_minutes": _optional(models.IntegerField),
    },
    constraints=[models.CheckConstraint(
        condition=models.Q(velocity_max_transactions__isnull=True, velocity_window_minutes__isnull=True)
        # (NULL passes a CHECK, hence the explicit isnull=False)
        | models.Q(velocity_max_transactions__isnull=False, velocity_window_minutes__isnull=False,
                   velocity_max_transactions__gte=1, velocity_max_transactions__lte=MAX_VELOCITY_TRANSACTIONS,
                   velocity_window_minutes__gte=1),
        name="customer_velocity_thresholds_together",
    )],
    all_or_none="Set both velocity thresholds, or neither (signal off).",
)

SPEND = Signal(
    name="spend",
    reasons={"spend_deviation": 30},
    thresholds=[
        Threshold("spend_factor", _optional(
            models.FloatField, "spend: factor of the average",
            validators=[MinValueValidator(1.0), MaxValueValidator(1000.0)],
            help_text="An amount above this many times the average of the customer's previous transactions "
                      "(up to 20, from the third on) is fraud.",
        ), doc="Spend deviation: an amount above this many times the average of the customer's previous "
               "transactions is fraud. Null: signal off."),
    ],
    verdict_fields={
        "spend_factor": _optional(models.FloatField),
        "average_amount": _optional(models.FloatField, help_text="Of the customer's previous transactions."),
    },
    constraints=[models.CheckConstraint(
        condition=models.Q(spend_factor__isnull=True) | models.Q(spend_factor__gte=1),
        name="customer_spend_factor_in_range",
    )],
)

USUAL_HOURS = Signal(
    name="hour",
    reasons={"unusual_hour": 15},
    thresholds=[
        Threshold("usual_hour_start", _optional(
            models.PositiveSmallIntegerField, "usual hours: from", validators=[MaxValueValidator(23)],
            help_text="Local hour (0-23) from which transactions are usual.",
        ), doc="Unusual hour: a transaction outside [start, end) local hours is fraud; start > end wraps "
               "midnight. Null: signal off."),
        Threshold("usual_hour_end", _optional(
            models.PositiveSmallIntegerField, "usual hours: until", validators=[MaxValueValidator(23)],
            help_text="Local hour (0-23) at which usual hours end; earlier than 'from' wraps past midnight.",
        )),
        Threshold("time_zone", models.CharField(
            max_length=64, default="UTC", validators=[validate_time_zone],
            help_text="IANA time zone of the usual hours, for example Europe/London.",
        ), doc="IANA time zone of the usual hours."),
    ],
    verdict_fields={
        "usual_hour_start": _optional(models.IntegerField),
        "usual_hour_end": _optional(models.IntegerField),
        "local_hour": _optional(models.IntegerField, help_text="In the customer's time zone."),
    },
    constraints=[models.CheckConstraint(
        condition=models.Q(usual_hour_start__isnull=True, usual_hour_end__isnull=True)
        | (models.Q(usual_hour_start__isnull=False, usual_hour_end__isnull=False,
                    usual_hour_start__lte=23, usual_hour_end__lte=23)
           & ~models.Q(usual_hour_start=models.F("usual_hour_end"))),
        name="customer_usual_hours_together",
    )],
    all_or_none="Set both usual hours, or neither (signal off).",
    check=_usual_hours_differ,
)

# The signals after travel, in the order of their thresholds, weights, reasons and verdict fields.
FURTHER_SIGNALS = [VELOCITY, SPEND, USUAL_HOURS]


# --- what is derived from the declarations (read at call time, so a test can declare a signal) ----

def signals():
    return [TRAVEL, *FURTHER_SIGNALS]


def further_signals():
    return list(FURTHER_SIGNALS)


def fraud_reasons():
    return [code for signal in signals() for code in signal.reasons]


def thresholds():
    return [threshold for signal in signals() for threshold in signal.thresholds]


def scoring_defaults():
    """The scoring policy's fields and defaults: a weight per fraud reason, then the outcome thresholds."""
    weights = {f"weight_{code}": weight for signal in signals() for code, weight in signal.reasons.items()}
    return {**weights, **{name: default for name, (default, _) in OUTCOME_THRESHOLDS.items()}}


def threshold_fields():
    """{name: a new Customer field} of every threshold, in order (users.models.Customer adds them)."""
    return {threshold.name: threshold.field.clone() for threshold in thresholds()}


def threshold_constraints():
    return [constraint.clone() for signal in signals() for constraint in signal.constraints]


def threshold_errors(customer):
    """{field: message} of every signal's refusal of the customer's thresholds (Customer.clean)."""
    return {name: message for signal in signals() for name, message in signal.threshold_errors(customer).items()}


def scoring_policy_fields():
    """{name: a new ScoringPolicy field}: each fraud reason's weight, then the outcome thresholds."""
    help_texts = {name: help_text for name, (_, help_text) in OUTCOME_THRESHOLDS.items()}
    return {name: models.FloatField(default=default, validators=[MinValueValidator(0)],
                                    help_text=help_texts.get(name, ""))
            for name, default in scoring_defaults().items()}


def verdict_fields():
    """{name: a new Verdict field} of the further signals' verdict fields, in order."""
    return {name: verdict_field.clone() for signal in further_signals()
            for name, verdict_field in signal.verdict_fields.items()}
