"""HAProxy in front of the web tier, configured from the settings, so that an overload is shed
before Python reads a request: `python -m fraudsite.proxy --listen 0.0.0.0:8080 --web 127.0.0.1:8000`
writes haproxy.cfg and the two fallback answers into a directory and prints the command that runs
HAProxy.

Why: past what the machine can answer, a request the web processes read and then shed still costs
a Python HTTP cycle, and at three times the sustainable rate those cycles alone fill the cores
(bench/RESULTS.md, B5). HAProxy queues in C; it lets at most PROXY_DECISIONS_IN_FLIGHT decisions
into the web tier at once, answers any that waited PROXY_QUEUE_MS with the fallback, and any the web
tier has not answered within PROXY_SERVER_TIMEOUT_MS with the timed-out fallback."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("haproxy.cfg")


def max_connections():
    """HAProxy's connection limit: as many as this process's open-file limit allows (a proxied
    connection takes two descriptors), since clients beyond it wait in the kernel's accept queue,
    where no timeout of HAProxy's reaches them."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(100, min(soft, 1_000_000) // 2 - 100)


def executable():
    """HAProxy's path (Debian installs it in /usr/sbin, which a user's PATH may lack)."""
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin") or "haproxy"


def fallback_response(shed):
    """The HTTP response HAProxy gives a decision it answers itself: the product's fallback
    (api/endpoint.py), flagged shed (never let in: nothing recorded or sent) or timed out (let in,
    not answered in time: the web tier may still record it), without a transaction id, since
    HAProxy does not read the body."""
    from django.conf import settings

    body = json.dumps({"decision": settings.DECISION_FALLBACK, "timed_out": not shed, "shed": shed}).encode()
    head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
            f"X-Content-Type-Options: nosniff\r\n{'X-Shed-By' if shed else 'X-Timed-Out-By'}: proxy\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def write(directory, listen, web):
    """Write haproxy.cfg, shed.http and late.http into directory; returns the configuration's path."""
    from django.conf import settings

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shed_file, late_file = directory / "shed.http", directory / "late.http"
    shed_file.write_bytes(fallback_response(shed=True))
    late_file.write_bytes(fallback_response(shed=False))
    config = directory / "haproxy.cfg"
    config.write_text(Template(TEMPLATE.read_text()).substitute(
        listen=listen, web=web, shed_file=shed_file.resolve(), late_file=late_file.resolve(),
        max_connections=max_connections(), queue_ms=settings.PROXY_QUEUE_MS,
        server_timeout_ms=settings.PROXY_SERVER_TIMEOUT_MS, decisions_in_flight=settings.PROXY_DECISIONS_IN_FLIGHT))
    return config


@contextmanager
def running(directory, listen, web, output=subprocess.DEVNULL, ready_timeout=30, preexec_fn=None):
    """HAProxy with this configuration (written into directory) in front of the web tier at `web`,
    until the block ends; yields its URL once it forwards a page (tests and bench/decisions.py)."""
    config = write(directory, listen, web)
    haproxy = subprocess.Popen([executable(), "-db", "-f", str(config)], stdout=output, stderr=output,
                               preexec_fn=preexec_fn)
    try:
        url, deadline = f"http://{listen}", time.monotonic() + ready_timeout
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                if haproxy.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"HAProxy ({config}) did not forward to {web}")
                time.sleep(0.2)
        yield url
    finally:
        haproxy.terminate()
        haproxy.wait(10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8080", help="where HAProxy listens (host:port)")
    parser.add_argument("--web", default="127.0.0.1:8000", help="the web tier (python -m fraudsite.server)")
    parser.add_argument("--directory", default=".run/proxy", help="where the two files go")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
    import django

    django.setup()
    config = write(options.directory, options.listen, options.web)
    print(f"wrote {config}, {config.with_name('shed.http')} and {config.with_name('late.http')}; "
          f"run: {executable()} -f {config}")


if __name__ == "__main__":
    sys.exit(main())
