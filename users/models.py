from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from fraudsite import detection_signals
from fraudsite.detection_signals import validate_time_zone  # noqa: F401 (the migrations name it here)
from fraudsite.detection_sql import FRAUD_REASONS, MAX_TRAVEL_NOTICES, SCORING_FIELDS
from fraudsite.permissions import codename
from fraudsite.validation import has_control_characters

from . import publishing
from .permissions import APPROVE_TRAVELNOTICE


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
    # Every signal's thresholds (max_speed, then the further signals', each off while its thresholds
    # are empty), as fraudsite/detection_signals.py declares them. (A class body's locals() is the
    # namespace the model is made from.)
    locals().update(detection_signals.threshold_fields())
    active = models.BooleanField(
        default=True, help_text="Inactive customers are removed from detection and cannot transact."
    )

    # The further signals' thresholds, as published to users-config.
    SIGNAL_FIELDS = publishing.SIGNAL_FIELDS

    objects = CustomerQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["user_id"]
        constraints = detection_signals.threshold_constraints()

    def clean(self):
        if errors := detection_signals.threshold_errors(self):
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


# --- travel notices -----------------------------------------------------------------------

# The longest a travel notice may run (Marble's limit): long trips get a new notice, reviewed again.
MAX_NOTICE_DAYS = 180
# A circle wider than half the earth's circumference covers the whole earth.
MAX_NOTICE_RADIUS_KM = 20_000
MAX_NOTICE_REASON_LENGTH = 500
NOTICE_REGION_FIELDS = ["center_lat", "center_lng", "radius_km"]
# The scope one person may set alone: one signal, within this radius, for at most this many days.
# Broader, a notice is a threshold change in effect and needs a second person (maker-checker):
# it reaches the detection job only once someone else with the approve permission approves it.
NOTICE_SCOPE_MAX_DAYS = 31
NOTICE_SCOPE_MAX_RADIUS_KM = 2_000
# What decides a notice's scope: changing any of them asks for approval again.
NOTICE_SCOPE_FIELDS = ["starts_at", "ends_at", "signal", *NOTICE_REGION_FIELDS]


def within_scope(notice):
    """True when one person may set this notice alone (see NOTICE_SCOPE_MAX_DAYS)."""
    return (notice.signal != "" and notice.radius_km is not None and notice.radius_km <= NOTICE_SCOPE_MAX_RADIUS_KM
            and notice.ends_at - notice.starts_at <= timedelta(days=NOTICE_SCOPE_MAX_DAYS))


class TravelNoticeQuerySet(models.QuerySet):
    """Bulk writes republish the customers concerned in the same transaction, as for customers, and
    ask for approval as save does (a change of scope beyond one person's asks again)."""

    def update(self, **changes):
        with transaction.atomic():
            before = dict(self.values_list("pk", "customer_id"))
            count = super().update(**changes)
            if set(changes) & set(NOTICE_SCOPE_FIELDS):
                for notice in TravelNotice.objects.filter(pk__in=before):
                    notice._set_approval(rescoped=True)
                    # (QuerySet's own update: this one would publish once per notice)
                    super(TravelNoticeQuerySet, TravelNotice.objects.filter(pk=notice.pk)).update(
                        approval=notice.approval, approved_by=notice.approved_by, approved_at=notice.approved_at)
            after = TravelNotice.objects.filter(pk__in=before).values_list("customer_id", flat=True)
            publishing.publish_customers(Customer.objects.filter(pk__in={*before.values(), *after}))
        return count

    def bulk_create(self, objs, *args, **kwargs):
        for notice in objs:
            notice._set_approval(rescoped=True)
        with transaction.atomic():
            created = super().bulk_create(objs, *args, **kwargs)
            publishing.publish_customers(Customer.objects.filter(pk__in={n.customer_id for n in created}))
        return created

    def delete(self):
        with transaction.atomic():
            customer_ids = set(self.values_list("customer_id", flat=True))
            result = super().delete()
            publishing.publish_customers(Customer.objects.filter(pk__in=customer_ids))
        return result


