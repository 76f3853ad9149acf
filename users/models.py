import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from simple_history.models import HistoricalRecords

from fraudsite.detection_sql import HISTORY_ROWS

from . import publishing

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


class CustomerQuerySet(models.QuerySet):
    """Bulk writes publish too: each changed customer's record joins the outbox in the same
    transaction, so no path (admin, commands, shell) leaves users-config behind the database.
    (bulk_update is covered: Django runs it as update() calls.)"""

    def update(self, **changes):
        with transaction.atomic():
            before = dict(self.values_list("pk", "user_id"))
            count = super().update(**changes)
            after = Customer.objects.filter(pk__in=before)
            publishing.publish_tombstones(set(before.values()) - {c.user_id for c in after})
            publishing.publish_customers(after)
        return count

    def bulk_create(self, objs, *args, **kwargs):
        with transaction.atomic():
            created = super().bulk_create(objs, *args, **kwargs)
            publishing.publish_customers(Customer.objects.filter(user_id__in=[c.user_id for c in created]))
        return created

    def delete(self):
        with transaction.atomic():
            user_ids = list(self.values_list("user_id", flat=True))
            result = super().delete()
            publishing.publish_tombstones(user_ids)
        return result


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

    # The further signals' thresholds, as published to users-config.
    SIGNAL_FIELDS = publishing.SIGNAL_FIELDS

    objects = CustomerQuerySet.as_manager()
    history = HistoricalRecords()

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

    def save(self, *args, **kwargs):
        """Save, and queue the customer's users-config record in the same transaction (a renamed
        customer's old key is removed)."""
        with transaction.atomic():
            previous_user_id = Customer.objects.filter(pk=self.pk).values_list("user_id", flat=True).first()
            super().save(*args, **kwargs)
            if previous_user_id not in (None, self.user_id):
                publishing.publish_tombstones([previous_user_id])
            publishing.publish_customers([self])

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            result = super().delete(*args, **kwargs)
            publishing.publish_tombstones([self.user_id])
        return result

    @property
    def sync_state(self):
        """Where users-config stands relative to this row: synced, pending, or failed (retrying)."""
        return publication_state(publishing.latest_publication(self.user_id))

    @property
    def sync_error(self):
        latest = publishing.latest_publication(self.user_id)
        return "" if latest is None or latest.sent_at else latest.last_error

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"


def publication_state(row):
    """The SyncState of a customer whose latest outbox row is row (None: pruned long after sending)."""
    if row is None or row.sent_at is not None:
        return Customer.SyncState.SYNCED
    return Customer.SyncState.FAILED if row.attempts else Customer.SyncState.PENDING
