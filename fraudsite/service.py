"""The one shape of the project's long-running service loops: the verdict worker, the outbox
publisher, the webhook deliverer, the event-time clock and the replay server.

ServiceLoop.run() owns what they share: stopping (stop(), or SIGINT/SIGTERM when it runs on the
main thread), and waiting out a database outage (a round that raises OperationalError or
InterfaceError closes the connection, so that the next round reconnects, logs the outage through
fraudsite/outages.py, and is tried again after an exponential back-off: 1 s, doubling up to
max_backoff_seconds). A loop writes run_once(), one round, and returns how long to wait before the
next, or BACK_OFF to wait the back-off (a failure of its own, e.g. Kafka refusing records).
"""

import logging
import signal
import threading

from django.db import InterfaceError, OperationalError, connection

from .outages import Outage

MAX_BACKOFF_SECONDS = 30
# What run_once() returns when the round failed and the next should wait the back-off.
BACK_OFF = object()


class ServiceLoop:
    """Subclasses set `logger` and write run_once(); start(), finished(), wait() and close() are
    there to be extended."""

    logger = logging.getLogger("fraudsite.service")
    max_backoff_seconds = MAX_BACKOFF_SECONDS

    def __init__(self):
        self.stopped = threading.Event()
        self.backoff = 0  # seconds the last back-off waited; 0 once a round worked
        # Logged when it begins, once a minute while it lasts, and when it ends.
        self.database_outage = Outage(self.logger, "the database")

    def stop(self, *_):
        self.stopped.set()

    def run(self):
        """Rounds until finished(), then close(), whatever ended them."""
        previous = self._stop_on_signals()
        try:
            self.start()
            while not self.finished():
                pause = self._round()
                if pause:
                    self.wait(pause)
        finally:
            try:
                self.close()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def run_once(self):
        """One round: seconds to wait before the next (0 or None: at once), or BACK_OFF."""
        raise NotImplementedError

    def start(self):
        """Before the first round."""

    def finished(self):
        """Whether to stop: once stop() was called (a loop with work in hand may finish it first)."""
        return self.stopped.is_set()

    def wait(self, seconds):
        """Between rounds; returns early when stopped."""
        self.stopped.wait(seconds)

    def close(self):
        """After the last round, or when a round raised."""

    def database_unavailable(self, error, pause):
        """Log a failed round's database error (the outage's first, then about once a minute)."""
        self.database_outage.failed("database unavailable (%s)", str(error).strip())

    def _round(self):
        try:
            pause = self.run_once()
        except (OperationalError, InterfaceError) as error:
            connection.close()  # reconnect in the next round
            pause = self._back_off()
            self.database_unavailable(error, pause)
            return pause
        self.database_outage.recovered()
        if pause is BACK_OFF:
            return self._back_off()
        self.backoff = 0
        return pause

    def _back_off(self):
        self.backoff = min(max(self.backoff * 2, 1), self.max_backoff_seconds)
        return self.backoff

    def stop_on_signal(self, *_):
        """The SIGINT and SIGTERM handler. It runs between two bytecodes of the main thread, which
        may hold the stop event's lock just then (waking from wait(), or inside the set() of a first
        signal: make run's Ctrl-C sends SIGINT, then SIGTERM). Setting the event here would then
        wait for this very thread forever (seen: a webhook deliverer that never stopped), so
        another thread calls stop()."""
        threading.Thread(target=self.stop, name="stop-on-signal", daemon=True).start()

    def _stop_on_signals(self):
        """Signals reach the main thread only; a loop run on another thread is stopped by stop()."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self.stop_on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
