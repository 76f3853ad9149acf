"""API keys for machine clients: `Authorization: Api-Key <key>`; a key's scopes and rate."""

import time

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle
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


class PerKeyRateThrottle(BaseThrottle):
    """Each key's own rate_limit_per_minute, counted per calendar minute in the cache (Redis when
    REDIS_URL is set, so every web process counts together). One atomic increment per request:
    DRF's own throttles keep a list of every request's time, which costs more than the decision
    at thousands a minute."""

    def allow_request(self, request, view):
        now = time.time()
        counter = f"throttle:client-key:{request.auth.prefix}:{int(now // 60)}"
        self.wait_seconds = 60 - now % 60
        try:
            count = cache.incr(counter)
        except ValueError:  # the minute's first request; another process may add it at the same time
            count = 1 if cache.add(counter, 1, timeout=120) else cache.incr(counter)
        return count <= request.auth.rate_limit_per_minute

    def wait(self):
        return self.wait_seconds
