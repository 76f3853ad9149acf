"""Blocking work for many concurrent requests, done in batches on a thread of its own.

An asyncio request path must never block its event loop, and a round trip per request (a
PostgreSQL INSERT, a thread hop) costs more than the request's own work at thousands a second.
A Batcher runs `work(items)` on its thread over everything submitted since its previous run:
one round trip and one commit for however many requests arrived meanwhile, and no batch waits
to fill (the first item after a quiet spell is sent at once). Results reach each waiting
coroutine through its own event loop, so requests of any loop (uvicorn's, or asgiref's in a
synchronous caller) can share one Batcher.
"""

import asyncio
import logging
import threading

logger = logging.getLogger("fraudsite.batching")


def settle(future, result=None, error=None):
    """Complete an asyncio future from its own loop's thread (unless its waiter gave up)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def settle_from_thread(outcomes):
    """outcomes: [(future, result, error)]; one wake-up per event loop, however many futures."""
    by_loop = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
    for loop, group in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, group)
        except RuntimeError:  # that loop has closed: nobody waits any more
            pass


def _settle_all(group):
    for future, result, error in group:
        settle(future, result, error)


class Batcher:
    def __init__(self, name, work, max_batch=1000):
        """work(items) -> a list of results, one per item in order; an exception fails the batch."""
        self._name, self._work, self._max_batch = name, work, max_batch
        self._pending = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    async def submit(self, item):
        """The item's result, once a batch containing it has run."""
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            self._pending.append((item, future))
            self._ensure_running()
        self._wake.set()
        return await future

    def _ensure_running(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def submit_nowait(self, item):
        """Queue the item from any thread, for a result nobody waits for."""
        with self._lock:
            self._pending.append((item, None))
            self._ensure_running()
        self._wake.set()

    def _run(self):
        while True:
            self._wake.wait()
            with self._lock:
                batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                if not self._pending:
                    self._wake.clear()
            if not batch:
                continue
            try:
                results = self._work([item for item, _ in batch])
                outcomes = [(future, result, None) for (_, future), result in zip(batch, results, strict=True)]
            except Exception as error:  # noqa: BLE001 (every waiter hears of it; the thread goes on)
                logger.warning("%s: a batch of %d failed: %s", self._name, len(batch), error)
                outcomes = [(future, None, error) for _, future in batch]
            settle_from_thread([outcome for outcome in outcomes if outcome[0] is not None])
