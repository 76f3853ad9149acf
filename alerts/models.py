from django.conf import settings
from django.db import models

from transactions.models import ReviewStatus, Verdict


class AlertReview(models.Model):
    """One operator decision on an alert: the audit trail (who, when, what), never edited."""

    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="reviews")
    decision = models.CharField(max_length=20, choices=[c for c in ReviewStatus.choices if c[0]])
    comment = models.TextField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reviewer_username = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self):
        return f"{self.verdict.transaction_id}: {self.get_decision_display()} by {self.reviewer_username}"
