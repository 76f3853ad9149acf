"""The service-loop base (fraudsite/service.py) and the verdict worker's stages on it, without a
broker: a stand-in consumer hands over records and notes the commits. (tests/test_worker.py runs
the worker against the real broker and database.)"""

import logging
import os
import signal
import threading
from types import SimpleNamespace

from django.db import OperationalError

from fraudsite import service
from fraudsite.service import BACK_OFF, ServiceLoop
from transactions import worker as worker_module
from transactions.worker import Options, Worker


class Rounds(ServiceLoop):
    """Answers each round with the next of `answers` (an exception is raised), then stops."""

    logger = logging.getLogger("test.service")

    def __init__(self, answers):
        super().__init__()
        self.answers, self.waited = list(answers), []

    def run_once(self):
        answer = self.answers.pop(0)
        if not self.answers:
            self.stop()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def wait(self, seconds):
        self.waited.append(seconds)


def test_a_database_outage_backs_off_doubling_to_the_cap_and_is_logged_at_its_start_and_end(monkeypatch, caplog):
    closed = []
    monkeypatch.setattr(service, "connection", SimpleNamespace(close=lambda: closed.append(1)))
    refused = OperationalError("connection refused")
    loop = Rounds([refused] * 7 + [0.5, BACK_OFF, BACK_OFF, 0.5])
    loop.max_backoff_seconds = 30
    caplog.set_level(logging.INFO, logger="test.service")
    loop.run()
    assert loop.waited == [1, 2, 4, 8, 16, 30, 30, 0.5, 1, 2, 0.5]
    assert len(closed) == 7  # each failed round closes the connection: the next reconnects
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "database unavailable (connection refused)" and lines[1].startswith("the database again after")
    assert len(lines) == 2


class Stopped(ServiceLoop):
    def run_once(self):
        return 0.01


def test_sigterm_stops_a_loop_on_the_main_thread_and_its_handler_is_put_back():
    before = signal.getsignal(signal.SIGTERM)
    loop = Stopped()
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    loop.run()  # returns: stopped by the signal
    assert loop.stopped.is_set() and signal.getsignal(signal.SIGTERM) is before


def test_a_signal_arriving_while_the_loop_holds_its_stop_events_lock_still_stops_it():
    """As when SIGTERM comes while the handler of a SIGINT is inside the event's set()."""
    loop = Stopped()

    def signalled_while_holding_the_lock():
        with loop.stopped._cond:  # the lock Event.set() and Event.wait() take
            loop.stop_on_signal(signal.SIGTERM, None)

    handler = threading.Thread(target=signalled_while_holding_the_lock, daemon=True)
    handler.start()
    handler.join(5)
    assert not handler.is_alive(), "the handler waited for a lock its own thread held"
    assert loop.stopped.wait(5)


def test_a_fenced_clock_closes_without_a_traceback(caplog):
    """A fenced transactional producer refuses even flush(); the clock still stops cleanly."""
    from confluent_kafka import KafkaError, KafkaException

    from transactions.clock import Clock

    class FencedProducer:
        def flush(self, timeout):
            raise KafkaException(KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True))

    clock = Clock(topic="card-transactions", interval_ms=20)
    clock.producer = FencedProducer()
    with caplog.at_level(logging.INFO, logger="fraudsite.clock"):
        clock.close()
    assert caplog.records[-1].getMessage() == "stopped after 0 ticks"


def test_a_clock_that_learns_it_was_fenced_only_from_the_abort_stops_as_another_clock():
    """Seen in CI under load: the commit fails with a plain broker error, and only the abort that
    follows says a newer clock fenced this one. That is the one-clock hand-over, not a crash."""
    import pytest
    from confluent_kafka import KafkaError, KafkaException

    from transactions.clock import AnotherClock, Clock

    class FencedAtAbort:
        def begin_transaction(self):
            pass

        def produce(self, *args, **kwargs):
            pass

        def commit_transaction(self, timeout):
            raise KafkaException(KafkaError(KafkaError.UNKNOWN, "Failed to end transaction", txn_requires_abort=True))

        def abort_transaction(self, timeout):
            raise KafkaException(KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True))

    clock = Clock(topic="card-transactions", interval_ms=20, transactional=True)
    clock.producer = FencedAtAbort()
    with pytest.raises(AnotherClock, match="fenced: another event clock took transactional id"):
        clock.tick([0])


