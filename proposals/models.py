"""Proposals: a draft change of thresholds or of counter rules, its replay against stored history,
and the second person's decision (services.py, replay.py, replay_queue.py)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from fraudsite.permissions import codename

from .permissions import APPROVE_PROPOSAL

# A replay judges the proposal against this many days of stored transactions unless told otherwise.
DEFAULT_REPLAY_DAYS = 30
MAX_REPLAY_DAYS = 366


class Proposal(models.Model):
    """A draft change of thresholds, {user_id: {threshold field: value}}: audited, replayed against
    stored history (proposals/replay.py), and published to users-config only when a second person with
    the approve permission approves it after its replay (proposals/services.py). A draft never
    changes a customer and never reaches the outbox."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        QUEUED = "queued", "Replay queued"
        REPLAYING = "replaying", "Replaying"
        REPLAY_FAILED = "replay_failed", "Replay failed"
        REPLAYED = "replayed", "Replayed"
        PUBLISHED = "published", "Approved and published"
        REJECTED = "rejected", "Rejected"

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=500, help_text="Why: what the change should achieve.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    changes = models.JSONField(help_text="{user_id: {threshold field: new value}}")
    rule_changes = models.JSONField(
        null=True, blank=True,
        help_text="A rule proposal's change of counter rules, {name: {field: value}} (counterrules/services.py); "
                  "null for a threshold proposal.")
    replay_days = models.PositiveSmallIntegerField(
        default=DEFAULT_REPLAY_DAYS, validators=[MinValueValidator(1), MaxValueValidator(MAX_REPLAY_DAYS)],
        help_text="How many days of stored transactions, up to now, the replay judges.")
    # The latest replay: queued by the admin, run by the replay process (proposals/replay_queue.py),
    # its progress while it runs, then its result (proposals/replay.py) or why it failed (replay_message).
    replay_queued_at = models.DateTimeField(null=True, blank=True)
    replay_host = models.CharField(max_length=255, blank=True, help_text="Where the replay process runs.")
    replay_pid = models.PositiveIntegerField(null=True, blank=True, help_text="The replay process's id there.")
    replay_heartbeat_at = models.DateTimeField(null=True, blank=True,
                                               help_text="The replay process's last sign of life while it runs.")
    replay_progress = models.PositiveSmallIntegerField(default=0, help_text="Percent.")
    replay_message = models.CharField(max_length=500, blank=True)
    replay_started_at = models.DateTimeField(null=True, blank=True)
    replay_finished_at = models.DateTimeField(null=True, blank=True)
    replay_window_start = models.DateTimeField(null=True, blank=True)
    replay_window_end = models.DateTimeField(null=True, blank=True)
    replay_result = models.JSONField(null=True, blank=True)
    # The affected customers' thresholds when the replay read them: approval needs them unchanged.
    replay_fingerprint = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    history = HistoricalRecords(excluded_fields=["replay_progress", "replay_message", "replay_heartbeat_at"])

    class Meta:
        ordering = ["-created_at"]
        permissions = [(codename(APPROVE_PROPOSAL), "Can approve threshold proposals (publishes them)")]

    def __str__(self):
        if self.is_rule_change:
            return f"Proposal {self.pk}: rules {', '.join(sorted(self.rule_changes))} ({self.get_status_display()})"
        count = len(self.changes or {})
        return f"Proposal {self.pk}: {count} customer{'s' if count != 1 else ''} ({self.get_status_display()})"

    @property
    def is_rule_change(self):
        return self.rule_changes is not None

    @property
    def replay_owner(self):
        """Who runs (or ran) the replay, as the admin and the failure reasons name it."""
        return f"pid {self.replay_pid} on host {self.replay_host}" if self.replay_pid else "no replay process recorded"

    @property
    def user_ids(self):
        return sorted(self.changes or {})
