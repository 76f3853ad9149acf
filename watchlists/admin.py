from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from fraudsite.admin import HistoryAdmin

from .imports import InvalidImport, import_entries
from .models import ListEntry, WatchList
from .permissions import ADD_LISTENTRY, CHANGE_LISTENTRY
from .publishing import publish_lists


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8: a header line naming value and reason, and optionally starts_at and "
                                     "expires_at (ISO 8601 with a zone; empty: now, and never).")


@admin.register(WatchList)
class WatchListAdmin(HistoryAdmin):
    list_display = ["name", "kind", "effect", "weight", "suppresses", "entries_in_force", "import_link"]
    list_filter = ["kind", "effect"]
    search_fields = ["name", "description"]
    fields = ["name", "kind", "effect", "weight", "suppresses", "description"]

    def get_queryset(self, request):
        now = timezone.now()
        in_force = Q(entries__starts_at__lte=now) & (Q(entries__expires_at__isnull=True) | Q(entries__expires_at__gt=now))
        return super().get_queryset(request).annotate(in_force=Count("entries", filter=in_force))

    @admin.display(description="entries in force", ordering="in_force")
    def entries_in_force(self, watch_list):
        return watch_list.in_force

    @admin.display(description="")
    def import_link(self, watch_list):
        return format_html('<a href="{}">Import CSV</a>', reverse("admin:watchlists_watchlist_import", args=[watch_list.pk]))

    def delete_queryset(self, request, queryset):
        for watch_list in queryset:
            watch_list.delete()  # (republishes its values)

    def get_urls(self):
        return [path("<int:pk>/import/", self.admin_site.admin_view(self.import_view), name="watchlists_watchlist_import"),
                *super().get_urls()]

    def import_view(self, request, pk):
        if not (request.user.has_perm(ADD_LISTENTRY) and request.user.has_perm(CHANGE_LISTENTRY)):
            raise PermissionDenied
        watch_list = get_object_or_404(WatchList, pk=pk)
        form = ImportForm(request.POST or None, request.FILES or None)
        errors = {}
        if form.is_valid():
            try:
                added, changed = import_entries(watch_list, form.cleaned_data["file"].read().decode("utf-8-sig"),
                                                request.user)
            except UnicodeDecodeError:
                form.add_error("file", "Not UTF-8 text.")
            except InvalidImport as error:
                errors = error.errors
            else:
                self.message_user(request, f"List {watch_list}: {added} added, {changed} changed.")
                return redirect(f"{reverse('admin:watchlists_listentry_changelist')}?watch_list__id__exact={pk}")
        return TemplateResponse(request, "admin/watchlists/watchlist/import.html", {
            **self.admin_site.each_context(request), "title": f"Import entries into {watch_list}", "form": form,
            "watch_list": watch_list, "errors": sorted(errors.items(), key=lambda item: _line_order(item[0])),
            "opts": self.model._meta})


def _line_order(where):
    number = where.removeprefix("line ")
    return (0, int(number)) if number.isdigit() else (-1, 0)


@admin.register(ListEntry)
class ListEntryAdmin(HistoryAdmin):
    list_display = ["value", "watch_list", "reason", "starts_at", "expires_at", "in_force", "created_by"]
    list_filter = ["watch_list", "watch_list__kind"]
    search_fields = ["value", "reason"]
    list_select_related = ["watch_list", "created_by"]
    fields = ["watch_list", "value", "reason", "starts_at", "expires_at", "created_by", "key"]
    readonly_fields = ["created_by", "key"]
    date_hierarchy = "starts_at"

    @admin.display(boolean=True, description="in force now")
    def in_force(self, entry):
        return entry.in_force()

    def save_model(self, request, entry, form, change):
        if not change:
            entry.created_by = request.user
        super().save_model(request, entry, form, change)

    def delete_queryset(self, request, queryset):
        entries = list(queryset.select_related("watch_list"))
        with publish_lists({entry.watch_list.kind for entry in entries}) as touched:
            touched.update(entry.key for entry in entries)
            queryset.delete()
