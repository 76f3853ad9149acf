"""Kafka client configuration shared by every producer, consumer and admin client."""

import logging
import threading
from functools import lru_cache

from confluent_kafka import Producer
from django.conf import settings


librdkafka_logger = logging.getLogger("fraudsite.librdkafka")


def client_config(**overrides):
    """librdkafka settings for the configured cluster (local PLAINTEXT or SASL, e.g. Confluent Cloud)."""
    config = {
        "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        # librdkafka's own log lines go through Python logging (level and format from LOGGING).
        "logger": librdkafka_logger,
    }
    if settings.KAFKA_SECURITY_PROTOCOL != "PLAINTEXT":
        config.update(
            {
                "security.protocol": settings.KAFKA_SECURITY_PROTOCOL,
                "sasl.mechanisms": settings.KAFKA_SASL_MECHANISM,
                "sasl.username": settings.KAFKA_SASL_USERNAME,
                "sasl.password": settings.KAFKA_SASL_PASSWORD,
            }
        )
    config.update(overrides)
    return config


def broker_reachable(timeout=2.0):
    """Whether the cluster answers a metadata request within timeout seconds (quietly: librdkafka
    logs nothing about a broker that is simply down)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient(client_config(**{"socket.connection.setup.timeout.ms": 1000, "log_level": 0})).list_topics(
            timeout=timeout)
    except KafkaException:
        return False
    return True


def producer_config(**overrides):
    """A producer that gives up (and reports the failure) after KAFKA_DELIVERY_TIMEOUT_MS."""
    return client_config(
        **{
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": settings.KAFKA_DELIVERY_TIMEOUT_MS,
            "socket.connection.setup.timeout.ms": min(settings.KAFKA_DELIVERY_TIMEOUT_MS, 5000),
            **overrides,
        }
    )


@lru_cache(maxsize=4)
def _producer(bootstrap_servers, delivery_timeout_ms):
    return Producer(producer_config())


def shared_producer():
    """One long-lived producer per process (and per configuration, which tests change)."""
    return _producer(settings.KAFKA_BOOTSTRAP_SERVERS, settings.KAFKA_DELIVERY_TIMEOUT_MS)


class DeliveryFailed(Exception):
    """The broker did not acknowledge a record in time."""


def produce_and_confirm(producer, topic, key, value):
    """Produce one record and wait for the broker's acknowledgement; raise DeliveryFailed if none."""
    outcome = {}

    def on_delivery(error, message):
        outcome["error"] = error

    producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    producer.flush(settings.KAFKA_DELIVERY_TIMEOUT_MS / 1000 + 1)
    if "error" not in outcome:
        raise DeliveryFailed(f"no acknowledgement from Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}")
    if outcome["error"] is not None:
        raise DeliveryFailed(f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}: {outcome['error'].str()}")


class RequestProducer:
    """A producer for request paths on an event loop: send() returns at once and reports only a
    failure, from a thread of its own that serves librdkafka's delivery reports. Nothing flushes
    per record, so concurrent requests share produce requests to the broker, and a record the
    broker takes wakes nobody (the request waits for what the record leads to: its verdict)."""

    def __init__(self):
        self._producer = Producer(producer_config(**{"linger.ms": 1}))
        threading.Thread(target=self._serve_delivery_reports, name="delivery-reports", daemon=True).start()

    def send(self, topic, key, value, failed):
        """failed(DeliveryFailed) is called on the delivery thread if the broker does not take the
        record within KAFKA_DELIVERY_TIMEOUT_MS. Raises BufferError or KafkaException at once
        when librdkafka cannot even queue it."""
        def on_delivery(error, message):
            if error is not None:
                failed(DeliveryFailed(f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}: {error.str()}"))

        self._producer.produce(topic, key=key, value=value, on_delivery=on_delivery)

    def connect(self, timeout):
        self._producer.list_topics(timeout=timeout)

    def _serve_delivery_reports(self):
        while True:
            self._producer.poll(0.1)


_request_producer = None
_request_producer_lock = threading.Lock()


def request_producer():
    """The process's RequestProducer."""
    global _request_producer
    if _request_producer is None:
        with _request_producer_lock:
            if _request_producer is None:
                _request_producer = RequestProducer()
    return _request_producer


def connect_producer(timeout=10):
    """Open the RequestProducer's broker connections now (blocking), not at the first record."""
    request_producer().connect(timeout)
