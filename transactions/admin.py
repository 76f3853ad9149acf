import json

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from fraudsite.admin import BoundedChangeList, ReadOnlyAdmin
from fraudsite.detection_sql import FRAUD_REASONS, OTHER_REASONS, SUPPRESSED_REASONS

from .export import verdict_csv_lines
from .models import DeadLetter, Transaction, Verdict, VerdictConflict
from .verdicts import CONTENT_FIELDS, differing_fields, model_values

REASONS = FRAUD_REASONS + SUPPRESSED_REASONS + OTHER_REASONS


class ReasonFilter(admin.SimpleListFilter):
    """Verdicts where a given reason fired (a verdict can have several)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(reason, reason) for reason in REASONS]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in REASONS:  # only known codes reach the regex
            raise IncorrectLookupParameters(f"Unknown reason {self.value()!r}.")
        return queryset.filter(reasons__regex=rf"(^|,){self.value()}(,|$)")


@admin.register(Verdict)
class VerdictAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "user_id", "customer", "status", "reasons", "speed_kmh", "max_speed",
                    "amount", "timestamp"]
    list_filter = ["status", "is_fraud", ReasonFilter, ("customer", admin.RelatedOnlyFieldListFilter), "timestamp"]
    search_fields = ["transaction_id", "=user_id"]
    date_hierarchy = "timestamp"
    list_select_related = ["customer"]

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList

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


@admin.register(VerdictConflict)
class VerdictConflictAdmin(ReadOnlyAdmin):
    """Redelivered verdicts that differ from the stored one: never applied, shown beside it."""

    list_display = ["transaction_id", "differs_in", "kafka_topic", "kafka_partition", "kafka_offset", "recorded_at"]
    list_filter = ["recorded_at"]
    search_fields = ["transaction_id"]
    list_select_related = ["verdict"]
    readonly_fields = ["transaction_id", "verdict", "differs_in", "record_json", "kafka_topic", "kafka_partition",
                       "kafka_offset", "recorded_at"]
    exclude = ["record"]

    @admin.display(description="differs in")
    def differs_in(self, conflict):
        stored = {name: getattr(conflict.verdict, name) for name in CONTENT_FIELDS}
        return ", ".join(differing_fields(stored, model_values(conflict.record)))

    @admin.display(description="record (as received)")
    def record_json(self, conflict):
        in_schema_order = {name: conflict.record[name] for name in CONTENT_FIELDS if name in conflict.record}
        return format_html("<pre>{}</pre>", json.dumps(in_schema_order, indent=2))
