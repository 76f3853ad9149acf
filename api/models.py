from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey
from simple_history.models import HistoricalRecords


class Scope(models.TextChoices):
    DECISIONS = "decisions", "Decisions: POST /api/v1/decisions"


class ClientKey(AbstractAPIKey):
    """A machine client's API key: stored as a hash (djangorestframework-api-key), shown once when
    made in the admin, limited to its scopes and its rate, revocable."""

    scopes = models.JSONField(default=list, help_text="What the key may call.")
    rate_limit_per_minute = models.PositiveIntegerField(
        default=6000, validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Requests per minute; more are answered 429.")
    history = HistoricalRecords(excluded_fields=["hashed_key"])

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"

    def allows(self, scope):
        return scope in self.scopes


class Decision(models.Model):
    """A decision request's answer, kept so that a retry with the same Idempotency-Key gets the
    same answer and never a second transaction."""

    # No index of its own (Django's default for a foreign key, with a LIKE-pattern twin): the
    # unique (client_key, idempotency_key) index serves every lookup, and the decision path
    # writes a row per request.
    client_key = models.ForeignKey(ClientKey, on_delete=models.CASCADE, related_name="decisions", db_index=False)
    idempotency_key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    transaction_id = models.CharField(max_length=64)
    answer = models.JSONField(null=True, help_text="Empty while the first request is still waiting.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_key", "idempotency_key"], name="one_answer_per_key")]

    def __str__(self):
        return f"{self.client_key.prefix} {self.idempotency_key}: {self.transaction_id}"
