"""What the whole site needs of every request and response."""

from django.http import HttpResponseNotFound, JsonResponse
from django.http.multipartparser import MultiPartParserError
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
    text there). JSON bodies are checked field by field by their views (fraudsite.validation).
    A 400 here has the JSON APIs' shape ({"errors": {field: [message]}}), so that an API client
    reads every refusal the same way; a form body that cannot be parsed is one too."""

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_control_characters(request.path_info):
            return HttpResponseNotFound("Not found: no path holds control characters.", content_type="text/plain")
        for key, values in request.GET.lists():
            if any(has_control_characters(text) for text in [key, *values]):
                return _bad_request("__all__", "Query parameters must not contain control characters.")
        if request.method == "POST" and request.content_type in self.FORM_TYPES:
            try:
                fields = request.POST.lists()
            except MultiPartParserError as error:  # e.g. multipart/form-data without its boundary
                return _bad_request("__all__", f"The body is not the {request.content_type} its Content-Type "
                                               f"names: {error}")
            for key, values in fields:
                if any(has_control_characters(text, multiline=True) for text in [key, *values]):
                    return _bad_request(key[:40], "Must not contain control characters.")
        return self.get_response(request)


def _bad_request(field, message):
    return JsonResponse({"errors": {field: [message]}}, status=400)
