"""Drive the running detection job: publish customers and transactions, wait for verdicts."""

import math
import time

from confluent_kafka import Producer
from django.conf import settings

from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS, LIST_MEMBERSHIPS, USERS_CONFIG, VERDICTS
from tests.support.kafka import TopicReader, producer, unique
from tests.support.waiting import wait_until

HOUR_MS = 3600 * 1000
LONDON_PARIS = [(51.5074, -0.1278), (48.8566, 2.3522)]
PROBE_PREFIX = "probe"  # the readiness probes' customers: unique(PROBE_PREFIX)


def great_circle_km(lat1, lng1, lat2, lng2):
    """Vincenty's formula on a sphere of radius 6371 km: independent of the job's haversine."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlmb = math.radians(lng2 - lng1)
    numerator = math.hypot(
        math.cos(phi2) * math.sin(dlmb),
        math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb),
    )
    denominator = math.sin(phi1) * math.sin(phi2) + math.cos(phi1) * math.cos(phi2) * math.cos(dlmb)
    return 6371 * math.atan2(numerator, denominator)


class Pipeline:
    """Publishes to the job's input topics and reads its verdicts."""

    def __init__(self):
        self.producer = producer()
        self.customers = USERS_CONFIG.codec()
        self.transactions = CARD_TRANSACTIONS.codec()
        verdicts = VERDICTS.codec()
        self.probe_verdicts = {}  # transaction_id: verdict, of the readiness probes (kept out of reader.records)

        def decode(value):
            verdict = verdicts.decode(value)
            if verdict["user_id"].startswith(PROBE_PREFIX + "_"):
                self.probe_verdicts[verdict["transaction_id"]] = verdict
                return None
            return verdict

        self.reader = TopicReader(VERDICTS.name, decode)
        self.base_time = int(time.time() * 1000)

    def customer(self, max_speed, first_name="Test", last_name="Customer", user_id=None, **thresholds):
        """Publish a customer's settings (thresholds: the further signals' fields of users-config);
        returns the user_id. Waits until the job has read them."""
        user_id = user_id or unique("cust")
        value = self.customers.encode(
            {"first_name": first_name, "last_name": last_name, "max_speed": float(max_speed), **thresholds})
        self.producer.produce(settings.TOPIC_USERS_CONFIG, key=user_id.encode(), value=value)
        self.producer.flush(10)
        self.wait_until_customers_read()  # settings apply from the record's time on: the job must hold them first
        return user_id

    def wait_until_customers_read(self, timeout=60):
        """Return once the running job has read every users-config record published so far.

        Why this is proof: after the records of interest, a probe customer is published to each
        users-config partition, then a transaction for each probe customer. A partition is read in
        offset order, and with parallelism 1 one source subtask sends everything it reads down one
        ordered channel to the one temporal-join subtask. So a probe transaction judged with its
        probe customer's settings (anything but UNKNOWN_CUSTOMER) shows that the join already held
        everything published to that partition before the probe, the records of interest included.
        A probe judged too early (UNKNOWN_CUSTOMER) is simply asked again with a new transaction.
        The probes' verdicts never reach reader.records; a worker storing the topic stores them
        (user_id "probe_..."). Typically a few hundred ms (users-config must go idle, 200 ms, before
        the join's watermark moves on) instead of a fixed 1.5 s."""
        value = self.customers.encode({"first_name": "Readiness", "last_name": "Probe", "max_speed": 1000.0})
        self._until_probes_confirm(
            settings.TOPIC_USERS_CONFIG, lambda probe: (probe.encode(), value),
            lambda verdict: verdict["status"] != "UNKNOWN_CUSTOMER",  # else judged before the job read the probe
            "the detection job to read the users-config records just published (a verdict knowing each probe "
            "customer)", timeout)

    def _until_probes_confirm(self, topic, probe_record, confirms, what, timeout):
        """Publish probe_record(probe) -> (key, value) to each partition of topic, then a transaction of
        each probe customer, again until confirms(its verdict)."""
        if settings.STACK_FLINK_PARALLELISM != 1:
            # Several join subtasks: a probe may be hashed to another subtask than the records of
            # interest, so its verdict proves nothing about them. Wait as before.
            time.sleep(1.5)  # the fixed wait the probes replace, for parallelism > 1 only
            return
        probes = {}  # probe customer: its probe transaction awaiting a verdict
        for partition in self.producer.list_topics(topic, timeout=10).topics[topic].partitions:
            probe = unique(PROBE_PREFIX)
            key, value = probe_record(probe)
            self.producer.produce(topic, key=key, value=value, partition=partition)
            probes[probe] = None
        self.producer.flush(10)
        probe_transaction = lambda probe: self.transaction(probe, *LONDON_PARIS[0], timestamp=int(time.time() * 1000))
        for probe in probes:
            probes[probe] = probe_transaction(probe)

        def unconfirmed_probes():
            self.reader.collect_until(lambda _: any(t in self.probe_verdicts for t in probes.values()), timeout=0.5)
            for probe, transaction_id in list(probes.items()):
                verdict = self.probe_verdicts.pop(transaction_id, None)
                if verdict is None:
                    continue
                if confirms(verdict):
                    del probes[probe]
                else:
                    probes[probe] = probe_transaction(probe)
            return sorted(probes)

        wait_until(unconfirmed_probes, timeout, what, until=lambda left: not left, interval=0)

    def wait_until_lists_read(self, timeout=60):
        """Return once the running job has read every list-memberships record published so far: as
        wait_until_customers_read proves it for users-config, with a probe value on a block list in
        each partition, and a transaction of that probe customer judged with the probe list's reason."""
        codec = LIST_MEMBERSHIPS.codec()

        def probe_record(probe):
            return f"customer:{probe}".encode(), codec.encode({"memberships": [{
                "list": "probe", "effect": "block", "weight": 0.0, "suppresses": "*", "value": probe, "starts_at": 0,
                "ends_at": None}]})

        self._until_probes_confirm(
            settings.TOPIC_LIST_MEMBERSHIPS, probe_record, lambda verdict: "list:probe" in verdict["reasons"],
            "the detection job to read the list-memberships records just published (a verdict with each probe's list)",
            timeout)

    def transaction(self, user_id, lat, lng, offset_ms=0, amount=10.0, timestamp=None, transaction_id=None, **context):
        """Send one transaction (timestamp = the test's base time + offset_ms; context: the contract's
        optional fields, transactions/context.py); returns its id."""
        transaction_id = transaction_id or unique("tx")
        record = {
            "timestamp": self.base_time + offset_ms if timestamp is None else timestamp,
            "transaction_id": transaction_id, "lat": float(lat), "lng": float(lng), "amount": float(amount), **context,
        }
        self.producer.produce(settings.TOPIC_CARD_TRANSACTIONS, key=user_id.encode(),
                              value=self.transactions.encode(record))
        self.producer.flush(10)
        return transaction_id

    def one_request_burst(self, user_ids, per_customer):
        """Send per_customer transactions for each customer in one produce request (one batch of the
        one partition), so that the broker stamps them all with one millisecond. Returns the ids."""
        batching = Producer(client_config(**{"linger.ms": 500, "batch.num.messages": 10_000, "acks": "all"}))
        ids, offsets = [], []
        for number in range(per_customer):
            for user_id in user_ids:
                transaction_id = unique("burst")
                record = {"timestamp": self.base_time + number * 60_000, "transaction_id": transaction_id,
                          "lat": LONDON_PARIS[number % 2][0], "lng": LONDON_PARIS[number % 2][1], "amount": 10.0}
                batching.produce(settings.TOPIC_CARD_TRANSACTIONS, key=user_id.encode(),
                                 value=self.transactions.encode(record),
                                 on_delivery=lambda error, message: offsets.append((message.partition(), message.offset())))
                ids.append(transaction_id)
        assert batching.flush(15) == 0
        return ids, offsets

    def verdicts(self, transaction_ids, timeout=30):
        """The verdict of each transaction id, waiting (bounded) for all of them to arrive."""
        wanted = set(transaction_ids)
        self.reader.collect_until(lambda records: wanted <= {r["transaction_id"] for r in records}, timeout)
        found = {r["transaction_id"]: r for r in self.reader.records if r["transaction_id"] in wanted}
        missing = wanted - set(found)
        assert not missing, f"no verdict within {timeout} s for {sorted(missing)}"
        return [found[transaction_id] for transaction_id in transaction_ids]

    def verdict_count(self, transaction_id):
        return sum(1 for r in self.reader.records if r["transaction_id"] == transaction_id)

    def close(self):
        self.reader.close()


def wait_until_customers_read(timeout=60):
    """Return once the running job has read every customer published so far (e.g. by saving
    Customer rows): see Pipeline.wait_until_customers_read."""
    pipeline = Pipeline()
    try:
        pipeline.wait_until_customers_read(timeout)
    finally:
        pipeline.close()


def wait_until_lists_read(timeout=60):
    """Return once the running job has read every list entry published so far: see
    Pipeline.wait_until_lists_read."""
    pipeline = Pipeline()
    try:
        pipeline.wait_until_lists_read(timeout)
    finally:
        pipeline.close()