class TravelNotice(models.Model):
    """A customer's travel notice: within [starts_at, ends_at), and within the region when one is
    set, the chosen signal (or every signal) does not make a transaction fraud. The detection job
    applies it from the customer's users-config record; the verdict says suppressed:<reason code>.
    A notice beyond the scope one person may set (within_scope) is published only once approved."""

    class Approval(models.TextChoices):
        NOT_NEEDED = "not_needed", "Within scope: applies at once"
        PENDING = "pending", "Awaiting a second person's approval"
        APPROVED = "approved", "Approved"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="travel_notices")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text=f"Required; at most {MAX_NOTICE_DAYS} days after the start.")
    signal = models.CharField(
        max_length=40, blank=True, default="",
        choices=[("", "All signals"), *((reason, reason) for reason in FRAUD_REASONS)],
        help_text="The fraud reason suppressed; all of them when empty.",
    )
    reason = models.CharField(max_length=MAX_NOTICE_REASON_LENGTH,
                              help_text="Why, for example: customer phoned, travelling in Japan.")
    center_lat = models.FloatField("region: centre latitude", null=True, blank=True,
                                   validators=[MinValueValidator(-90), MaxValueValidator(90)])
    center_lng = models.FloatField("region: centre longitude", null=True, blank=True,
                                   validators=[MinValueValidator(-180), MaxValueValidator(180)])
    radius_km = models.FloatField(
        "region: radius (km)", null=True, blank=True,
        validators=[MinValueValidator(0.001), MaxValueValidator(MAX_NOTICE_RADIUS_KM)],
        help_text="Only transactions within this distance of the centre; everywhere when the region is empty.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    approval = models.CharField(max_length=12, choices=Approval.choices, default=Approval.NOT_NEEDED, editable=False,
                                db_index=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TravelNoticeQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["customer", "starts_at", "id"]
        permissions = [(codename(APPROVE_TRAVELNOTICE), "Can approve travel notices beyond one person's scope")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="travel_notice_ends_after_it_starts"),
            models.CheckConstraint(
                condition=models.Q(ends_at__lte=models.F("starts_at") + timedelta(days=MAX_NOTICE_DAYS)),
                name="travel_notice_at_most_180_days",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="travel_notice_has_a_reason"),
            models.CheckConstraint(
                condition=models.Q(center_lat__isnull=True, center_lng__isnull=True, radius_km__isnull=True)
                # (NULL passes a CHECK, hence the explicit isnull=False)
                | models.Q(center_lat__isnull=False, center_lng__isnull=False, radius_km__isnull=False,
                           center_lat__gte=-90, center_lat__lte=90, center_lng__gte=-180, center_lng__lte=180,
                           radius_km__gt=0, radius_km__lte=MAX_NOTICE_RADIUS_KM),
                name="travel_notice_region_complete",
            ),
        ]

    def __str__(self):
        return f"{self.customer.user_id}: {self.signal or 'all signals'} {self.starts_at:%Y-%m-%d}..{self.ends_at:%Y-%m-%d}"

    def clean(self):
        found = {"ends_at": self._period_error(), "reason": self._reason_error(), "radius_km": self._region_error()}
        errors = {field: error for field, error in found.items() if error}
        if not errors and (refusal := self.limit_refusal()):
            errors["__all__"] = refusal
        if errors:
            raise ValidationError(errors)

    def _period_error(self):
        if not (self.starts_at and self.ends_at):
            return None
        if self.ends_at <= self.starts_at:
            return "The end must be after the start."
        if self.ends_at - self.starts_at > timedelta(days=MAX_NOTICE_DAYS):
            return f"A travel notice runs at most {MAX_NOTICE_DAYS} days."
        if self.pk is None and self.ends_at <= timezone.now():
            return "The end must be in the future."
        return None

    def _reason_error(self):
        if has_control_characters(self.reason or ""):
            return "Must not contain control characters or line breaks."
        if not (self.reason or "").strip():
            return "Say why: a reason is required."
        return None

    def _region_error(self):
        region = [getattr(self, name) for name in NOTICE_REGION_FIELDS]
        if any(value is None for value in region) and any(value is not None for value in region):
            return "Set the centre and the radius of the region, or none of them (everywhere)."
        return None

    def limit_refusal(self):
        """Why this notice would be one too many in force for its customer, or None."""
        if self.customer_id and self.ends_at and self.ends_at > timezone.now():
            others = notices_in_force(self.customer_id).exclude(pk=self.pk).count()
            if others >= MAX_TRAVEL_NOTICES:
                return (f"The customer already has {others} travel notices in force; at most "
                        f"{MAX_TRAVEL_NOTICES} at once: end one first.")
        return None

    def save(self, *args, **kwargs):
        """Save, and queue the customer's users-config record (with its notices in effect) in the same
        transaction. A notice beyond one person's scope waits for approval, again after any change of scope."""
        with transaction.atomic():
            # One notice change at a time per customer, so that two at once cannot pass the limit
            # together: the limit is checked again under the lock (clean() ran before it).
            customer = Customer.objects.select_for_update().get(pk=self.customer_id)
            if refusal := self.limit_refusal():
                raise ValidationError({"__all__": [refusal]})
            self._set_approval()
            super().save(*args, **kwargs)
            publishing.publish_customers([customer])

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            customer = Customer.objects.select_for_update().get(pk=self.customer_id)
            result = super().delete(*args, **kwargs)
            publishing.publish_customers([customer])
        return result

    def _set_approval(self, rescoped=None):
        """rescoped: whether the scope changed since the last save (None: compare with the saved row)."""
        if within_scope(self):
            self.approval, self.approved_by, self.approved_at = self.Approval.NOT_NEEDED, None, None
            return
        if rescoped is None:
            saved = TravelNotice.objects.filter(pk=self.pk).values(*NOTICE_SCOPE_FIELDS).first()
            rescoped = saved != {name: getattr(self, name) for name in NOTICE_SCOPE_FIELDS}
        if self.approval != self.Approval.APPROVED or rescoped:
            self.approval, self.approved_by, self.approved_at = self.Approval.PENDING, None, None

    @property
    def region(self):
        return None if self.radius_km is None else (self.center_lat, self.center_lng, self.radius_km)