class StandInConsumer:
    """Hands over `records` (offsets of one partition), `per_read` at a time; notes the commits."""

    def __init__(self, records, per_read):
        self.records, self.per_read, self.commits, self.closed = list(records), per_read, [], False

    def subscribe(self, topics, **callbacks):
        pass

    def consume(self, num_messages, timeout):
        taken = self.records[:min(num_messages, self.per_read)]
        del self.records[:len(taken)]
        return [SimpleNamespace(error=lambda: None, topic=lambda: "verdicts", partition=lambda: 0,
                                offset=lambda offset=offset: offset) for offset in taken]

    def assignment(self):
        return ["verdicts-0"]

    def pause(self, partitions):
        pass

    resume = pause

    def poll(self, timeout):
        pass

    def commit(self, offsets, asynchronous):
        self.commits.append(([o.offset for o in offsets], asynchronous))

    def close(self):
        self.closed = True


def stand_in_worker(monkeypatch, records, per_read, store):
    """A Worker whose consumer is a StandInConsumer, storing through store(rows) (in its writer thread)."""
    consumer = StandInConsumer(records, per_read)
    monkeypatch.setattr(worker_module, "Consumer", lambda config: consumer)
    monkeypatch.setattr(worker_module, "parse_batch", lambda messages, codec: ([m.offset() for m in messages], []))
    monkeypatch.setattr(worker_module, "store_rows", lambda rows, dead_letters: (store(rows), dead_letters))
    monkeypatch.setattr(worker_module, "push_verdicts", lambda rows, pusher: None)
    monkeypatch.setattr(worker_module, "Pusher", lambda: SimpleNamespace(close=lambda: None))
    monkeypatch.setattr(worker_module, "layer_is_process_local", lambda: False)
    monkeypatch.setattr(Worker, "max_backoff_seconds", 0)
    return Worker(Options(group_id="stand-in", idle_timeout=0.3, batch_timeout=0.01)), consumer


def test_a_batch_the_database_refuses_is_kept_stored_again_and_committed_once(monkeypatch):
    attempts, stored = [], []

    def store(rows):
        attempts.append(rows)
        if len(attempts) <= 3:
            raise OperationalError("connection refused")
        stored.extend(rows)
        return rows

    worker, consumer = stand_in_worker(monkeypatch, range(5), per_read=5, store=store)
    counters = worker.run()
    assert attempts == [[0, 1, 2, 3, 4]] * 4 and stored == [0, 1, 2, 3, 4]
    assert consumer.commits == [([5], False)]
    assert (counters.consumed, counters.stored) == (5, 5) and consumer.closed


def test_sigterm_while_a_batch_is_stored_commits_everything_read_and_reads_no_more(monkeypatch):
    stored = []

    def store(rows):
        if not stored:
            os.kill(os.getpid(), signal.SIGTERM)  # as a supervisor stops the worker, mid-batch
            # The handler stops the loop from a thread of its own; without this wait, the stand-in
            # consumer is fast enough for the main thread to read all 100 before that thread runs.
            assert worker.stopped.wait(10)
        stored.extend(rows)
        return rows

    worker, consumer = stand_in_worker(monkeypatch, range(100), per_read=10, store=store)
    counters = worker.run()
    assert 10 <= len(stored) < 100 and stored == list(range(len(stored)))  # stopped early, nothing skipped
    assert counters.consumed == counters.stored == len(stored)  # whatever was read was stored
    assert consumer.commits[-1] == ([len(stored)], False)  # and committed, waiting for the broker
    assert [offsets for offsets, _ in consumer.commits] == [[end] for end in range(10, len(stored) + 1, 10)]
