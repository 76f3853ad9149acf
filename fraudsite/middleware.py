"""What the whole site needs of every request and response."""

from django.http import HttpResponseBadRequest, HttpResponseNotFound
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


class RejectControlCharacters:
    """Control characters (a NUL, which PostgreSQL can neither store nor compare, or any other),
    lone surrogates and bidirectional overrides are refused wherever a request carries text,
    before any view, form or admin filter puts it in a query: in the path (404: no page has such a
    name), the query string (400) and the fields of a posted form (400; line breaks and tabs are
    text there). JSON bodies are checked field by field by their views (fraudsite.validation)."""

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_control_characters(request.path_info):
            return HttpResponseNotFound("Not found: no path holds control characters.", content_type="text/plain")
        for key, values in request.GET.lists():
            if any(has_control_characters(text) for text in [key, *values]):
                return HttpResponseBadRequest("Query parameters must not contain control characters.",
                                              content_type="text/plain")
        if request.method == "POST" and request.content_type in self.FORM_TYPES:
            for key, values in request.POST.lists():
                if any(has_control_characters(text, multiline=True) for text in [key, *values]):
                    return HttpResponseBadRequest(
                        f"The form field {key[:40]!r} must not contain control characters.", content_type="text/plain")
        return self.get_response(request)
