from django import forms
from django.contrib import admin
from django.urls import reverse

from fraudsite.admin import HistoryAdmin, ReadOnlyAdmin

from transactions.admin import VerdictAdmin

from . import reviews
from .models import Alert, AlertEvent, AlertReview, Case, CaseNote
from .permissions import REVIEW_ALERT


class ReviewInline(admin.TabularInline):
    model = AlertReview
    fields = ["decided_at", "decision", "reviewer_username", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


# A verdict's page shows its decisions, the list its alert's review status (a filter too); they
# are added here so that transactions/ needs no knowledge of the alerts app.
VerdictAdmin.inlines = [*VerdictAdmin.inlines, ReviewInline]
VerdictAdmin.list_display = [*VerdictAdmin.list_display, "alert__review_status"]
VerdictAdmin.list_filter = [*VerdictAdmin.list_filter, "alert__review_status"]
VerdictAdmin.list_select_related = [*VerdictAdmin.list_select_related, "alert"]


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
        if verdict is not None and (alert := Alert.objects.filter(pk=verdict.pk).select_related("holder").first()):
            try:
                reviews.check_hold([alert], self.user)  # (checked again, locked, when recorded)
            except reviews.HeldByColleague as error:
                raise forms.ValidationError(str(error))
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
        return request.user.has_perm(REVIEW_ALERT)

    def get_form(self, request, obj=None, **kwargs):
        return type("AlertReviewForm", (super().get_form(request, obj, **kwargs),), {"user": request.user})

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        review = reviews.review_alert(obj.verdict_id, obj.decision, obj.comment, request.user)
        obj.pk, obj.decided_at, obj.reviewer_username = review.pk, review.decided_at, review.reviewer_username


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    """Who took, assigned and released which alert (written by alerts/claims.py)."""

    list_display = ["alert", "action", "actor_username", "holder_username", "at"]
    list_filter = ["action", "at"]
    search_fields = ["alert__verdict__transaction_id", "actor_username", "holder_username"]


class CaseNoteInline(admin.TabularInline):
    model = CaseNote
    fields = ["written_at", "author_username", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(HistoryAdmin, ReadOnlyAdmin):
    """Cases are worked on their own page (/cases/<id>/); here they are looked up, with their history."""

    list_display = ["pk", "customer", "status", "owner", "decision", "opened_at", "decided_at"]
    list_filter = ["status", "decision"]
    search_fields = ["=customer__user_id", "customer__last_name", "owner__username"]
    inlines = [CaseNoteInline]

    def view_on_site(self, obj):
        return reverse("case-detail", args=[obj.pk])
