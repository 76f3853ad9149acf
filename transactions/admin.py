from django.contrib import admin

from .models import DeadLetter, Transaction, Verdict


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the system, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Verdict)
class VerdictAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "user_id", "customer", "status", "reason", "speed_kmh", "max_speed",
                    "amount", "timestamp"]
    list_filter = ["status", "is_fraud", "reason", ("customer", admin.RelatedOnlyFieldListFilter), "timestamp"]
    search_fields = ["transaction_id", "=user_id"]
    date_hierarchy = "timestamp"
    list_select_related = ["customer"]


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
