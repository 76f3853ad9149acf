from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from . import reviews
from .export import verdict_csv_lines
from .models import FRAUD_REASONS, OTHER_REASONS, AlertReview, DeadLetter, Transaction, Verdict


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the system, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReasonFilter(admin.SimpleListFilter):
    """Verdicts where a given reason fired (a verdict can have several)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(reason, reason) for reason in FRAUD_REASONS + OTHER_REASONS]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in FRAUD_REASONS + OTHER_REASONS:  # only known codes reach the regex
            raise IncorrectLookupParameters(f"Unknown reason {self.value()!r}.")
        return queryset.filter(reasons__regex=rf"(^|,){self.value()}(,|$)")


class ReviewInline(admin.TabularInline):
    model = AlertReview
    fields = ["decided_at", "decision", "reviewer_username", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Verdict)
class VerdictAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "user_id", "customer", "status", "reasons", "speed_kmh", "max_speed",
                    "amount", "timestamp", "review_status"]
    list_filter = ["status", "is_fraud", ReasonFilter, "review_status", ("customer", admin.RelatedOnlyFieldListFilter),
                   "timestamp"]
    search_fields = ["transaction_id", "=user_id"]
    date_hierarchy = "timestamp"
    list_select_related = ["customer"]
    inlines = [ReviewInline]

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_csv)
        return [path("export.csv", export, name="transactions_verdict_export"), *super().get_urls()]

    def export_csv(self, request):
        """The changelist's current selection (filters, search, date) as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters as error:
            return HttpResponseBadRequest(f"Cannot export this selection: {error}", content_type="text/plain")
        response = StreamingHttpResponse(verdict_csv_lines(queryset), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="verdicts-{stamp}.csv"'
        return response


class AlertReviewForm(forms.ModelForm):
    class Meta:
        model = AlertReview
        fields = ["verdict", "decision", "comment"]

    def clean(self):
        cleaned = super().clean()
        verdict = cleaned.get("verdict")
        if verdict is not None and (problem := reviews.not_an_alert(verdict)):
            raise forms.ValidationError(problem)
        for field, problems in reviews.validate_review(cleaned.get("decision"), cleaned.get("comment")).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, problems)
        return cleaned


@admin.register(AlertReview)
class AlertReviewAdmin(admin.ModelAdmin):
    """Decisions are added (audited: who and when are set here), never changed or deleted."""

    form = AlertReviewForm
    list_display = ["verdict", "decision", "reviewer_username", "decided_at"]
    list_filter = ["decision", "decided_at"]
    search_fields = ["verdict__transaction_id", "=verdict__user_id", "reviewer_username", "comment"]
    raw_id_fields = ["verdict"]
    readonly_fields = ["reviewer_username", "decided_at"]

    def get_fields(self, request, obj=None):
        return ["verdict", "decision", "comment"] + (["reviewer_username", "decided_at"] if obj else [])

    def has_add_permission(self, request):
        return request.user.has_perm(reviews.REVIEW_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        review = reviews.review_alert(obj.verdict_id, obj.decision, obj.comment, request.user)
        obj.pk, obj.decided_at, obj.reviewer_username = review.pk, review.decided_at, review.reviewer_username


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "customer", "amount", "lat", "lng", "timestamp", "submitted_by", "submitted_at"]
    list_filter = [("customer", admin.RelatedOnlyFieldListFilter), "submitted_at"]
    search_fields = ["transaction_id"]
    list_select_related = ["customer", "submitted_by"]


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "error", "created_at"]
    list_filter = ["topic", "created_at"]
    search_fields = ["error"]
    readonly_fields = ["topic", "partition", "offset", "key_bytes", "value_bytes", "error", "created_at"]
    exclude = ["key", "value"]

    @admin.display(description="key")
    def key_bytes(self, letter):
        return repr(bytes(letter.key)) if letter.key is not None else "(none)"

    @admin.display(description="value")
    def value_bytes(self, letter):
        return repr(bytes(letter.value)) if letter.value is not None else "(none)"
