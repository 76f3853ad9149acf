"""Named lists of values of one kind (card tokens, merchants, countries, ...), each entry with who
added it, why, and the period it applies in (fraudsite/detection_lists.py says how the detection job
uses them). Every change of an entry, or of a list's effect, weight or suppressed reasons, queues the
values' records on the list-memberships topic in the same database transaction (publishing.py)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from fraudsite.detection_lists import (EVERY_LIST, KINDS, KINDS_BY_NAME, LIST_REASON_PREFIX, MAX_LIST_MEMBERSHIPS,
                                      MAX_LIST_NAME_LENGTH)
from fraudsite.validation import has_control_characters

from .publishing import not_expired, publish_lists, suppressible_reasons
from .values import clean_value

MAX_ENTRY_REASON_LENGTH = 200


class WatchList(models.Model):
    class Effect(models.TextChoices):
        BLOCK = "block", "Block: a match fires list:<name>"
        ALLOW = "allow", "Allow: a match suppresses the reasons named"

    name = models.CharField(
        max_length=MAX_LIST_NAME_LENGTH, unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", "Lower-case letters, digits, '_' and '-'.")],
        help_text=f"Part of the reason code list:<name> (up to {MAX_LIST_NAME_LENGTH} characters).",
    )
    kind = models.CharField(max_length=16, choices=[(kind.name, kind.label) for kind in KINDS],
                            help_text="What its entries are; fixed once it has entries.")
    effect = models.CharField(max_length=8, choices=Effect.choices)
    weight = models.FloatField(
        default=50, validators=[MinValueValidator(0), MaxValueValidator(1000)],
        help_text="Block lists: what a match adds to the verdict's score (the scoring policy's review and "
                  "decline thresholds then band it).")
    suppresses = models.CharField(
        max_length=500, blank=True,
        help_text=f"Allow lists: the reason codes a match suppresses, comma-separated: a signal's (for example "
                  f"velocity_exceeded) or {EVERY_LIST} for every block list's; empty: every reason.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "list"

    def __str__(self):
        return self.name

    @property
    def list_kind(self):
        return KINDS_BY_NAME[self.kind]

    @property
    def reason(self):
        return LIST_REASON_PREFIX + self.name

    def suppressed_reasons(self):
        return [code.strip() for code in self.suppresses.split(",") if code.strip()]

    def clean(self):
        errors = {}
        if self.pk and self.kind != WatchList.objects.filter(pk=self.pk).values_list("kind", flat=True).first() \
                and self.entries.exists():
            errors["kind"] = "A list with entries keeps its kind: make a new list."
        suppressible = suppressible_reasons()
        unknown = [code for code in self.suppressed_reasons() if code not in suppressible]
        if self.effect == self.Effect.ALLOW and unknown:
            errors["suppresses"] = (f"Not a reason an allow list suppresses: {', '.join(unknown)} (one of "
                                    f"{', '.join(suppressible)}).")
        if self.effect == self.Effect.BLOCK and self.suppresses.strip():
            errors["suppresses"] = "Only an allow list suppresses reasons."
        if errors:
            raise ValidationError(errors)
        self.suppresses = ",".join(self.suppressed_reasons())

    def save(self, *args, **kwargs):
        """Save, and queue the records of the list's values (its effect, weight or suppressed reasons
        may have changed) in the same transaction."""
        with publish_lists([self.kind]) as touched:
            super().save(*args, **kwargs)
            touched.update(self.entries.values_list("key", flat=True))

    def delete(self, *args, **kwargs):
        with publish_lists([self.kind]) as touched:
            touched.update(self.entries.values_list("key", flat=True))
            return super().delete(*args, **kwargs)


class ListEntry(models.Model):
    watch_list = models.ForeignKey(WatchList, on_delete=models.CASCADE, related_name="entries", verbose_name="list")
    value = models.CharField(max_length=128, help_text="Spelled as transactions send it (an IP address is normalised).")
    key = models.CharField(max_length=160, editable=False, db_index=True,
                           help_text="The list-memberships topic's key it is published under.")
    reason = models.CharField(max_length=MAX_ENTRY_REASON_LENGTH, help_text="Why it is on the list.")
    starts_at = models.DateTimeField(default=timezone.now, help_text="Applies to transactions from this time.")
    expires_at = models.DateTimeField(null=True, blank=True,
                                      help_text="Stops applying at this time, with nobody acting; empty: never.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["watch_list", "value"]
        verbose_name = "list entry"
        verbose_name_plural = "list entries"
        constraints = [
            models.UniqueConstraint(fields=["watch_list", "value"], name="list_entry_once_per_list"),
            models.CheckConstraint(condition=models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=models.F("starts_at")),
                                   name="list_entry_expires_after_it_starts"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="list_entry_has_a_reason"),
        ]

    def __str__(self):
        return f"{self.watch_list_id and self.watch_list.name}: {self.value}"

    def clean(self):
        errors = {}
        if self.watch_list_id and self.value:
            try:
                self.value = clean_value(self.watch_list.list_kind, self.value)
            except ValueError as error:
                errors["value"] = str(error)
        if has_control_characters(self.reason or ""):
            errors["reason"] = "Must not contain control characters or line breaks."
        elif not (self.reason or "").strip():
            errors["reason"] = "Say why: a reason is required."
        if self.starts_at and self.expires_at and self.expires_at <= self.starts_at:
            errors["expires_at"] = "The expiry must be after the start."
        if not errors and (refusal := self.limit_refusal()):
            errors["value"] = refusal
        if errors:
            raise ValidationError(errors)
        self.reason = self.reason.strip()

    def in_force(self, moment=None):
        moment = moment or timezone.now()
        return self.starts_at <= moment and (self.expires_at is None or moment < self.expires_at)

    def limit_refusal(self):
        """Why this entry would make its value one too many lists' entry at once, or None."""
        now = timezone.now()
        if not self.watch_list_id or (self.expires_at and self.expires_at <= now):
            return None
        others = ListEntry.objects.filter(not_expired(now), key=self.watch_list.list_kind.key(self.value)).exclude(
            pk=self.pk).count()
        if others >= MAX_LIST_MEMBERSHIPS:
            return (f"This value already has {others} entries in force (on lists of this kind); the detection job "
                    f"checks at most {MAX_LIST_MEMBERSHIPS} at once: remove or expire one first.")
        return None

    def save(self, *args, **kwargs):
        """Save, and queue the records of its value (and of its previous value) in the same transaction."""
        self.key = self.watch_list.list_kind.key(self.value)
        with publish_lists([self.watch_list.kind]) as touched:
            touched.add(ListEntry.objects.filter(pk=self.pk).values_list("key", flat=True).first())
            touched.add(self.key)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        with publish_lists([self.watch_list.kind]) as touched:
            touched.add(self.key)
            return super().delete(*args, **kwargs)
