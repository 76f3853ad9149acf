"""API keys for machine clients: `Authorization: Api-Key <key>`; a key's scopes and rate."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_api_key.permissions import KeyParser

from .models import ClientKey

KEYWORD = "Api-Key"


class ClientKeyAuthentication(BaseAuthentication):
    """request.auth is the ClientKey; request.user stays anonymous (a key is not a person)."""

    def authenticate(self, request):
        key = KeyParser().get_from_authorization(request)
        if not key:
            return None
        try:
            client_key = ClientKey.objects.get_from_key(key)
        except ClientKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.") from None
        if client_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        return AnonymousUser(), client_key

    def authenticate_header(self, request):
        return KEYWORD  # a 401 (not 403) with WWW-Authenticate: Api-Key


def scope_required(scope):
    class HasScope(BasePermission):
        message = f"This API key lacks the {scope!r} scope."

        def has_permission(self, request, view):
            return isinstance(request.auth, ClientKey) and request.auth.allows(scope)
    return HasScope


class PerKeyRateThrottle(SimpleRateThrottle):
    """Each key's own rate_limit_per_minute (counted in the cache: Redis when REDIS_URL is set)."""

    scope = "client_key"

    def allow_request(self, request, view):
        self.rate = f"{request.auth.rate_limit_per_minute}/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self):
        return None  # set per request from the key

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
