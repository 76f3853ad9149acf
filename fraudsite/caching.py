"""Database lookups kept in the process for a short, bounded time.

The decision path asks for the same API key and the same customers thousands of times a second;
a query each time would cost more than the decision. A lookup is kept for `seconds` (counted
from before the query, so a change in the database is seen within that time in every process:
a revoked key or a deactivated customer) and then asked again. A key asked for in the second half
of its period is asked again in the background meanwhile, so that under steady traffic no
request waits for the database: the value it gets is never older than `seconds`. The keys to
look up are asked together, in one query for all the keys queued meanwhile, and a renewal waits
a quarter of the period for the keys that age with it: a query per key (an ORM query costs about
a millisecond of the interpreter) took a third of a web process's interpreter at 200 decisions a
second (bench/RESULTS.md, B5).
"""

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import close_old_connections

# Lookups missing from a cache run here, off the event loop, with a bounded number of database
# connections per process.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lookups")
MAX_ENTRIES = 100_000


def each(load):
    """A load_many for a lookup done one key at a time (load(key) -> value)."""
    return lambda keys: {key: load(key) for key in keys}


class RecentLookups:
    def __init__(self, load_many, seconds):
        """load_many(keys) -> {key: value} of the keys found, a blocking database lookup (a key
        it leaves out is None, a value too: 'no such key')."""
        self._load_many, self._seconds = load_many, seconds
        self._entries = {}  # key -> (value, asked_at)
        self._loading = {}  # key -> its lookup, queued or under way (concurrent.futures.Future)
        self._queued = []  # keys for the next query
        self._query_waiting = False  # a query submitted to the lookup threads, not started yet
        self._renewal_due = False  # a renewal of ageing keys is scheduled
        self._lock = threading.Lock()

    def _fresh(self, key):
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[1] < self._seconds:
            return True, entry[0]
        return False, None

    def _keep(self, key, value, asked_at):
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (value, asked_at)

    async def get(self, key):
        entry = self._entries.get(key)
        age = time.monotonic() - entry[1] if entry is not None else None
        if age is not None and age < self._seconds:
            if age >= self._seconds / 2:
                self._queue(key)  # not awaited: the value in hand is still within its period
                if not self._renewal_due:
                    # Renewed a quarter period later, with every key that ages meanwhile: within the
                    # period still, and one query for many keys instead of one each.
                    self._renewal_due = True
                    asyncio.get_running_loop().call_later(self._seconds / 4, self._renew)
            return entry[0]
        loading = self._queue(key)
        self._start_query()
        return await asyncio.wrap_future(loading)

    def _queue(self, key):
        """The lookup of key, queued if none is: the requests that miss together wait for the same
        one (a query each would queue in the lookup threads, and come back stale)."""
        with self._lock:
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = Future()
                loading.set_running_or_notify_cancel()  # a waiter that gives up cannot cancel it for the others
                self._queued.append(key)
        return loading

    def _renew(self):
        self._renewal_due = False
        self._start_query()

    def _start_query(self):
        """A query for the queued keys, unless one is already waiting for a lookup thread."""
        with self._lock:
            if self._queued and not self._query_waiting:
                self._query_waiting = True
                _executor.submit(self._load_queued)

    def _load_queued(self):
        with self._lock:
            keys, self._queued, self._query_waiting = self._queued, [], False
        asked_at = time.monotonic()
        try:
            close_old_connections()  # a connection the database or the pool dropped is replaced
            values = self._load_many(keys)
        except Exception as error:  # noqa: BLE001 (every waiter hears of it)
            outcomes = [(key, None, error) for key in keys]
        else:
            outcomes = [(key, values.get(key), None) for key in keys]
        for key, value, error in outcomes:
            if error is None:
                self._keep(key, value, asked_at)
            with self._lock:
                loading = self._loading.pop(key)
            if error is None:
                loading.set_result(value)
            else:
                loading.set_exception(error)

    def get_blocking(self, key):
        """get() for synchronous callers (a DRF view)."""
        found, value = self._fresh(key)
        if found:
            return value
        asked_at = time.monotonic()
        value = self._load_many([key]).get(key)
        self._keep(key, value, asked_at)
        return value

    def clear(self):
        with self._lock:
            self._entries.clear()
