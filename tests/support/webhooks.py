"""A webhook receiver for the tests: a local HTTP server that checks every delivery's signature
with the documented verification snippet (read from docs/webhooks.md, so the documented code is what runs)
and records what it got."""

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings


def documented_verify_webhook():
    """verify_webhook exactly as docs/webhooks.md shows it."""
    page = (settings.BASE_DIR / "docs" / "webhooks.md").read_text()
    code = re.search(r"<!-- webhook-verification-snippet -->\n```python\n(.*?)```", page, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/webhooks.md (webhook verification snippet)", "exec"), namespace)
    return namespace["verify_webhook"]


@dataclass
class Received:
    event_id: str
    event_type: str
    body: dict
    at: float


@dataclass
class Receiver:
    """Answers `status` (after `delay` seconds) to every correctly signed delivery, and 400 to
    the rest. `answers`: statuses to give first, one per delivery, before `status`;
    `answers_for`: the same per customer ({user_id: [statuses]}), for deliveries sent in parallel."""

    secret: str = ""
    status: int = 200
    delay: float = 0.0
    answers: list = field(default_factory=list)
    answers_for: dict = field(default_factory=dict)
    reply: bytes = b""  # the body of an answer of 300 or more (default: "receiver trouble" repeated)
    received: list = field(default_factory=list)  # verified deliveries, in arrival order
    rejected: list = field(default_factory=list)  # (headers, body) with a bad signature
    port: int = 0
    _server: ThreadingHTTPServer = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self):
        """Listen (again on the same port after a stop)."""
        verify, receiver = documented_verify_webhook(), self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not verify(receiver.secret, self.headers.get("Fraudsite-Signature", ""), body):
                    receiver.rejected.append((dict(self.headers), body))
                    return self._answer(400, b"bad signature")
                payload = json.loads(body)
                with lock:
                    receiver.received.append(Received(self.headers["Fraudsite-Event-Id"],
                                                      self.headers["Fraudsite-Event-Type"], payload, time.monotonic()))
                    for_customer = receiver.answers_for.get(payload["data"].get("user_id"))
                    if for_customer:
                        status = for_customer.pop(0)
                    else:
                        status = receiver.answers.pop(0) if receiver.answers else receiver.status
                time.sleep(receiver.delay)
                self._answer(status, b"received" if status < 300 else receiver.reply or b"receiver trouble " * 500)

            def _answer(self, status, text):
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True, name="webhook-receiver").start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def event_ids(self):
        return [item.event_id for item in self.received]

    def by_customer(self):
        """{user_id: [event ids in arrival order]}"""
        order = {}
        for item in self.received:
            order.setdefault(item.body["data"]["user_id"], []).append(item.event_id)
        return order
