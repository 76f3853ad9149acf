"""Sending deliveries: signed, in order per (endpoint, customer), retried with back-off, given up
after the retry window. The loop behind `manage.py deliver_webhooks`.

A delivery is sent while its row is locked (SELECT ... FOR UPDATE SKIP LOCKED), so two deliverers
never send it at once, and marked in the same transaction once the receiver answered 2xx. A
deliverer killed between the two sends it again later with the same event id: at least once.
"""

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from fraudsite.service import ServiceLoop

from . import targets
from .models import Delivery, DeliveryAttempt

logger = logging.getLogger("fraudsite.webhooks")

SIGNATURE_HEADER = "Fraudsite-Signature"
EVENT_ID_HEADER = "Fraudsite-Event-Id"
EVENT_TYPE_HEADER = "Fraudsite-Event-Type"


def body(delivery):
    """The bytes sent, the same on every attempt (the stored payload, compact JSON)."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret, timestamp, payload):
    """Fraudsite-Signature's value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def send(delivery):
    """POST the delivery to its endpoint; returns the (unsaved) attempt. Never raises for what the
    network or the receiver does. The address connected to is checked after resolution (targets.py)."""
    payload = body(delivery)
    headers = {"Content-Type": "application/json", "User-Agent": "fraudsite-webhooks",
               SIGNATURE_HEADER: signature(delivery.endpoint.secret, int(time.time()), payload),
               EVENT_ID_HEADER: str(delivery.event_id), EVENT_TYPE_HEADER: delivery.event_type}
    attempt = DeliveryAttempt(delivery=delivery, at=timezone.now())
    started = time.monotonic()
    url = delivery.endpoint.url
    if targets.has_credentials(url):  # (saved before such URLs were refused)
        attempt.error = targets.CREDENTIALS
    else:
        try:
            with targets.session_for(url) as session, session.post(
                    url, data=payload, headers=headers, stream=True, timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                    allow_redirects=False) as response:
                attempt.status_code = response.status_code
                # Bounded: a receiver answering with a huge body costs at most this much.
                raw = response.raw.read(targets.EXCERPT_CHARS * 4, decode_content=True) or b""
                attempt.response_excerpt = targets.excerpt(raw.decode(response.encoding or "utf-8", "replace"))
        except requests.RequestException as error:
            # The cause goes to the log, for whoever runs the deliverer; the admin sees one message.
            logger.info("webhook %s to endpoint %s: %s: %s", delivery.event_id, delivery.endpoint_id,
                        type(error).__name__, error)
            attempt.error = targets.shown_error(error)
    attempt.duration_ms = round((time.monotonic() - started) * 1000)
    return attempt


def succeeded(attempt):
    return attempt.status_code is not None and 200 <= attempt.status_code < 300


def backoff(attempts):
    """Seconds before the next try after `attempts` failures: doubling from the first, capped."""
    return min(settings.WEBHOOK_BACKOFF_SECONDS * 2 ** min(attempts - 1, 30), settings.WEBHOOK_BACKOFF_MAX_SECONDS)


def undelivered():
    return Delivery.objects.filter(delivered_at=None, given_up_at=None)


def due_heads(now):
    """Deliveries due now that are first in line for their endpoint and customer: no earlier one of
    the same key waits (a failing one holds back the later ones; a given-up one no longer does)."""
    earlier = undelivered().filter(endpoint=OuterRef("endpoint"), ordering_key=OuterRef("ordering_key"),
                                   id__lt=OuterRef("id"))
    return (undelivered().filter(next_attempt_at__lte=now, endpoint__active=True)
            .exclude(Exists(earlier)).order_by("id"))


def deliver_due(now=None):
    """Send one round of deliveries due at `now` (default: now), each of a different key, in
    parallel; returns (delivered, failed). The rows stay locked until their outcome is stored."""
    with transaction.atomic():
        rows = list(due_heads(now or timezone.now()).select_related("endpoint")
                    .select_for_update(skip_locked=True, of=("self",))[:settings.WEBHOOK_CONCURRENCY])
        if not rows:
            return 0, 0
        with ThreadPoolExecutor(max_workers=len(rows), thread_name_prefix="webhook") as pool:
            attempts = list(pool.map(send, rows))
        for row, attempt in zip(rows, attempts):
            _note(row, attempt)
        DeliveryAttempt.objects.bulk_create(attempts)
        Delivery.objects.bulk_update(rows, ["delivered_at", "attempts", "next_attempt_at", "given_up_at"])
    failed = [(row, attempt) for row, attempt in zip(rows, attempts) if not succeeded(attempt)]
    if failed:
        row, attempt = failed[0]
        logger.warning("%d of %d webhooks not delivered, e.g. %s to endpoint %s: %s", len(failed), len(rows),
                       row.event_id, row.endpoint_id, attempt.status_code or attempt.error)
    for row, _ in failed:
        if row.given_up_at:
            logger.error("gave up delivering %s to endpoint %s after %d attempts", row.event_id, row.endpoint_id,
                         row.attempts)
    return len(rows) - len(failed), len(failed)


def _note(row, attempt):
    row.attempts += 1
    if succeeded(attempt):
        row.delivered_at = attempt.at
    elif attempt.at - row.created_at >= timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
        row.given_up_at = attempt.at
    else:
        row.next_attempt_at = attempt.at + timedelta(seconds=backoff(row.attempts))


def deliver_all_due():
    """Rounds until nothing due now is left; returns (delivered, failed). A failure is not tried
    again here: its next attempt is after now."""
    now, total_delivered, total_failed = timezone.now(), 0, 0
    while True:
        delivered, failed = deliver_due(now)
        total_delivered, total_failed = total_delivered + delivered, total_failed + failed
        if not delivered and not failed:
            return total_delivered, total_failed


def retry_now(deliveries):
    """Make undelivered deliveries (given up or waiting) due now; a given-up one gets one more
    attempt, and holds back its customer's later deliveries again until it succeeds or gives up."""
    return deliveries.filter(delivered_at=None).update(given_up_at=None, next_attempt_at=timezone.now())


class Deliverer(ServiceLoop):
    """The loop behind `manage.py deliver_webhooks`: sends deliveries as they fall due."""

    logger = logger

    def __init__(self, poll_seconds=None):
        super().__init__()
        self.poll_seconds = settings.WEBHOOK_POLL_SECONDS if poll_seconds is None else poll_seconds

    def start(self):
        logger.info("delivering webhooks (looking every %.2f s)", self.poll_seconds)

    def run_once(self):
        delivered, failed = deliver_due()
        if delivered:
            logger.info("delivered %d webhooks", delivered)
        # A failed delivery waits for its own next attempt (backoff()), not the loop.
        return self.poll_seconds if not delivered and not failed else 0

    def close(self):
        logger.info("stopped")
