"""Drive the running detection job: publish customers and transactions, wait for verdicts."""

import math
import time

from confluent_kafka import Producer
from django.conf import settings

from fraudsite import detection_sql
from fraudsite.avro import PlainAvroCodec
from fraudsite.kafka import client_config
from tests.support.kafka import TopicReader, producer, unique
from users.publishing import SCHEMA_PATH as USERS_CONFIG_SCHEMA

TRANSACTION_SCHEMA = settings.BASE_DIR / "transactions/schemas/card-transactions.avsc"
VERDICT_SCHEMA = detection_sql.VERDICT_SCHEMA
HOUR_MS = 3600 * 1000
LONDON_PARIS = [(51.5074, -0.1278), (48.8566, 2.3522)]


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
        self.customers = PlainAvroCodec(USERS_CONFIG_SCHEMA, settings.TOPIC_USERS_CONFIG)
        self.transactions = PlainAvroCodec(TRANSACTION_SCHEMA, settings.TOPIC_CARD_TRANSACTIONS)
        verdicts = PlainAvroCodec(VERDICT_SCHEMA, settings.TOPIC_CARD_TRANSACTIONS_ENRICHED)
        self.reader = TopicReader(settings.TOPIC_CARD_TRANSACTIONS_ENRICHED, verdicts.decode)
        self.base_time = int(time.time() * 1000)

    def customer(self, max_speed, first_name="Test", last_name="Customer", user_id=None, **thresholds):
        """Publish a customer's settings (thresholds: the further signals' fields of users-config);
        returns the user_id. Waits until the job has surely read them."""
        user_id = user_id or unique("cust")
        value = self.customers.encode(
            {"first_name": first_name, "last_name": last_name, "max_speed": float(max_speed), **thresholds})
        self.producer.produce(settings.TOPIC_USERS_CONFIG, key=user_id.encode(), value=value)
        self.producer.flush(10)
        time.sleep(1.5)  # settings apply from the record's time on; let the job ingest them first
        return user_id

    def transaction(self, user_id, lat, lng, offset_ms=0, amount=10.0, timestamp=None):
        """Send one transaction (timestamp = the test's base time + offset_ms); returns its id."""
        transaction_id = unique("tx")
        record = {
            "timestamp": self.base_time + offset_ms if timestamp is None else timestamp,
            "transaction_id": transaction_id, "lat": float(lat), "lng": float(lng), "amount": float(amount),
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
