"""fraudsite.caching: a lookup kept for its period, asked again after it, and asked once for many
requests that miss together, in one query for many keys."""

import asyncio
import time

import pytest

from fraudsite import caching
from fraudsite.caching import RecentLookups, each

# The lookups run on the process's lookup thread, which first replaces a database connection that
# an earlier test may have left on it: harmless, but pytest-django refuses database access unless told.
pytestmark = pytest.mark.django_db


def counting_lookup(seconds=0.0):
    calls = []

    def load(key):
        calls.append(key)
        time.sleep(seconds)
        return f"value of {key} #{len(calls)}"
    return load, calls


def test_a_lookup_is_kept_for_its_period_and_asked_again_after_it():
    load, calls = counting_lookup()
    lookups = RecentLookups(each(load), seconds=0.2)

    async def run():
        first = [await lookups.get("k") for _ in range(3)]
        await asyncio.sleep(0.25)
        return first, await lookups.get("k")

    first, later = asyncio.run(run())
    assert first == ["value of k #1"] * 3 and later == "value of k #2"
    assert calls == ["k", "k"]


def test_requests_that_miss_together_share_one_lookup():
    load, calls = counting_lookup(seconds=0.1)
    lookups = RecentLookups(each(load), seconds=10)

    async def run():
        return await asyncio.gather(*[lookups.get("k") for _ in range(50)], lookups.get("other"))

    values = asyncio.run(run())
    assert len(set(values[:50])) == 1 and values[0].startswith("value of k ")
    assert sorted(calls) == ["k", "other"]


def test_none_is_kept_too():
    load, calls = counting_lookup()
    lookups = RecentLookups(lambda keys: load(keys[0]) and {}, seconds=10)
    assert [lookups.get_blocking("missing") for _ in range(3)] == [None] * 3
    assert calls == ["missing"]


def test_lookups_asked_for_in_the_second_half_of_their_period_are_renewed_together_in_the_background():
    queries = []

    def load_many(keys):
        queries.append(sorted(keys))
        return {key: f"{key} #{len(queries)}" for key in keys}
    lookups = RecentLookups(load_many, seconds=0.4)

    async def run():
        first = [await lookups.get("a"), await lookups.get("b")]
        await asyncio.sleep(0.25)  # past half the period: answered at once, and renewed
        ageing = [await lookups.get("a"), await lookups.get("b")]
        await asyncio.sleep(0.14)  # the renewal came a quarter period later; the first values have not expired
        return first, ageing, [await lookups.get("a"), await lookups.get("b")]

    first, ageing, renewed = asyncio.run(run())
    assert (first, ageing) == (["a #1", "b #2"], ["a #1", "b #2"])
    assert renewed == ["a #3", "b #3"] and queries == [["a"], ["b"], ["a", "b"]]


class HeldExecutor:
    """The lookup threads, held until run(): the keys asked meanwhile queue up."""

    def __init__(self):
        self.jobs = []

    def submit(self, job):
        self.jobs.append(job)

    def run(self):
        while self.jobs:
            self.jobs.pop(0)()


def test_keys_missed_together_are_looked_up_in_one_query_and_its_failure_reaches_every_waiter(monkeypatch):
    executor, queries = HeldExecutor(), []
    monkeypatch.setattr(caching, "_executor", executor)

    def load_many(keys):
        queries.append(sorted(keys))
        if "broken" in keys:
            raise RuntimeError("the database is down")
        return {key: key.upper() for key in keys if key != "unknown"}
    lookups = RecentLookups(load_many, seconds=10)

    async def asked_together(*keys):
        asked = asyncio.gather(*[lookups.get(key) for key in keys], return_exceptions=True)
        await asyncio.sleep(0.01)  # every get() has queued its key
        await asyncio.to_thread(executor.run)
        return await asked

    together = asyncio.run(asked_together("b", "c", "unknown", "b"))
    failed = asyncio.run(asked_together("broken", "d"))
    assert together == ["B", "C", None, "B"]
    assert [str(error) for error in failed] == ["the database is down"] * 2
    assert queries == [["b", "c", "unknown"], ["broken", "d"]]
