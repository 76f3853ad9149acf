from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from fraudsite.admin import HistoryAdmin, require_id
from fraudsite.detection_sql import SCORING_FIELDS
from fraudsite.flink_client import unavailable as replay_unavailable

from . import notices, proposals, replay
from .models import DEFAULT_REPLAY_DAYS, MAX_REPLAY_DAYS, Customer, Proposal, ScoringPolicy, TravelNotice, publication_state
from .permissions import ADD_PROPOSAL, APPROVE_PROPOSAL, APPROVE_TRAVELNOTICE, CHANGE_PROPOSAL
from .publishing import publish_customers, with_publication_state
from .thresholds import OFF, THRESHOLD_FIELDS, InvalidThresholds, parse_threshold


class PublicationFilter(admin.SimpleListFilter):
    title = "users-config"
    parameter_name = "users_config"

    def lookups(self, request, model_admin):
        return Customer.SyncState.choices

    def queryset(self, request, queryset):
        unsent = Q(publication_id__isnull=False, publication_sent_at__isnull=True)
        conditions = {
            Customer.SyncState.SYNCED: ~unsent,
            Customer.SyncState.PENDING: unsent & Q(publication_attempts=0),
            Customer.SyncState.FAILED: unsent & Q(publication_attempts__gt=0),
        }
        return queryset.filter(conditions[self.value()]) if self.value() in conditions else queryset


# The fields of a travel notice's form, in the admin page and the customer's inline alike.
NOTICE_FIELDS = ["starts_at", "ends_at", "signal", "reason", "center_lat", "center_lng", "radius_km"]


class TravelNoticeInline(admin.TabularInline):
    """A customer's travel notices on the customer's page (each save republishes the customer)."""

    model = TravelNotice
    fields = NOTICE_FIELDS + ["created_by", "approval"]
    readonly_fields = ["created_by", "approval"]
    extra = 0
    ordering = ["-starts_at"]


@admin.register(Customer)
class CustomerAdmin(HistoryAdmin):
    list_display = ["user_id", "first_name", "last_name", "max_speed", "active", "users_config"]
    list_filter = ["active", PublicationFilter]
    search_fields = ["user_id", "first_name", "last_name"]
    readonly_fields = ["users_config", "users_config_error"]
    history_list_display = ["max_speed", *Customer.SIGNAL_FIELDS, "active"]
    actions = ["republish", "propose_thresholds"]
    inlines = [TravelNoticeInline]
    fieldsets = [
        (None, {"fields": ["user_id", "first_name", "last_name", "max_speed", "active"]}),
        ("Further signals (each off while empty)", {"fields": [
            ("velocity_max_transactions", "velocity_window_minutes"), "spend_factor",
            ("usual_hour_start", "usual_hour_end"), "time_zone",
        ]}),
        ("users-config topic", {"fields": ["users_config", "users_config_error"]}),
    ]

    class Media:
        css = {"all": ["users/admin.css"]}

    def get_queryset(self, request):
        return with_publication_state(super().get_queryset(request))

    def save_formset(self, request, form, formset, change):
        for notice_form in formset.forms:
            if notice_form.instance.pk is None:
                notice_form.instance.created_by = request.user
        super().save_formset(request, form, formset, change)

    @admin.display(description="users-config")
    def users_config(self, customer):
        latest = None if customer.publication_id is None else SimpleNamespace(
            sent_at=customer.publication_sent_at, attempts=customer.publication_attempts)
        state = publication_state(latest)
        title = customer.publication_error or (f"sent {customer.publication_sent_at:%Y-%m-%d %H:%M:%S}"
                                              if customer.publication_sent_at else "")
        return format_html('<span class="sync-{}" title="{}">{}</span>', state, title, state.label)

    @admin.display(description="last error")
    def users_config_error(self, customer):
        return "" if customer.publication_sent_at else customer.publication_error or ""

    @admin.action(description="Republish selected customers to users-config")
    def republish(self, request, queryset):
        with transaction.atomic():
            publish_customers(queryset)
        self.message_user(request, f"{queryset.count()} customer(s) queued for users-config.")

    @admin.action(description="Propose thresholds for the selected customers", permissions=["propose"])
    def propose_thresholds(self, request, queryset):
        """An intermediate page: the thresholds to change and why; saving makes a draft proposal
        (nothing changes until a second person approves it after its replay)."""
        warn_if_replay_unavailable(request)
        form = ProposalForm(request.POST if "propose" in request.POST else None)
        if form.is_valid():
            try:
                proposal = proposals.propose_for(queryset, form.changes, author=request.user,
                                                 reason=form.cleaned_data["reason"],
                                                 replay_days=form.cleaned_data["replay_days"])
            except InvalidThresholds as error:
                form.add_error(None, [f"{who}: {' '.join(m for ms in fields.values() for m in ms)}"
                                      for who, fields in error.errors.items()])
            else:
                self.message_user(request, f"Draft proposal {proposal.pk} saved; replay it before approval.")
                return redirect("admin:users_proposal_change", proposal.pk)
        return TemplateResponse(request, "admin/users/customer/propose_thresholds.html", {
            **self.admin_site.each_context(request), "title": "Propose thresholds", "form": form,
            "customers": queryset, "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})

    def has_propose_permission(self, request):
        return request.user.has_perm(ADD_PROPOSAL)


@admin.register(TravelNotice)
class TravelNoticeAdmin(HistoryAdmin):
    list_display = ["customer", "starts_at", "ends_at", "signal", "reason", "radius_km", "created_by", "approval"]
    list_filter = ["approval", "signal", "ends_at"]
    search_fields = ["customer__user_id", "customer__last_name", "reason"]
    autocomplete_fields = ["customer"]
    list_select_related = ["customer", "created_by"]
    readonly_fields = ["created_by", "created_at", "approval", "approved_by", "approved_at"]
    history_list_display = [*NOTICE_FIELDS, "approval"]
    actions = ["approve"]
    fieldsets = [
        (None, {"fields": ["customer", ("starts_at", "ends_at"), "signal", "reason"]}),
        ("Region (empty: everywhere)", {"fields": [("center_lat", "center_lng", "radius_km")]}),
        (None, {"fields": ["created_by", "created_at", ("approval", "approved_by", "approved_at")]}),
    ]

    @admin.action(description="Approve the selected travel notices (puts them into effect)", permissions=["approve"])
    def approve(self, request, queryset):
        for notice in queryset:
            try:
                notices.approve_travel_notice(notice, user=request.user)
            except notices.NoticeRefused as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Travel notice {notice.pk} approved: published to the job.")

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_TRAVELNOTICE)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ScoringPolicy)
class ScoringPolicyAdmin(HistoryAdmin):
    """The one scoring policy: saving it republishes every active customer with it (see the model)."""

    history_list_display = SCORING_FIELDS
    fieldsets = [
        ("Weights: what each fraud reason adds to the score", {"fields": SCORING_FIELDS[:-2]}),
        ("Outcome: approve below review, decline from decline", {"fields": SCORING_FIELDS[-2:]}),
    ]

    def has_add_permission(self, request):
        return not ScoringPolicy.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """The list of one: straight to its page."""
        if not ScoringPolicy.objects.exists():
            return redirect("admin:users_scoringpolicy_add")
        return redirect("admin:users_scoringpolicy_change", ScoringPolicy.current().pk)


