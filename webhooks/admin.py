from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.html import format_html

from fraudsite.admin import HistoryAdmin, ReadOnlyAdmin

from . import deliveries, targets
from .models import Delivery, DeliveryAttempt, Endpoint, EventType
from .permissions import CHANGE_DELIVERY


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Endpoint
        fields = ["url", "description", "event_types", "active"]


@admin.register(Endpoint)
class EndpointAdmin(HistoryAdmin):
    """Endpoints with their event types; the signing secret is made here and shown once."""

    form = EndpointForm
    list_display = ["shown_url", "description", "subscriptions", "active", "created_at"]
    list_filter = ["active"]

    @admin.display(description="URL")
    def shown_url(self, endpoint):
        return endpoint.shown_url

    @admin.display(description="event types")
    def subscriptions(self, endpoint):
        return ", ".join(EventType(value).label for value in endpoint.event_types if value in EventType.values)

    def response_add(self, request, obj, post_url_continue=None):
        # The secret goes into this page only: not into a message (a cookie), a log or the history.
        return TemplateResponse(request, "webhooks/endpoint_created.html", {
            **self.admin_site.each_context(request), "endpoint": obj, "opts": self.opts,
            "title": "Endpoint created: copy its signing secret"})


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["at", "status_code", "error", "reply", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="start of the reply")
    def reply(self, attempt):
        # Sanitised again when shown: attempts stored before excerpts were shortened hold more.
        return targets.excerpt(attempt.response_excerpt)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"
    STATES = {
        "pending": {"delivered_at": None, "given_up_at": None, "attempts": 0},
        "retrying": {"delivered_at": None, "given_up_at": None, "attempts__gt": 0},
        "delivered": {"delivered_at__isnull": False},
        "given_up": {"given_up_at__isnull": False, "delivered_at": None},
    }

    def lookups(self, request, model_admin):
        return [(state, state.replace("_", " ").capitalize()) for state in self.STATES]

    def queryset(self, request, queryset):
        return queryset.filter(**self.STATES[self.value()]) if self.value() in self.STATES else queryset


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every event sent or to send, with each attempt and the receiver's answer."""

    list_display = ["id", "endpoint", "event_type", "ordering_key", "event_id", "state_label", "attempts",
                    "created_at", "next_attempt_at", "delivered_at"]
    list_filter = ["endpoint", "event_type", StateFilter]
    search_fields = ["=event_id", "=ordering_key"]
    ordering = ["-id"]  # the latest first
    fields = ["endpoint", "event_type", "event_id", "ordering_key", "state_label", "created_at", "attempts",
              "next_attempt_at", "delivered_at", "given_up_at", "body"]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["retry"]

    @admin.display(description="state")
    def state_label(self, delivery):
        return delivery.state

    @admin.display(description="body sent")
    def body(self, delivery):
        return format_html("<pre>{}</pre>", deliveries.body(delivery).decode())

    def has_retry_permission(self, request):
        return request.user.has_perm(CHANGE_DELIVERY)

    @admin.action(description="Retry now (given-up or waiting deliveries)", permissions=["retry"])
    def retry(self, request, queryset):
        self.message_user(request, f"{deliveries.retry_now(queryset)} delivery(ies) due now.")
