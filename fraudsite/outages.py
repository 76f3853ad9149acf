"""Quiet, useful logs while a service is down: the first failure at once, then at most one line a
minute saying how many more there were and for how long it has been failing, and one line when it
is over ("... again after N s"). Without this a broker outage printed a line every 50 ms per client.

- Outage: one service as seen by one loop (the verdict worker's, the outbox publisher's or the
  webhook deliverer's database); the loop says when it failed and when it worked again.
- BrokerOutages: a filter on the `fraudsite.librdkafka` logger (every Kafka client's log lines):
  per client and per broker, the same shape; a broker's return is noticed by connecting to it once
  a second from a background thread (once the client has had no failure for 3 s), since librdkafka
  says nothing when it reconnects.
- RepeatedLines: a filter for a logger that repeats one failure (psycopg's pool, while PostgreSQL
  is down): the first, then one a minute with a count; after a quiet minute the next is logged again.
"""

import logging
import re
import socket
import threading
import time

SUMMARY_EVERY_SECONDS = 60.0
QUIET_SECONDS = 3.0


class Outage:
    """The log lines of one service's outage, as one loop sees it. Thread-safe."""

    def __init__(self, logger, what, every=SUMMARY_EVERY_SECONDS, clock=time.monotonic):
        self.logger, self.what, self.every, self.clock = logger, what, every, clock
        self.since = None  # when this outage's first failure happened
        self.failures = 0  # in all, during this outage
        self.logged = 0  # lines logged for them
        self.unlogged = 0  # failures since the last line
        self.last_line = self.last_failure = None
        self._lock = threading.Lock()

    @property
    def ongoing(self):
        return self.since is not None

    def note(self):
        """Count one failure. None: log nothing; "": log it as it is (the first); otherwise the summary
        to append to it (a minute or more since the last line)."""
        with self._lock:
            now = self.last_failure = self.clock()
            self.failures += 1
            if self.since is None:
                self.since = self.last_line = now
                self.logged, self.unlogged = 1, 0
                return ""
            if now - self.last_line < self.every:
                self.unlogged += 1
                return None
            summary = (f"failing for {now - self.since:.0f} s; {self.unlogged} more like this in the last "
                       f"{now - self.last_line:.0f} s not logged")
            self.last_line, self.unlogged = now, 0
            self.logged += 1
            return summary

    def failed(self, message, *args, level=logging.ERROR):
        """One failure: logged if it is the outage's first, or a minute has passed since the last line."""
        summary = self.note()
        if summary is not None:
            self.logger.log(level, f"{message} ({summary})" if summary else message, *args)

    def recovered(self, message="%s again after %.0f s (%d failures, %d of them logged)", level=logging.WARNING):
        """The service works again: one line, if there was an outage."""
        with self._lock:
            if self.since is None:
                return
            args = (self.what, self.clock() - self.since, self.failures, self.logged)
            self.since = None
        self.logger.log(level, message, *args)


# "[thrd:localhost:9092/bootstrap]: localhost:9092/bootstrap: Connect to ... failed" or
# "[thrd:GroupCoordinator]: GroupCoordinator: localhost:9092: Disconnected": the broker's host:port.
BROKER = re.compile(r"\]: (?:GroupCoordinator: )?(?:[a-z_]+://)?([^\s:/\]]+:\d+)")


class BrokerOutages(logging.Filter):
    """Rate-limits librdkafka's log lines per client and per broker (see the module's docstring).

    librdkafka's records (confluent-kafka's `logger`) carry args (facility, client name, text)."""

    def __init__(self, every=SUMMARY_EVERY_SECONDS, clock=time.monotonic, probe_every=1.0, reachable=None):
        super().__init__()
        self.every, self.clock, self.probe_every = every, clock, probe_every
        self.reachable = reachable or connects
        self.outages = {}  # (client, "host:port") -> Outage
        self._lock = threading.Lock()
        self._prober = None

    def filter(self, record):
        if not (isinstance(record.args, tuple) and len(record.args) == 3):
            return True
        _, client, text = record.args
        broker = BROKER.search(str(text))
        if broker is None:
            return True
        key = (client, broker.group(1))
        with self._lock:
            outage = self.outages.get(key)
            if outage is None:
                if record.levelno < logging.ERROR:
                    return True  # a disconnection alone (an idle connection closed) is no outage
                outage = self.outages[key] = Outage(logging.getLogger(record.name), f"{client}: broker {key[1]}",
                                                    self.every, self.clock)
                self._start_prober()
        return _counted(outage, record)

    def _start_prober(self):
        if self._prober is None:
            self._prober = threading.Thread(target=self._probe, name="broker-outage-probe", daemon=True)
            self._prober.start()

    def _probe(self):
        """Until every outage is over: connect to each broker that is down; when one answers, say so once."""
        while True:
            time.sleep(self.probe_every)
            with self._lock:
                down = dict(self.outages)
                if not down:
                    self._prober = None
                    return
            for key, outage in down.items():
                # A broker that starts accepts connections before it serves them: over once the
                # client has had no failure for a few seconds and the broker accepts a connection.
                quiet = outage.ongoing and self.clock() - outage.last_failure >= QUIET_SECONDS
                if quiet and self.reachable(key[1]):
                    outage.recovered("%s reachable again after %.0f s: reconnected (%d connection errors, "
                                     "%d of them logged)")
                    with self._lock:
                        self.outages.pop(key, None)


def connects(address, timeout=1.0):
    """Whether something accepts a TCP connection at host:port (a broker that is down refuses at once)."""
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError:
        return False
    return True


class RepeatedLines(logging.Filter):
    """The first line, then one a minute with how many were not logged; a minute without any, and
    the next is a first again. For loggers that repeat a failure and never say it is over."""

    def __init__(self, every=SUMMARY_EVERY_SECONDS, clock=time.monotonic):
        super().__init__()
        self.outage = Outage(None, "", every, clock)
        self.last_seen = None

    def filter(self, record):
        now = self.outage.clock()
        if self.last_seen is not None and now - self.last_seen >= self.outage.every:
            self.outage.since = None  # over, as far as anyone can tell: the next line is a first
        self.last_seen = now
        return _counted(self.outage, record)


def _counted(outage, record):
    """Count the record's failure: pass it as it is (the first), with the summary (a minute on), or not."""
    summary = outage.note()
    if summary:
        record.msg = f"{record.msg} ({summary})"
    return summary is not None
