"""What the apps' admins share (not an app: nothing is registered here)."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.http import Http404
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
    bad lookup (?timestamp__year=9999 made Django compute the year after it, which no date holds)."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error
