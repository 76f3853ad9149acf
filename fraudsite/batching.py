"""Work for many concurrent requests, done in batches on their event loop.

At thousands of requests a second a round trip per request (a PostgreSQL INSERT) costs more
than the request's own work. A Batcher runs `await work(items)` over everything submitted since
its previous run: one round trip and one commit for however many requests arrived meanwhile,
and no batch waits to fill (the first item after a quiet spell is sent at once). The work runs on
the requests' own event loop (an asynchronous database connection): a thread of its own would
have to be woken for every batch and its results handed back across threads, and on a busy
machine those hand-overs took longer than the statement (bench/RESULTS.md, B5).
"""

import asyncio
import logging

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
    """Serves one event loop at a time: the first to submit, until it closes (a test's, a server's)."""

    def __init__(self, name, work, max_batch=1000):
        """work(items): a coroutine giving a list of results, one per item in order; an exception
        fails the batch."""
        self._name, self._work, self._max_batch = name, work, max_batch
        self._pending = []
        self._running = None  # the task running batches, while there are items
        self._loop = None

    async def submit(self, item):
        """The item's result, once a batch containing it has run."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError(f"{self._name} serves another event loop, which is still open")
            self._loop, self._pending, self._running = loop, [], None
        future = loop.create_future()
        self._add(item, future)
        return await future

    def submit_nowait(self, item):
        """Queue the item from any thread (a producer's delivery callback), for a result nobody
        waits for; after a submit() has chosen the loop."""
        try:
            self._loop.call_soon_threadsafe(self._add, item, None)
        except RuntimeError:  # that loop has closed: its process or test is over
            logger.warning("%s: not queued, the event loop has closed: %r", self._name, item)

    def _add(self, item, future):
        self._pending.append((item, future))
        if self._running is None:
            self._running = self._loop.create_task(self._run())

    async def _run(self):
        try:
            while self._pending:
                batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                try:
                    results = await self._work([item for item, _ in batch])
                    outcomes = [(future, result, None) for (_, future), result in zip(batch, results, strict=True)]
                except Exception as error:  # noqa: BLE001 (every waiter hears of it; the next batch runs)
                    logger.warning("%s: a batch of %d failed: %s", self._name, len(batch), error)
                    outcomes = [(future, None, error) for _, future in batch]
                for future, result, error in outcomes:
                    if future is not None:
                        settle(future, result, error)
        finally:
            self._running = None
