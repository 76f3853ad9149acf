"""Response headers the whole site needs."""

from django.utils.cache import add_never_cache_headers


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
