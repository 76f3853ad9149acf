"""Realistic card traffic for many customers: each walks the globe at a plausible speed, and a
configurable share of transactions jump somewhere impossible. Produced straight to
card-transactions (bypassing the web API), for demos, load and benchmarks."""

import math
import random
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Producer

from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS

EARTH_RADIUS_KM = 6371.0


@dataclass
class Walker:
    user_id: str
    lat: float
    lng: float
    speed_kmh: float  # how fast this customer travels between transactions
    last_ms: int


def moved(lat, lng, distance_km, bearing):
    """The point distance_km away from (lat, lng) along bearing (radians), on a sphere."""
    phi, lmb, delta = math.radians(lat), math.radians(lng), distance_km / EARTH_RADIUS_KM
    phi2 = math.asin(math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(bearing))
    lmb2 = lmb + math.atan2(math.sin(bearing) * math.sin(delta) * math.cos(phi),
                            math.cos(delta) - math.sin(phi) * math.sin(phi2))
    return math.degrees(phi2), (math.degrees(lmb2) + 540) % 360 - 180


class Simulator:
    def __init__(self, user_ids, fraud_share=0.05, seed=None):
        self.random = random.Random(seed)
        now = int(time.time() * 1000)
        self.walkers = [
            Walker(user_id, self.random.uniform(-60, 70), self.random.uniform(-180, 180),
                   self.random.uniform(3, 60), now)
            for user_id in user_ids
        ]
        self.fraud_share = fraud_share

    def next_transaction(self, now_ms=None):
        """(user_id, record) of the next transaction: a plausible step, or an impossible jump."""
        walker = self.random.choice(self.walkers)
        now_ms = now_ms or int(time.time() * 1000)
        hours = max(now_ms - walker.last_ms, 1) / 3_600_000
        if self.random.random() < self.fraud_share:
            distance = self.random.uniform(2000, 15000)  # a continent away, moments later
        else:
            distance = walker.speed_kmh * hours * self.random.uniform(0.2, 0.9)
        walker.lat, walker.lng = moved(walker.lat, walker.lng, distance, self.random.uniform(0, 2 * math.pi))
        walker.last_ms = now_ms
        record = {"timestamp": now_ms, "transaction_id": uuid.uuid4().hex, "lat": walker.lat, "lng": walker.lng,
                  "amount": round(self.random.lognormvariate(3, 1), 2)}
        return walker.user_id, record


def transaction_producer():
    return Producer(client_config(**{"linger.ms": 5, "acks": "all", "enable.idempotence": True}))


def run(user_ids, count, rate=None, fraud_share=0.05, progress=None, seed=None, on_send=None):
    """Produce `count` transactions, at `rate` per second (None: as fast as possible). Returns
    the number the broker acknowledged. on_send(record) sees each transaction as it is sent."""
    simulator = Simulator(user_ids, fraud_share, seed)
    codec = CARD_TRANSACTIONS.codec()
    producer = transaction_producer()
    delivered = []

    def on_delivery(error, message):
        delivered.append(error is None)

    start = time.monotonic()
    for sent in range(count):
        if rate:
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        user_id, record = simulator.next_transaction()
        if on_send:
            on_send(record)
        while True:
            try:
                producer.produce(CARD_TRANSACTIONS.name, key=CARD_TRANSACTIONS.encode_key(user_id),
                                 value=codec.encode(record), on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: let it drain
                producer.poll(0.1)
        producer.poll(0)
        if progress:
            progress(sent + 1, count)
    producer.flush(60)
    return sum(delivered)
