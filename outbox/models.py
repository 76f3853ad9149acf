from django.db import models


class OutboxMessage(models.Model):
    """A record to produce, written in the same database transaction as the change it announces,
    and sent by the publisher loop (outbox/publisher.py) in id order."""

    topic = models.CharField(max_length=64, help_text="The topic's role in the registry (fraudsite/topics.py).")
    key = models.CharField(max_length=255)
    value = models.JSONField(null=True, blank=True, help_text="The record; empty for a tombstone.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts so far.")
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["topic", "key", "-id"], name="outbox_latest_per_key"),
            models.Index(fields=["id"], condition=models.Q(sent_at=None), name="outbox_unsent"),
        ]

    def __str__(self):
        return f"{self.topic}:{self.key} #{self.id}"
