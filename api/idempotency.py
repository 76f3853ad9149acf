"""Idempotency-Key: a retry of a decision request gets the first answer, never a second transaction.

The keys live in PostgreSQL (api.Decision, unique per API key), so every web process sees the
same ones and a restart forgets none. The decision path claims keys, reads the claims of taken
ones and stores answers for many requests at once (api/recording.py, batched by api/endpoint.py)."""

import hashlib
import json
from datetime import timedelta

from django.conf import settings

from transactions import decisions

MAX_KEY_LENGTH = 255
ANSWER_SAVED_WITHIN = timedelta(seconds=10)
STILL_ANSWERING = "The first request with this Idempotency-Key is still being answered; retry shortly."


class Conflict(Exception):
    """The key's first request is still waiting (409); the message says so."""

    status = 409


class KeyReused(Conflict):
    """The key was used with another request body (422)."""

    status = 422


def digest(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Claim:
    """A request's claim on its key (made by api/recording.py, or resolved by resolve_taken)."""

    def __init__(self, client_key_id, idempotency_key, request_digest, transaction_id):
        self.client_key_id, self.idempotency_key = client_key_id, idempotency_key
        self.request_digest, self.transaction_id = request_digest, transaction_id
        self.decision_id = None  # set when this request holds the key
        self.previous_answer = None  # set when the key was answered before: a retry
        self.conflict = None  # set when the key is held by another request or another body
        self.answer_to_save = None  # (decision id, answer) when the first request's answer was never saved

    @property
    def pair(self):
        return self.client_key_id, self.idempotency_key


def resolve_taken(claims, earlier, now):
    """For claims whose key was taken (api/recording.py did not claim it), given the keys' earlier
    claims {(client key id, key): recording.EarlierClaim}: the first answer when the body is the
    same and it was answered, else a Conflict. A first claim left unanswered for longer than
    abandoned_after() was the request of a process that stopped before saving its answer: a retry
    gets what that request would have answered, from its transaction's stored verdict (the
    fallback, timed out, while there is none), and claim.answer_to_save says so, for the next retry."""
    for claim in claims:
        first = earlier.get(claim.pair)
        if first is not None and first.request_digest != claim.request_digest:
            claim.conflict = KeyReused("This Idempotency-Key was used with a different request body.")
        elif first is not None and first.answer is not None:
            claim.previous_answer = first.answer
        elif first is not None and now - first.created_at > abandoned_after():
            claim.previous_answer = (decisions.answer(first.verdict) if first.verdict is not None
                                     else decisions.fallback(claim.transaction_id, timed_out=True))
            claim.answer_to_save = (first.decision_id, claim.previous_answer)
        else:  # held by a request still waiting (perhaps one in the same batch)
            claim.conflict = Conflict(STILL_ANSWERING)


def abandoned_after():
    """Far longer than a request can wait (its budget) and its answer's save can take."""
    return timedelta(milliseconds=settings.DECISION_BUDGET_MS) + ANSWER_SAVED_WITHIN
