"""Response headers the whole site needs."""

from django.http import HttpResponseBadRequest
from django.utils.cache import add_never_cache_headers

from .validation import has_control_characters


class NoStoreForSignedInUsers:
    """Pages for a signed-in user (alerts, customers, the admin) are never kept by a browser or
    proxy cache: `Cache-Control: no-store` unless the view chose a policy itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


class RejectControlCharactersInQuery:
    """A query string with a control character (a NUL, which PostgreSQL cannot compare, or any
    other) is a 400 before any view or admin filter puts it in a query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for key, values in request.GET.lists():
            if any(has_control_characters(text) for text in [key, *values]):
                return HttpResponseBadRequest("Query parameters must not contain control characters.",
                                              content_type="text/plain")
        return self.get_response(request)
