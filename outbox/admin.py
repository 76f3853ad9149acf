from django.contrib import admin

from fraudsite.admin import ReadOnlyAdmin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """What was and what is still to be produced to Kafka; written only by the changes themselves."""

    list_display = ["id", "topic", "key", "created_at", "sent_at", "attempts", "last_error"]
    ordering = ["-id"]  # the latest first
    list_filter = ["topic", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["key"]
