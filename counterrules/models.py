"""Counter rules (fraudsite/detection_counters.py): "more than 1 customer per card in 24 h" as data.
Audited and versioned (each change is a history row with who and why); changed only by an approved
proposal (proposals/services.py), which republishes every customer's users-config record with the
rules in force."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from fraudsite import detection_counters
from fraudsite.detection_counters import AGGREGATES, COMPARISONS, KEYS, MAX_RULE_NAME_LENGTH, WINDOWS

# What a rule is, field by field: a proposal carries these (proposals/services.py).
RULE_FIELDS = ["key", "window", "aggregate", "comparison", "threshold", "weight", "active", "description"]


class CounterRule(models.Model):
    name = models.CharField(
        max_length=MAX_RULE_NAME_LENGTH, unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", "Lower-case letters, digits, '-' and '_'.")],
        help_text=f"The verdict's reason is {detection_counters.RULE_REASON_PREFIX}<name>.")
    key = models.CharField(max_length=20, choices=[(key.name, key.label) for key in KEYS])
    window = models.CharField(max_length=10, choices=[(name, name) for name in WINDOWS])
    aggregate = models.CharField(max_length=20, choices=[(a.name, a.label) for a in AGGREGATES])
    comparison = models.CharField(max_length=2, choices=list(COMPARISONS.items()))
    threshold = models.FloatField()
    weight = models.FloatField(default=50, help_text="What the rule adds to the score when it fires.")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=500, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def counter(self):
        return detection_counters.counter_name(self.key, self.window, self.aggregate)

    def sentence(self):
        """The rule as a person says it: 'distinct customers per card token in 24h more than 1'."""
        key = detection_counters.KEYS_BY_NAME[self.key].label
        aggregate = detection_counters.AGGREGATES_BY_NAME[self.aggregate].label
        return f"{aggregate} per {key} in {self.window} {COMPARISONS[self.comparison]} {self.threshold:g}"

    def clean(self):
        errors = {}
        if self.active and self.counter not in detection_counters.counters():
            counted = ", ".join(sorted(detection_counters.counters())) or "none"
            errors["window"] = (f"The detection job does not count {self.counter}: it counts {counted}. "
                                f"COUNTER_WINDOWS names the (key, window) pairs it keeps (a redeploy).")
        if self.threshold is not None and self.threshold < 0:
            errors["threshold"] = "At least 0."
        if self.weight is not None and self.weight < 0:
            errors["weight"] = "At least 0."
        if errors:
            raise ValidationError(errors)


def rule_reason_codes():
    """Every rule's reason code, inactive ones too: their verdicts are still in the history."""
    return [detection_counters.RULE_REASON_PREFIX + name
            for name in CounterRule.objects.order_by("name").values_list("name", flat=True)]
