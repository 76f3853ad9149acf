"""Idempotency-Key: a retry of a decision request gets the first answer, never a second transaction.

The keys live in PostgreSQL (api.Decision, unique per API key), so every web process sees the
same ones and a restart forgets none. The decision path claims keys, reads the claims of taken
ones and stores answers for many requests at once (api/recording.py, batched by api/endpoint.py)."""

import hashlib
import json

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


class Claim:
    """A request's claim on its key (made by api/recording.py, or resolved by resolve_taken)."""

    def __init__(self, client_key_id, idempotency_key, request_digest, transaction_id):
        self.client_key_id, self.idempotency_key = client_key_id, idempotency_key
        self.request_digest, self.transaction_id = request_digest, transaction_id
        self.decision_id = None  # set when this request holds the key
        self.previous_answer = None  # set when the key was answered before: a retry
        self.conflict = None  # set when the key is held by another request or another body

    @property
    def pair(self):
        return self.client_key_id, self.idempotency_key


def resolve_taken(claims, earlier):
    """For claims whose key was taken (api/recording.py did not claim it), given the earlier claims
    {(client key id, key): (request digest, answer)}: the first answer when the body is the same
    and it was answered, else a Conflict."""
    for claim in claims:
        digest_then, answer = earlier.get(claim.pair, (None, None))
        if digest_then is not None and digest_then != claim.request_digest:
            claim.conflict = KeyReused("This Idempotency-Key was used with a different request body.")
        elif answer is not None:
            claim.previous_answer = answer
        else:  # held by a request still waiting (perhaps one in the same batch)
            claim.conflict = Conflict(STILL_ANSWERING)
