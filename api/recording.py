"""What the decision path writes before it sends a transaction, for a batch of requests in one
statement (its rows as one JSON parameter: one value to send, not an array per column): each
request's Idempotency-Key claim (api.Decision) and its transaction row
(transactions.Transaction). One statement is one round trip and is atomic: a claim is never
left without its transaction row, nor a row without its claim. A transaction id taken before
is not recorded (409); a key taken before is not claimed again (a retry, or a conflict).
Their commits do not wait for the disk unless DECISION_SYNCHRONOUS_COMMIT says so (settings)."""

import json
from functools import cache

from django.conf import settings
from django.utils import timezone

from fraudsite import bulk
from transactions.models import Transaction

from .models import Decision


def execute(sql, params):
    if not settings.DECISION_SYNCHRONOUS_COMMIT:
        bulk.commit_without_waiting_for_disk()
    return bulk.execute(sql, params)


@cache
def _statement():
    def table(model):
        return model._meta.db_table

    def column(model, name):
        return model._meta.get_field(name).column

    return f"""
        WITH given AS (
            SELECT * FROM jsonb_to_recordset(%s::jsonb)
                AS given(transaction_id text, customer_id bigint, at timestamptz, lat float8, lng float8,
                         amount float8, client_key_id text, idempotency_key text, request_digest text)
        ), claimed AS (
            INSERT INTO {table(Decision)} ({column(Decision, "client_key")}, {column(Decision, "idempotency_key")},
                {column(Decision, "request_digest")}, {column(Decision, "transaction_id")},
                {column(Decision, "created_at")})
            SELECT client_key_id, idempotency_key, request_digest, transaction_id, %s FROM given
            WHERE idempotency_key IS NOT NULL
            ON CONFLICT ({column(Decision, "client_key")}, {column(Decision, "idempotency_key")}) DO NOTHING
            RETURNING {column(Decision, "id")} AS decision_id, {column(Decision, "transaction_id")} AS transaction_id
        ), recorded AS (
            INSERT INTO {table(Transaction)} ({column(Transaction, "transaction_id")},
                {column(Transaction, "customer")}, {column(Transaction, "timestamp")}, {column(Transaction, "lat")},
                {column(Transaction, "lng")}, {column(Transaction, "amount")}, {column(Transaction, "submitted_at")})
            SELECT transaction_id, customer_id, at, lat, lng, amount, %s FROM given
            WHERE idempotency_key IS NULL OR transaction_id IN (SELECT transaction_id FROM claimed)
            ON CONFLICT ({column(Transaction, "transaction_id")}) DO NOTHING
            RETURNING {column(Transaction, "transaction_id")} AS transaction_id
        )
        SELECT claimed.decision_id, claimed.transaction_id, NULL FROM claimed
        UNION ALL SELECT NULL, NULL, recorded.transaction_id FROM recorded"""


def claim_and_record(requests):
    """requests: [(cleaned, claim or None)], each transaction id once. Returns ({transaction id:
    decision id} of the claims made, {transaction ids recorded})."""
    given = json.dumps([
        {"transaction_id": cleaned["transaction_id"], "customer_id": cleaned["customer"].pk,
         "at": cleaned["timestamp"].isoformat(), "lat": cleaned["lat"], "lng": cleaned["lng"],
         "amount": cleaned["amount"], **({"client_key_id": claim.client_key_id,
                                         "idempotency_key": claim.idempotency_key,
                                         "request_digest": claim.request_digest} if claim else {})}
        for cleaned, claim in requests])
    now = timezone.now()
    claimed, recorded = {}, set()
    for decision_id, claimed_transaction, recorded_transaction in execute(_statement(), [given, now, now]):
        if decision_id is not None:
            claimed[claimed_transaction] = decision_id
        else:
            recorded.add(recorded_transaction)
    return claimed, recorded


@cache
def _answers_statement():
    id_column, answer_column = Decision._meta.pk.column, Decision._meta.get_field("answer").column
    return f"""
        UPDATE {Decision._meta.db_table} AS decision SET {answer_column} = given.answer
        FROM jsonb_to_recordset(%s::jsonb) AS given(id bigint, answer jsonb)
        WHERE decision.{id_column} = given.id"""


def save_answers(answers):
    """answers: [(decision id, answer)]; what a retry with the key will get."""
    if answers:
        execute(_answers_statement(), [json.dumps([{"id": decision_id, "answer": answer}
                                                   for decision_id, answer in answers])])
