"""A faithful re-implementation of the original demo's consumer loop, for comparison (B1 a):
poll one message with a one-second timeout, Avro-decode it, emit it to a socket, store nothing.

The emit is a JSON line to a local TCP socket drained by a thread: the cheapest emit there is,
so the comparison errs in the original's favour."""

import json
import socket
import threading
import time

from confluent_kafka import Consumer

from fraudsite.avro import PlainAvroCodec
from fraudsite.kafka import client_config
from tests.kafka_helpers import unique
from transactions.verdicts import SCHEMA_PATH


def consume_like_the_original(topic, count):
    """Records per second, from the first record to the last."""
    codec = PlainAvroCodec(SCHEMA_PATH, topic)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    emitter = socket.create_connection(server.getsockname())
    browser, _ = server.accept()
    threading.Thread(target=lambda: [None for _ in iter(lambda: browser.recv(1 << 20), b"")], daemon=True).start()

    consumer = Consumer(client_config(**{"group.id": unique("original"), "auto.offset.reset": "earliest",
                                         "isolation.level": "read_uncommitted"}))
    consumer.subscribe([topic])
    received, first = 0, None
    try:
        while received < count:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            first = first or time.monotonic()
            record = codec.decode(message.value())
            emitter.sendall(json.dumps(record).encode() + b"\n")
            received += 1
        return received / (time.monotonic() - first)
    finally:
        consumer.close()
        emitter.close()
        server.close()
