"""HAProxy in front of the web tier (fraudsite/proxy.py), against a web tier of the test's own that
never answers a decision: the case the proxy's own deadline exists for (a web process out of CPU)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from fraudsite import proxy


class HangingWebTier(BaseHTTPRequestHandler):
    """Pages answer at once; a decision is read and then never answered."""

    received = threading.Event()
    release = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        HangingWebTier.received.set()
        HangingWebTier.release.wait(30)

    def log_message(self, *args):
        pass


@pytest.fixture
def hanging_web_tier():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HangingWebTier)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    HangingWebTier.received.clear()
    HangingWebTier.release.clear()
    yield f"127.0.0.1:{server.server_port}"
    HangingWebTier.release.set()
    server.shutdown()
    server.server_close()


def test_a_decision_the_web_tier_does_not_answer_in_time_gets_the_timed_out_fallback_from_the_proxy(
        hanging_web_tier, tmp_path, free_tcp_port, settings):
    settings.DECISION_FALLBACK, settings.PROXY_SERVER_TIMEOUT_MS = "decline", 300
    with proxy.running(tmp_path / "proxy", f"127.0.0.1:{free_tcp_port}", hanging_web_tier) as url:
        answer = requests.post(f"{url}/api/v1/decisions", json={"user_id": "ada"}, timeout=30)
    assert HangingWebTier.received.is_set()  # let in, not shed
    assert answer.status_code == 200
    assert answer.json() == {"decision": "decline", "timed_out": True, "shed": False}
    assert answer.headers["X-Timed-Out-By"] == "proxy"


def test_the_proxy_configuration_bounds_a_callers_wait_at_the_budget_plus_50_ms(settings, tmp_path):
    """The defaults: the longest queue wait and the longest wait for the web tier add up to the
    budget + 50 ms, and HAProxy takes as many connections as the open-file limit allows."""
    config = proxy.write(tmp_path, "127.0.0.1:1", "127.0.0.1:2").read_text()
    assert settings.PROXY_QUEUE_MS + settings.PROXY_SERVER_TIMEOUT_MS == settings.DECISION_BUDGET_MS + 50
    assert f"timeout queue {settings.PROXY_QUEUE_MS}ms" in config
    assert f"timeout server {settings.PROXY_SERVER_TIMEOUT_MS}ms" in config
    assert f"maxconn {proxy.max_connections()}" in config