def notices_in_force(customer_ids, now=None):
    """The travel notices of these customers (a pk or a list) that have not ended, oldest start first
    (awaiting approval or not: they count towards the limit)."""
    ids = customer_ids if isinstance(customer_ids, (list, tuple, set)) else [customer_ids]
    return TravelNotice.objects.filter(customer_id__in=ids, ends_at__gt=now or timezone.now()).order_by(
        "customer_id", "starts_at", "id")


def notices_in_effect(customer_ids, now=None):
    """The notices in force that the detection job applies: not those awaiting approval."""
    return notices_in_force(customer_ids, now).exclude(approval=TravelNotice.Approval.PENDING)


class ScoringPolicy(models.Model):
    """How verdicts are scored and banded: a weight per fraud reason (the score is the sum of the
    weights of the reasons that fired and were not suppressed) and two thresholds mapping the score
    to approve / review / decline. One row; published with every customer's users-config record so
    that the detection job computes score and outcome, and a change applies to later transactions
    only (a verdict keeps the score it was given)."""

    # One weight per reason of FRAUD_REASONS, with its signal's default, and the two outcome
    # thresholds (fraudsite/detection_signals.py): SCORING_FIELDS names them.
    locals().update(detection_signals.scoring_policy_fields())
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "scoring policy"
        constraints = [models.CheckConstraint(condition=models.Q(decline_from__gte=models.F("review_from")),
                                              name="scoring_decline_from_review")]

    def __str__(self):
        return "Scoring policy"

    def clean(self):
        if self.review_from is not None and self.decline_from is not None and self.decline_from < self.review_from:
            raise ValidationError({"decline_from": "Must be at least the review threshold."})

    @classmethod
    def current(cls):
        """The policy in force: the saved one (a migration makes it), else the defaults (unsaved)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    def published_fields(self):
        """The policy as each users-config record carries it."""
        return {name: getattr(self, name) for name in SCORING_FIELDS}

    def save(self, *args, **kwargs):
        """Save, and queue every active customer's record with the new policy in the same transaction."""
        self.pk = 1
        with transaction.atomic():
            super().save(*args, **kwargs)
            publishing.publish_customers(Customer.objects.filter(active=True))
