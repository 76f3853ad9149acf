from django.contrib import admin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """What was and what is still to be produced to Kafka; written only by the changes themselves."""

    list_display = ["id", "topic", "key", "created_at", "sent_at", "attempts", "last_error"]
    ordering = ["-id"]  # the latest first
    list_filter = ["topic", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
