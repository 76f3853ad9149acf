import secrets

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from simple_history.models import HistoricalRecords

from .targets import refusal, without_credentials


class EventType(models.TextChoices):
    """What an endpoint can subscribe to; the value is the Fraudsite-Event-Type header and the
    payload's "type"."""

    VERDICT = "verdict", "Verdict stored"
    ALERT_REVIEWED = "alert_reviewed", "Alert reviewed"
    CASE_DECIDED = "case_decided", "Case decided"


def validate_target(url):
    """An endpoint may not point inside (or hold credentials): see targets.py."""
    if message := refusal(url):
        raise ValidationError(message)


def new_secret():
    return "whsec_" + secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """A receiver of signed webhooks, registered in the admin."""

    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"]), validate_target])
    description = models.CharField(max_length=200, blank=True)
    # Shown once, on the page that follows the endpoint's creation; never logged, never in history.
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    event_types = models.JSONField(default=list, help_text="The EventType values it receives.")
    active = models.BooleanField(default=True, help_text="Inactive: its deliveries wait (their retry window runs on).")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.description or self.shown_url

    @property
    def shown_url(self):
        return without_credentials(self.url)


class Delivery(models.Model):
    """One event for one endpoint, written in the transaction of the change it announces, and
    sent by the deliverer (deliveries.py) in id order per (endpoint, ordering key)."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="deliveries")
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    event_id = models.UUIDField(help_text="Sent as Fraudsite-Event-Id: the same on every attempt.")
    ordering_key = models.CharField(max_length=64, help_text="The customer's user_id: their events go in order.")
    payload = models.JSONField(help_text="The body sent: id, type, created_at, data.")
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    given_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # A verdict's event id is derived from its transaction id: a replayed batch adds nothing.
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="one_delivery_per_endpoint_and_event"),
        ]
        indexes = [
            models.Index(fields=["endpoint", "ordering_key", "id"], name="webhook_undelivered_per_key",
                         condition=models.Q(delivered_at=None, given_up_at=None)),
            models.Index(fields=["next_attempt_at"], name="webhook_due",
                         condition=models.Q(delivered_at=None, given_up_at=None)),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id} to {self.endpoint_id}"

    @property
    def state(self):
        if self.delivered_at:
            return "delivered"
        if self.given_up_at:
            return "given up"
        return "retrying" if self.attempts else "pending"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, with what the receiver answered (or why it could not)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="delivery_attempts")
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True, help_text="Empty when no answer came.")
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.TextField(blank=True, help_text="The start of the response body.")
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.delivery_id} at {self.at}: {self.status_code or self.error}"
