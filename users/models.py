from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

# Fastest plausible travel between two card uses: well above an airliner, far below "anything".
MAX_SPEED_LIMIT_KMH = 100_000

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
    active = models.BooleanField(
        default=True, help_text="Inactive customers are removed from detection and cannot transact."
    )

    # Where the users-config topic stands relative to this row; not part of the audit history.
    sync_state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.PENDING)
    sync_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["sync_state", "sync_error", "synced_at"])

    class Meta:
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_speed__gt=0) & models.Q(max_speed__lte=MAX_SPEED_LIMIT_KMH),
                name="customer_max_speed_in_range",
            )
        ]

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
