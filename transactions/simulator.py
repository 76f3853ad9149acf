"""Realistic card traffic for many customers: each walks the globe at a plausible speed, and a
configurable share of transactions jump somewhere impossible. Produced straight to
card-transactions (bypassing the web API), for demos, load and benchmarks."""

import hashlib
import math
import random
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Producer

from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS

EARTH_RADIUS_KM = 6371.0
MERCHANTS = 500  # the demo's; the benchmark spreads its load over more (bench/throughput.py)
# Groceries, restaurants, fuel, clothing, airlines (ISO 18245).
MERCHANT_CATEGORY_CODES = ["5411", "5812", "5541", "5651", "4511"]
ONLINE_SHARE = 0.3
IN_PERSON_CHANNELS = ["card_present"] * 9 + ["atm"]  # one in-person use in ten at an ATM


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
    def __init__(self, user_ids, fraud_share=0.05, seed=None, merchants=MERCHANTS, cards_per_customer=1):
        self.random = random.Random(seed)
        now = int(time.time() * 1000)
        self.walkers = [
            Walker(user_id, self.random.uniform(-60, 70), self.random.uniform(-180, 180),
                   self.random.uniform(3, 60), now)
            for user_id in user_ids
        ]
        self.fraud_share = fraud_share
        self.merchants = merchants
        self.cards_per_customer = cards_per_customer
        # The context comes from a generator of its own, so that a seed gives the same walks as before it.
        self.context_random = random.Random(seed)
        self.cards = {user_id: card_and_device(user_id) for user_id in user_ids}

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
                  "amount": round(self.random.lognormvariate(3, 1), 2), **self.context(walker.user_id)}
        return walker.user_id, record

    def context(self, user_id):
        """The card (one per customer, as a token), a merchant and a channel; a device and an IP
        address online. (No merchant country: the walk does not know which country it is in.)"""
        pick = self.context_random
        merchant = pick.randrange(self.merchants)
        online = pick.random() < ONLINE_SHARE
        card_token, card_bin, device_id = self.cards[user_id]
        if self.cards_per_customer > 1:
            card_token = card_and_device(user_id, pick.randrange(self.cards_per_customer))[0]
        return {
            "card_token": card_token,
            "card_bin": card_bin,
            "merchant_id": f"sim-merchant-{merchant}",
            "merchant_category_code": MERCHANT_CATEGORY_CODES[merchant % len(MERCHANT_CATEGORY_CODES)],
            "channel": "ecommerce" if online else pick.choice(IN_PERSON_CHANNELS),
            "device_id": device_id if online else None,
            "ip_address": f"198.51.100.{pick.randrange(1, 255)}" if online else None,  # TEST-NET-2
        }


def card_and_device(user_id, card_number=0):
    """A simulated customer's card token (its first card's, or card_number's), its BIN and the
    customer's device, the same in every run."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()
    card = f"simulated card of {user_id}" + (f" #{card_number}" if card_number else "")
    return (hashlib.sha256(card.encode()).hexdigest()[:32],
            f"4{int(digest[:8], 16) % 100_000:05d}", f"sim-device-{digest[:12]}")


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
