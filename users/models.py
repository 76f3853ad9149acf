import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from fraudsite.detection_sql import HISTORY_ROWS

# Fastest plausible travel between two card uses: well above an airliner, far below "anything".
MAX_SPEED_LIMIT_KMH = 100_000

# Velocity looks back at most as many transactions as the detection job keeps per customer.
MAX_VELOCITY_TRANSACTIONS = HISTORY_ROWS
MAX_VELOCITY_WINDOW_MINUTES = 7 * 24 * 60


def validate_time_zone(name):
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"{name!r} is not an IANA time zone (for example Europe/London).")


user_id_validator = RegexValidator(
    regex=r"^[A-Za-z0-9_.-]{1,64}$",
    message="User id: 1 to 64 letters, digits, '_', '.' or '-' (it is the Kafka key).",
)


class Customer(models.Model):
    class SyncState(models.TextChoices):
        PENDING = "pending", "Pending"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"

    user_id = models.CharField(
        max_length=64, unique=True, validators=[user_id_validator],
        help_text="The customer's key on every Kafka topic.",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    max_speed = models.FloatField(
        "maximum speed (km/h)",
        validators=[MinValueValidator(0.001), MaxValueValidator(MAX_SPEED_LIMIT_KMH)],
        help_text=f"Travel faster than this between two transactions is fraud (up to {MAX_SPEED_LIMIT_KMH:,} km/h).",
    )
    # Further signals; each is off while its thresholds are empty.
    velocity_max_transactions = models.PositiveSmallIntegerField(
        "velocity: most transactions", null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_VELOCITY_TRANSACTIONS)],
        help_text=f"More than this many transactions within the window is fraud (1-{MAX_VELOCITY_TRANSACTIONS}).",
    )
    velocity_window_minutes = models.PositiveIntegerField(
        "velocity: window (minutes)", null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_VELOCITY_WINDOW_MINUTES)],
    )
    spend_factor = models.FloatField(
        "spend: factor of the average", null=True, blank=True,
        validators=[MinValueValidator(1.0), MaxValueValidator(1000.0)],
        help_text="An amount above this many times the average of the customer's previous transactions "
                  "(up to 20, from the third on) is fraud.",
    )
    usual_hour_start = models.PositiveSmallIntegerField(
        "usual hours: from", null=True, blank=True, validators=[MaxValueValidator(23)],
        help_text="Local hour (0-23) from which transactions are usual.",
    )
    usual_hour_end = models.PositiveSmallIntegerField(
        "usual hours: until", null=True, blank=True, validators=[MaxValueValidator(23)],
        help_text="Local hour (0-23) at which usual hours end; earlier than 'from' wraps past midnight.",
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="IANA time zone of the usual hours, for example Europe/London.",
    )
    active = models.BooleanField(
        default=True, help_text="Inactive customers are removed from detection and cannot transact."
    )

    # Where the users-config topic stands relative to this row; not part of the audit history.
    sync_state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.PENDING)
    sync_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    # The further signals' thresholds, as published to users-config.
    SIGNAL_FIELDS = ["velocity_max_transactions", "velocity_window_minutes", "spend_factor", "usual_hour_start",
                     "usual_hour_end", "time_zone"]

    history = HistoricalRecords(excluded_fields=["sync_state", "sync_error", "synced_at"])

    class Meta:
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_speed__gt=0) & models.Q(max_speed__lte=MAX_SPEED_LIMIT_KMH),
                name="customer_max_speed_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(velocity_max_transactions__isnull=True, velocity_window_minutes__isnull=True)
                # (NULL passes a CHECK, hence the explicit isnull=False)
                | models.Q(velocity_max_transactions__isnull=False, velocity_window_minutes__isnull=False,
                           velocity_max_transactions__gte=1, velocity_max_transactions__lte=MAX_VELOCITY_TRANSACTIONS,
                           velocity_window_minutes__gte=1),
                name="customer_velocity_thresholds_together",
            ),
            models.CheckConstraint(
                condition=models.Q(spend_factor__isnull=True) | models.Q(spend_factor__gte=1),
                name="customer_spend_factor_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(usual_hour_start__isnull=True, usual_hour_end__isnull=True)
                | (models.Q(usual_hour_start__isnull=False, usual_hour_end__isnull=False,
                            usual_hour_start__lte=23, usual_hour_end__lte=23)
                   & ~models.Q(usual_hour_start=models.F("usual_hour_end"))),
                name="customer_usual_hours_together",
            ),
        ]

    def clean(self):
        errors = {}
        if (self.velocity_max_transactions is None) != (self.velocity_window_minutes is None):
            errors["velocity_window_minutes"] = "Set both velocity thresholds, or neither (signal off)."
        if (self.usual_hour_start is None) != (self.usual_hour_end is None):
            errors["usual_hour_end"] = "Set both usual hours, or neither (signal off)."
        elif self.usual_hour_start is not None and self.usual_hour_start == self.usual_hour_end:
            errors["usual_hour_end"] = "Usual hours must differ (leave both empty for no limit)."
        if errors:
            raise ValidationError(errors)

    def __str__(self):
        return f"{self.first_name} {self.last_name} ({self.user_id})"

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"


class PendingTombstone(models.Model):
    """A deleted (or deactivated) customer whose tombstone has not reached users-config yet."""

    user_id = models.CharField(max_length=64, unique=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.user_id
