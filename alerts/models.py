from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from fraudsite.permissions import codename
from transactions.models import Verdict

from .permissions import ASSIGN_ALERT, REVIEW_ALERT, VIEW_TEAM


class ReviewStatus(models.TextChoices):
    OPEN = "", "Open"
    CONFIRMED_FRAUD = "confirmed_fraud", "Confirmed fraud"
    FALSE_POSITIVE = "false_positive", "False positive"
    NEEDS_FOLLOW_UP = "needs_follow_up", "Needs follow-up"


# What an operator can decide about an alert (alerts/reviews.py records it).
DECISIONS = {value: label for value, label in ReviewStatus.choices if value}


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


class Case(models.Model):
    """A customer's alerts worked as one: an owner, notes, and one decision for all of them."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DECIDED = "decided", "Decided"

    customer = models.ForeignKey("users.Customer", on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="owned_cases")
    decision = models.CharField(max_length=20, blank=True, choices=[c for c in ReviewStatus.choices if c[0]])
    opened_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # A new alert joins the customer's open case: there must be only one to join.
            models.UniqueConstraint(fields=["customer"], condition=models.Q(status="open"),
                                    name="one_open_case_per_customer"),
        ]

    def __str__(self):
        return f"Case {self.pk}: {self.customer.full_name} ({self.get_status_display()})"


class CaseNote(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    author_username = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    written_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["written_at", "id"]


class Alert(models.Model):
    """An alert (a FRAUD verdict) as operators work it: who holds it, in which case, and how it
    stands. Every FRAUD verdict has one, made when the verdict is stored (alerts.signals); the
    verdict itself is never changed."""

    verdict = models.OneToOneField(Verdict, on_delete=models.CASCADE, primary_key=True, related_name="alert")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="held_alerts")
    held_since = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    # Open until an operator decides: the latest decision (reviews.py sets both with each
    # AlertReview, which keeps every decision). The database default is for rows inserted by SQL
    # (the benchmarks' fills).
    review_status = models.CharField(max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.OPEN,
                                     db_default=ReviewStatus.OPEN, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [(codename(REVIEW_ALERT), "Can review fraud alerts"),
                       (codename(ASSIGN_ALERT), "Can assign alerts to colleagues"),
                       (codename(VIEW_TEAM), "Can see the team's workload")]
        indexes = [
            # The queue's tabs: the open alerts, and each decision's alerts newest decision first;
            # the counts per status.
            models.Index(fields=["review_status", "reviewed_at"], name="alert_review_status"),
        ]

    def __str__(self):
        return str(self.verdict_id)


class AlertEvent(models.Model):
    """The audit trail of who held an alert: every claim, assignment and release, never edited."""

    class Action(models.TextChoices):
        TAKEN = "taken", "Taken"
        ASSIGNED = "assigned", "Assigned"
        RELEASED = "released", "Released"
        # A team lead decided the alert while a colleague held it (the event's holder_username).
        OVERRIDDEN = "overridden", "Decided over the holder"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_username = models.CharField(max_length=150)
    holder_username = models.CharField(max_length=150, blank=True,
                                       help_text="Who holds the alert afterwards (overridden: who held it).")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.alert_id}: {self.get_action_display()} by {self.actor_username}"
