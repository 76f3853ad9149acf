"""What the apps' admins share (not an app: nothing is registered here)."""

from datetime import datetime, time

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.decorators import method_decorator
from simple_history.admin import SimpleHistoryAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the system, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def require_id(model, value):
    """value (as the admin's URL quotes it) as an id of model, else a 404 that says so: the history
    pages look ids up unchecked, and "abc" for a number was a ValueError (a 500)."""
    try:
        model._meta.pk.to_python(unquote(value))
    except ValidationError:
        raise Http404(f"No {model._meta.verbose_name} has the id {unquote(value)[:40]!r}.") from None


class HistoryAdmin(SimpleHistoryAdmin):
    """django-simple-history's admin (the audit trail's pages), for every app."""

    # Its history page has one style attribute (its paginator's border): style attributes, and
    # only on this page, may stay; scripts stay as strict as everywhere.
    @method_decorator(csp_update({"style-src-attr": ["'unsafe-inline'"]}))
    def history_view(self, request, object_id, extra_context=None):
        require_id(self.model, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        require_id(self.model, object_id)
        require_id(self.model.history.model, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class BoundedChangeList(ChangeList):
    """Django's change list, with a date hierarchy at the calendar's end refused like any other
    bad lookup (?timestamp__year=9999 made Django compute the year after it, which no date holds),
    and a date or time typed into the address without a zone (?received_at__gte=2026-12-01) read
    in the site's time zone, as the admin's own date filters write theirs (passed on naive, Django
    warned and guessed)."""

    COMPARISONS = {"exact", "gt", "gte", "lt", "lte"}

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        for key, values in lookup_params.items():
            if self._compares_a_datetime_field(key):
                lookup_params[key] = [_with_the_sites_zone(value) for value in values]
        return lookup_params

    def _compares_a_datetime_field(self, key):
        name, _, comparison = key.partition("__")
        if (comparison or "exact") not in self.COMPARISONS:
            return False
        try:
            return isinstance(self.model._meta.get_field(name), models.DateTimeField)
        except FieldDoesNotExist:
            return False


def _with_the_sites_zone(value):
    """An ISO date or date-time without a zone, as an aware one in the current time zone; any other
    value unchanged (a wrong one is then refused by the lookup as before)."""
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time())
    except ValueError:  # well formed but not a date (2026-13-01)
        return value
    if moment is None or timezone.is_aware(moment):
        return value
    return timezone.make_aware(moment).isoformat()
