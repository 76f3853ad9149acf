from csp.decorators import csp_update
from django.contrib import admin, messages
from django.db import transaction
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from .models import Customer, PendingTombstone
from .publishing import publish_customer


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["user_id", "first_name", "last_name", "max_speed", "active", "users_config"]
    list_filter = ["active", "sync_state"]
    search_fields = ["user_id", "first_name", "last_name"]
    readonly_fields = ["sync_state", "sync_error", "synced_at"]
    history_list_display = ["max_speed", *Customer.SIGNAL_FIELDS, "active"]
    actions = ["republish"]
    fieldsets = [
        (None, {"fields": ["user_id", "first_name", "last_name", "max_speed", "active"]}),
        ("Further signals (each off while empty)", {"fields": [
            ("velocity_max_transactions", "velocity_window_minutes"), "spend_factor",
            ("usual_hour_start", "usual_hour_end"), "time_zone",
        ]}),
        ("users-config topic", {"fields": ["sync_state", "sync_error", "synced_at"]}),
    ]

    class Media:
        css = {"all": ["users/admin.css"]}

    # django-simple-history's history page has one style attribute (its paginator's border): style
    # attributes, and only on this page, may stay; scripts stay as strict as everywhere.
    @method_decorator(csp_update({"style-src-attr": ["'unsafe-inline'"]}))
    def history_view(self, request, object_id, extra_context=None):
        return super().history_view(request, object_id, extra_context)

    @admin.display(description="users-config", ordering="sync_state")
    def users_config(self, customer):
        return format_html(
            '<span class="sync-{}" title="{}">{}</span>',
            customer.sync_state, customer.sync_error, customer.get_sync_state_display(),
        )

    @admin.action(description="Republish selected customers to users-config")
    def republish(self, request, queryset):
        outcomes = [publish_customer(pk) for pk in queryset.values_list("pk", flat=True)]
        if all(outcomes):
            self.message_user(request, f"{len(outcomes)} customer(s) published.")
        else:
            self.message_user(
                request,
                f"{outcomes.count(False)} of {len(outcomes)} could not be published; see the sync column.",
                messages.ERROR,
            )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Publishing runs after commit; tell the operator when it did not reach Kafka.
        def report():
            obj.refresh_from_db()
            if obj.sync_state == Customer.SyncState.FAILED:
                self.message_user(
                    request,
                    f"Saved, but not yet published to users-config: {obj.sync_error}. "
                    "It is retried by 'manage.py sync_customers'.",
                    messages.WARNING,
                )
        transaction.on_commit(report)


@admin.register(PendingTombstone)
class PendingTombstoneAdmin(admin.ModelAdmin):
    list_display = ["user_id", "created_at", "error"]
    readonly_fields = ["user_id", "created_at", "error"]

    def has_add_permission(self, request):
        return False
