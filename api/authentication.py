"""API keys for machine clients: `Authorization: Api-Key <key>`; a key's scopes and rate.

Shared by the decision endpoint (api/endpoint.py, on the event loop) and the DRF views: a key is
looked up and its hash checked once per LOOKUP_CACHE_SECONDS per process, so a revoked or expired
key is refused everywhere within that time; the rate is counted per process and shared through
the cache (Redis) every RATE_SYNC_SECONDS."""

import logging
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle
from rest_framework_api_key.permissions import KeyParser

from fraudsite.caching import RecentLookups, each

from .models import ClientKey

KEYWORD = "Api-Key"
UNKNOWN_KEY = "Unknown or revoked API key."
EXPIRED_KEY = "This API key has expired."
RATE_SYNC_SECONDS = 0.1
logger = logging.getLogger("fraudsite.api")


def _load_key(raw_key):
    try:
        return ClientKey.objects.get_from_key(raw_key)
    except ClientKey.DoesNotExist:
        return None  # kept too: a flood of bad keys does not become a flood of queries


keys = RecentLookups(each(_load_key), settings.LOOKUP_CACHE_SECONDS)


def checked(client_key):
    """The ClientKey, or AuthenticationFailed with the reason."""
    if client_key is None:
        raise exceptions.AuthenticationFailed(UNKNOWN_KEY)
    if client_key.has_expired:
        raise exceptions.AuthenticationFailed(EXPIRED_KEY)
    return client_key


async def client_key_for(raw_key):
    """For the event loop: the key's ClientKey, or AuthenticationFailed."""
    return checked(await keys.get(raw_key))


class ClientKeyAuthentication(BaseAuthentication):
    """request.auth is the ClientKey; request.user stays anonymous (a key is not a person)."""

    def authenticate(self, request):
        raw_key = KeyParser().get_from_authorization(request)
        if not raw_key:
            return None
        return AnonymousUser(), checked(keys.get_blocking(raw_key))

    def authenticate_header(self, request):
        return KEYWORD  # a 401 (not 403) with WWW-Authenticate: Api-Key


def scope_required(scope):
    class HasScope(BasePermission):
        message = f"This API key lacks the {scope!r} scope."

        def has_permission(self, request, view):
            return isinstance(request.auth, ClientKey) and request.auth.allows(scope)
    return HasScope


class RateCounter:
    """Requests per key over a sliding minute, counted by every web process together. Each process
    counts in memory and adds its counts to one cache counter per key and calendar minute every
    RATE_SYNC_SECONDS, reading back the total of all processes: no round trip per request, and a
    key's limit holds across processes to within that interval's requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._unsent = defaultdict(int)  # (prefix, minute) -> this process's requests not yet added
        self._total = defaultdict(int)  # (prefix, minute) -> all processes' count as last read
        self._thread = None

    def allow(self, prefix, limit):
        """Count one request; whether the key is within its limit per minute over the sliding
        minute before now (the previous calendar minute's count weighted by how much of it that
        minute still covers, plus this one's: no burst of twice the limit across a minute's
        turn). (True, 0), or (False, seconds to wait)."""
        now = time.time()
        minute, into = int(now // 60), now % 60 / 60
        slot = (prefix, minute)
        with self._lock:
            self._unsent[slot] += 1
            current = self._total.get(slot, 0) + self._unsent[slot]
            previous = self._total.get((prefix, minute - 1), 0) + self._unsent.get((prefix, minute - 1), 0)
            if self._thread is None:
                self._thread = threading.Thread(target=self._sync_forever, name="rate-counter", daemon=True)
                self._thread.start()
        if current + previous * (1 - into) <= limit:
            return True, 0
        if current > limit:
            return False, 60 * (1 - into)
        return False, min(60 * (1 - into), 60 * (current + previous * (1 - into) - limit) / max(previous, 1))

    def _sync_forever(self):
        while True:
            time.sleep(RATE_SYNC_SECONDS)
            try:
                self.sync()
            except Exception as error:  # noqa: BLE001 (the cache down: counts stay local, retried)
                logger.warning("rate counter: the cache did not answer: %s", error)

    def sync(self):
        with self._lock:
            unsent, self._unsent = self._unsent, defaultdict(int)
            for slot, count in unsent.items():
                self._total[slot] += count  # seen here at once; replaced by the shared total below
            current = int(time.time() // 60)
            for slot in [slot for slot in self._total if slot[1] < current - 1]:
                del self._total[slot]
        for (prefix, minute), count in unsent.items():
            total = self._add(prefix, minute, count)  # outside the lock: requests never wait for the cache
            with self._lock:
                self._total[(prefix, minute)] = total
                known = (prefix, minute - 1) in self._total
            if not known:  # the other processes' count of the minute before, once
                previous = cache.get(self._counter(prefix, minute - 1)) or 0
                with self._lock:
                    self._total.setdefault((prefix, minute - 1), previous)

    @staticmethod
    def _counter(prefix, minute):
        return f"throttle:client-key:{prefix}:{minute}"

    def _add(self, prefix, minute, count):
        counter = self._counter(prefix, minute)
        try:
            return cache.incr(counter, count)
        except ValueError:  # the minute's first count; another process may add it at the same time
            return count if cache.add(counter, count, timeout=180) else cache.incr(counter, count)


rates = RateCounter()


class PerKeyRateThrottle(BaseThrottle):
    """Each key's own rate_limit_per_minute (RateCounter)."""

    def allow_request(self, request, view):
        allowed, self.wait_seconds = rates.allow(request.auth.prefix, request.auth.rate_limit_per_minute)
        return allowed

    def wait(self):
        return self.wait_seconds