def warn_if_replay_unavailable(request):
    """Say on the page, before anyone drafts a proposal, when proposals cannot be replayed (and so
    never approved) with this deployment's settings (fraudsite/flink_client.py)."""
    if request.method == "GET" and replay_unavailable():
        messages.warning(request, f"No proposal can be replayed here, so none can be approved: {replay_unavailable()}")


class DraftForm(forms.Form):
    """What every way of drafting a proposal asks: why, and how many days its replay judges (left
    empty: the default)."""

    reason = forms.CharField(max_length=500)
    replay_days = forms.IntegerField(min_value=1, max_value=MAX_REPLAY_DAYS, initial=DEFAULT_REPLAY_DAYS,
                                     required=False, label="Replay window (days)")


class ProposalForm(DraftForm):
    """The thresholds to change for a selection: an empty field stays as it is, 'off' turns an
    optional signal off. Values are parsed by the customer's own fields (users/thresholds.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in THRESHOLD_FIELDS:
            field = Customer._meta.get_field(name)
            self.fields[name] = forms.CharField(
                label=field.verbose_name, required=False,
                help_text=f"empty: unchanged{f'; {OFF}: signal off' if field.null else ''}")

    def clean(self):
        data = super().clean()
        self.changes = {}
        for name in THRESHOLD_FIELDS:
            text = data.get(name, "")
            if text.strip():
                try:
                    self.changes[name] = parse_threshold(name, text)
                except ValueError as error:
                    self.add_error(name, str(error))
        if not self.changes and not self.errors:
            raise forms.ValidationError("Change at least one threshold.")
        return data


class ProposalUploadForm(DraftForm):
    file = forms.FileField(help_text="CSV: a user_id column and one column per threshold to change "
                                     f"({', '.join(THRESHOLD_FIELDS)}); '{OFF}' or empty turns a signal off.")


@admin.register(Proposal)
class ProposalAdmin(HistoryAdmin):
    """Proposals: drafted from the customers' action or a CSV upload, replayed, then approved or
    rejected by someone else (the buttons of the proposal's page)."""

    list_display = ["__str__", "author", "created_at", "status", "reason", "decided_by"]
    list_filter = ["status"]
    search_fields = ["reason", "author__username"]
    history_list_display = ["status", "decided_by", "decision_reason"]
    fields = ["author", "created_at", "reason", "status", "replay_days", "decided_by", "decided_at",
              "decision_reason"]
    readonly_fields = fields
    change_form_template = "admin/users/proposal/change_form.html"
    change_list_template = "admin/users/proposal/change_list.html"

    class Media:
        css = {"all": ["users/admin.css"]}
        js = ["users/proposal.js"]

    def has_add_permission(self, request):
        return False  # drafted from the customers' action or a CSV upload (with their own checks)

    def has_delete_permission(self, request, obj=None):
        return False  # audited: rejected, never removed

    def changelist_view(self, request, extra_context=None):
        warn_if_replay_unavailable(request)
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = lambda fn: self.admin_site.admin_view(require_POST(fn))  # noqa: E731
        return [
            path("upload/", self.admin_site.admin_view(self.upload), name="users_proposal_upload"),
            path("<int:pk>/progress/", self.admin_site.admin_view(self.progress), name="users_proposal_progress"),
            path("<int:pk>/replay/", view(self.start_replay), name="users_proposal_replay"),
            path("<int:pk>/approve/", view(self.approve), name="users_proposal_approve"),
            path("<int:pk>/reject/", view(self.reject), name="users_proposal_reject"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        require_id(Proposal, object_id)
        proposal = get_object_or_404(Proposal, pk=object_id)
        result = proposal.replay_result or {}
        customers = Customer.objects.in_bulk(proposal.user_ids, field_name="user_id")
        changes = [{"user_id": user_id, "changes": [
            (name, getattr(customers.get(user_id), name, None), value) for name, value in fields.items()]}
            for user_id, fields in sorted(proposal.changes.items())[:200]]
        return super().change_view(request, object_id, form_url, {
            **(extra_context or {}), "proposal": proposal, "result": result, "changes": changes,
            "more_changes": max(0, len(proposal.changes) - 200),
            "per_reason": sorted((result.get("per_reason") or {}).items()),
            "can_decide": request.user.has_perm(APPROVE_PROPOSAL),
            "can_replay": request.user.has_perm(ADD_PROPOSAL) or request.user.has_perm(CHANGE_PROPOSAL),
        })

    def upload(self, request):
        if not request.user.has_perm(ADD_PROPOSAL):
            raise PermissionDenied
        warn_if_replay_unavailable(request)
        form = ProposalUploadForm(request.POST or None, request.FILES or None)
        row_errors = {}
        if form.is_valid():
            try:
                changes = proposals.changes_from_csv(form.cleaned_data["file"].read().decode("utf-8-sig"))
                proposal = proposals.create_proposal(author=request.user, reason=form.cleaned_data["reason"],
                                                     replay_days=form.cleaned_data["replay_days"], changes=changes)
            except UnicodeDecodeError:
                form.add_error("file", "Not UTF-8 text.")
            except InvalidThresholds as error:
                row_errors = {who: [f"{field}: {' '.join(ms)}" for field, ms in fields.items()]
                              for who, fields in error.errors.items()}
            else:
                self.message_user(request, f"Draft proposal {proposal.pk} saved ({len(changes)} customers).")
                return redirect("admin:users_proposal_change", proposal.pk)
        return TemplateResponse(request, "admin/users/proposal/upload.html", {
            **self.admin_site.each_context(request), "title": "Upload a threshold proposal (CSV)", "form": form,
            "row_errors": sorted(row_errors.items()), "opts": self.model._meta})

    def progress(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        proposal = get_object_or_404(Proposal, pk=pk)
        return JsonResponse({"status": proposal.status, "percent": proposal.replay_progress,
                             "message": proposal.replay_message})

    def _decide(self, request, pk, decide, success):
        proposal = get_object_or_404(Proposal, pk=pk)
        try:
            decide(proposal)
        except proposals.ProposalRefused as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, success)
        return redirect(reverse("admin:users_proposal_change", args=[pk]))

    def start_replay(self, request, pk):
        if not (request.user.has_perm(ADD_PROPOSAL) or request.user.has_perm(CHANGE_PROPOSAL)):
            raise PermissionDenied
        return self._decide(request, pk, lambda p: replay.start_replay(p.pk), "Replay started.")

    def approve(self, request, pk):
        return self._decide(request, pk, lambda p: proposals.approve(p, user=request.user),
                            "Approved: the thresholds are published to users-config.")

    def reject(self, request, pk):
        return self._decide(request, pk, lambda p: proposals.reject(p, user=request.user,
                                                                   reason=request.POST.get("reason", "")),
                            "Rejected.")
