"""Idempotency-Key: a retry of a decision request gets the first answer, never a second transaction."""

import hashlib
import json

from django.db import IntegrityError, transaction

from .models import Decision

MAX_KEY_LENGTH = 255
STILL_ANSWERING = "The first request with this Idempotency-Key is still being answered; retry shortly."


class Conflict(Exception):
    """The key's first request is still waiting (409); the message says so."""

    status = 409


class KeyReused(Conflict):
    """The key was used with another request body (422)."""

    status = 422


def digest(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def previous_answer(client_key, idempotency_key, body):
    """The stored answer for this key, or None for a key not seen yet. Raises Conflict."""
    decision = Decision.objects.filter(client_key=client_key, idempotency_key=idempotency_key).first()
    if decision is None:
        return None
    if decision.request_digest != digest(body):
        raise KeyReused("This Idempotency-Key was used with a different request body.")
    if decision.answer is None:
        raise Conflict(STILL_ANSWERING)
    return decision.answer


def reserve(client_key, idempotency_key, body, transaction_id):
    """Claim the key before producing anything; a concurrent request with the same key gets Conflict."""
    try:
        with transaction.atomic():
            return Decision.objects.create(client_key=client_key, idempotency_key=idempotency_key,
                                           request_digest=digest(body), transaction_id=transaction_id)
    except IntegrityError:  # a request with the same key got there first
        raise Conflict(STILL_ANSWERING) from None
