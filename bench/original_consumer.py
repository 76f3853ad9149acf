"""A faithful re-implementation of the original demo's consumer loop, for comparison (B1 a):
poll one message with a one-second timeout, Avro-decode it, emit it to a socket, store nothing.

The emit is a JSON line to a local TCP socket drained by a thread: the cheapest emit there is,
so the comparison errs in the original's favour."""

import json
import socket
import threading

from bench.peers import one_by_one
from fraudsite.topics import VERDICTS


def consume_like_the_original(topic, count):
    """Records per second, from the first record to the last."""
    codec = VERDICTS.codec(topic)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    emitter = socket.create_connection(server.getsockname())
    browser, _ = server.accept()
    threading.Thread(target=lambda: [None for _ in iter(lambda: browser.recv(1 << 20), b"")], daemon=True).start()

    try:
        return one_by_one(topic, count, lambda message: emitter.sendall(
            json.dumps(codec.decode(message.value())).encode() + b"\n"))
    finally:
        emitter.close()
        server.close()
