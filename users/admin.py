from types import SimpleNamespace

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q
from django.shortcuts import redirect
from django.utils.html import format_html

from fraudsite import detection_signals
from fraudsite.admin import HistoryAdmin
from fraudsite.detection_sql import SCORING_FIELDS

from . import notices
from .models import Customer, ScoringPolicy, TravelNotice, publication_state
from .permissions import APPROVE_TRAVELNOTICE
from .publishing import publish_customers, with_publication_state


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
    actions = ["republish"]
    inlines = [TravelNoticeInline]
    fieldsets = [
        (None, {"fields": ["user_id", "first_name", "last_name", "max_speed", "active"]}),
        ("Further signals (each off while empty)", {"fields": [
            tuple(threshold.name for threshold in signal.thresholds) for signal in detection_signals.further_signals()
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
