"""Idempotency-Key: a retry of a decision request gets the first answer, never a second transaction.

The keys live in PostgreSQL (api.Decision, unique per API key), so every web process sees the
same ones and a restart forgets none. The decision path claims keys (api/recording.py) and stores
answers for many requests at once (api/endpoint.py batches them)."""

import hashlib
import json
from functools import reduce
from operator import or_

from django.db.models import Q

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


def resolve_taken(claims):
    """For claims whose key was taken (api/recording.py did not claim it): the first answer when
    the body is the same and it was answered, else a Conflict."""
    query = reduce(or_, (Q(client_key_id=claim.client_key_id, idempotency_key=claim.idempotency_key)
                         for claim in claims))
    first = {(decision.client_key_id, decision.idempotency_key): decision for decision in
             Decision.objects.filter(query).only("client_key_id", "idempotency_key", "request_digest", "answer")}
    for claim in claims:
        earlier = first.get(claim.pair)
        if earlier is not None and earlier.request_digest != claim.request_digest:
            claim.conflict = KeyReused("This Idempotency-Key was used with a different request body.")
        elif earlier is not None and earlier.answer is not None:
            claim.previous_answer = earlier.answer
        else:  # held by a request still waiting (perhaps one in the same batch)
            claim.conflict = Conflict(STILL_ANSWERING)


def release_many(decision_ids):
    """Nothing was decided for these keys (the broker refused the transaction): a retry may try again."""
    Decision.objects.filter(id__in=decision_ids).delete()
