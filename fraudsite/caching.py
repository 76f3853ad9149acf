"""Database lookups kept in the process for a short, bounded time.

The decision path asks for the same API key and the same customers thousands of times a second;
a query each time would cost more than the decision. A lookup is kept for `seconds` (counted
from before the query, so a change in the database is seen within that time in every process:
a revoked key or a deactivated customer) and then asked again. A key asked for in the second half
of its period is asked again in the background meanwhile, so that under steady traffic no
request waits for the database: the value it gets is never older than `seconds`.
"""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

# Lookups missing from a cache run here, off the event loop, with a bounded number of database
# connections per process.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lookups")
MAX_ENTRIES = 100_000


def _in_lookup_thread(load, key):
    close_old_connections()  # a connection the database or the pool dropped is replaced
    return load(key)


class RecentLookups:
    def __init__(self, load, seconds):
        """load(key) -> value, a blocking database lookup (None is a value, e.g. 'no such key')."""
        self._load, self._seconds = load, seconds
        self._entries = {}  # key -> (value, asked_at)
        self._loading = {}  # key -> the lookup under way (concurrent.futures.Future)
        self._lock = threading.Lock()

    def _fresh(self, key):
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[1] < self._seconds:
            return True, entry[0]
        return False, None

    def _ageing(self, key):
        entry = self._entries.get(key)
        return entry is not None and time.monotonic() - entry[1] >= self._seconds / 2

    def _keep(self, key, value, asked_at):
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (value, asked_at)

    async def get(self, key):
        found, value = self._fresh(key)
        if found:
            if self._ageing(key):
                self._loading_of(key)  # not awaited: the value in hand is still within its period
            return value
        return await asyncio.wrap_future(self._loading_of(key))

    def _loading_of(self, key):
        """The lookup of key under way, started if none is: the requests that miss together wait
        for the same one (a query each would queue in the lookup threads, and come back stale)."""
        with self._lock:
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = _executor.submit(self._load_and_keep, key)
        return loading

    def _load_and_keep(self, key):
        asked_at = time.monotonic()
        try:
            value = _in_lookup_thread(self._load, key)
            self._keep(key, value, asked_at)
            return value
        finally:
            with self._lock:
                del self._loading[key]

    def get_blocking(self, key):
        """get() for synchronous callers (a DRF view)."""
        found, value = self._fresh(key)
        if found:
            return value
        asked_at = time.monotonic()
        value = self._load(key)
        self._keep(key, value, asked_at)
        return value

    def clear(self):
        with self._lock:
            self._entries.clear()
