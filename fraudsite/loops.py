"""An event loop of its own, in a thread, for synchronous code that runs coroutines often.

async_to_sync makes a loop per call, and with it whatever the coroutines open on their loop (the
channel layer's Redis connection, the decision path's database connection): one per call. On a
loop of its own those stay open from one call to the next."""

import asyncio
import threading


class LoopThread:
    def __init__(self, name):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout=None):
        """The coroutine's result, run on the loop (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
