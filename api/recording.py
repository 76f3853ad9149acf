"""What the decision path writes before it sends a transaction, for a batch of requests in one
statement (its rows as one JSON parameter: one value to send, not an array per column): each
request's Idempotency-Key claim (api.Decision) and its transaction row
(transactions.Transaction), and the answers given since the previous batch. One statement is
one round trip and is atomic: a claim is never left without its transaction row, nor a row
without its claim. A transaction id taken before is not recorded (409); a key taken before is
not claimed again (a retry, or a conflict).

It runs on the web process's event loop, on an asynchronous connection of its own (psycopg), and
its commits do not wait for the disk unless DECISION_SYNCHRONOUS_COMMIT says so (settings)."""

import asyncio
import json
from functools import cache

import psycopg
from django.conf import settings
from django.db import connection as django_connection
from django.utils import timezone

from transactions import context
from transactions.models import Transaction, Verdict
from transactions.verdicts import MEASUREMENTS

from .models import Decision


def _table(model):
    return model._meta.db_table


def _column(model, name):
    return model._meta.get_field(name).column


class Connection:
    """The decision path's connection: opened when first needed on the running event loop, and
    opened again when it broke (PostgreSQL restarted) or a new loop runs (a test's)."""

    def __init__(self):
        self._connection = self._loop = None

    async def get(self):
        loop = asyncio.get_running_loop()
        if self._connection is None or self._connection.broken or self._connection.closed or self._loop is not loop:
            self.close()
            self._connection, self._loop = await self._connect(), loop
        return self._connection

    def close(self):
        """At once, from any thread: its event loop may have closed already."""
        if self._connection is not None and not self._connection.closed:
            self._connection.pgconn.finish()
        self._connection = self._loop = None

    @staticmethod
    async def _connect():
        # Django's own parameters (the same database, user and password), without its cursor
        # class and adapters, which are for its synchronous connections.
        params = {name: value for name, value in django_connection.get_connection_params().items()
                  if name not in ("cursor_factory", "context", "prepare_threshold")}
        connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
        # Off: a commit is as atomic and visible as before; a PostgreSQL crash (not a client's) can
        # lose the last few hundred milliseconds of commits (docs/api/decisions.md). On is said
        # too, so that the setting holds whatever the database's own default is.
        await connection.execute(f"SET synchronous_commit TO {'on' if settings.DECISION_SYNCHRONOUS_COMMIT else 'off'}")
        return connection

    async def execute(self, sql, params):
        """The rows of sql run with params, prepared by PostgreSQL (the same few statements run
        thousands of times a second)."""
        cursor = await (await self.get()).execute(sql, params, prepare=True)
        return await cursor.fetchall() if cursor.description else []


connection = Connection()


@cache
def _statement():
    context_columns = ", ".join(_column(Transaction, name) for name in context.NAMES)
    context_columns_typed = ", ".join(f"{name} text" for name in context.NAMES)
    return f"""
        WITH answered AS (
            UPDATE {_table(Decision)} AS decision SET {_column(Decision, "answer")} = answer.answer
            FROM jsonb_to_recordset(%s::jsonb) AS answer(id bigint, answer jsonb)
            WHERE decision.{Decision._meta.pk.column} = answer.id
                AND decision.{_column(Decision, "answer")} IS NULL  -- the first answer stays
        ), given AS (
            SELECT * FROM jsonb_to_recordset(%s::jsonb)
                AS given(transaction_id text, customer_id bigint, at timestamptz, lat float8, lng float8,
                         amount float8, {context_columns_typed}, client_key_id text, idempotency_key text,
                         request_digest text)
        ), claimed AS (
            INSERT INTO {_table(Decision)} ({_column(Decision, "client_key")}, {_column(Decision, "idempotency_key")},
                {_column(Decision, "request_digest")}, {_column(Decision, "transaction_id")},
                {_column(Decision, "created_at")})
            SELECT client_key_id, idempotency_key, request_digest, transaction_id, %s FROM given
            WHERE idempotency_key IS NOT NULL
            ON CONFLICT ({_column(Decision, "client_key")}, {_column(Decision, "idempotency_key")}) DO NOTHING
            RETURNING {_column(Decision, "id")} AS decision_id, {_column(Decision, "transaction_id")} AS transaction_id
        ), recorded AS (
            INSERT INTO {_table(Transaction)} ({_column(Transaction, "transaction_id")},
                {_column(Transaction, "customer")}, {_column(Transaction, "timestamp")}, {_column(Transaction, "lat")},
                {_column(Transaction, "lng")}, {_column(Transaction, "amount")}, {context_columns},
                {_column(Transaction, "submitted_at")})
            SELECT transaction_id, customer_id, at, lat, lng, amount, {", ".join(context.NAMES)}, %s FROM given
            WHERE idempotency_key IS NULL OR transaction_id IN (SELECT transaction_id FROM claimed)
            ON CONFLICT ({_column(Transaction, "transaction_id")}) DO NOTHING
            RETURNING {_column(Transaction, "transaction_id")} AS transaction_id
        )
        SELECT claimed.decision_id, claimed.transaction_id, NULL FROM claimed
        UNION ALL SELECT NULL, NULL, recorded.transaction_id FROM recorded"""


async def save_answers_claim_and_record(answers, requests):
    """One statement: save answers [(decision id, answer)] (what a retry with the key will get),
    then claim and record requests [(cleaned, claim or None)], each transaction id once. A retry
    among the requests whose key is answered here finds the answer (claims_of, a later statement).
    Returns ({transaction id: decision id} of the claims made, {transaction ids recorded})."""
    saved = json.dumps([{"id": decision_id, "answer": answer} for decision_id, answer in answers])
    given = json.dumps([
        {"transaction_id": cleaned["transaction_id"], "customer_id": cleaned["customer"].pk,
         "at": cleaned["timestamp"].isoformat(), "lat": cleaned["lat"], "lng": cleaned["lng"],
         "amount": cleaned["amount"], **context.values_of(cleaned),
         **({"client_key_id": claim.client_key_id,
                                         "idempotency_key": claim.idempotency_key,
                                         "request_digest": claim.request_digest} if claim else {})}
        for cleaned, claim in requests])
    now = timezone.now()
    claimed, recorded = {}, set()
    for decision_id, claimed_transaction, recorded_transaction in await connection.execute(
            _statement(), [saved, given, now, now]):
        if decision_id is not None:
            claimed[claimed_transaction] = decision_id
        else:
            recorded.add(recorded_transaction)
    return claimed, recorded


class EarlierClaim:
    """A taken key's first claim, and its transaction's stored verdict record (None if none yet)."""

    def __init__(self, decision_id, request_digest, answer, created_at, verdict):
        self.decision_id, self.request_digest, self.answer = decision_id, request_digest, answer
        self.created_at, self.verdict = created_at, verdict


VERDICT_FIELDS = ["transaction_id", "outcome", "score", "status", "reasons", *MEASUREMENTS]


@cache
def _claims_statement():
    key_columns = [_column(Decision, "client_key"), _column(Decision, "idempotency_key")]
    claim_columns = [Decision._meta.pk.column, *key_columns,
                     *(_column(Decision, name) for name in ("request_digest", "answer", "created_at"))]
    return f"""
        SELECT {", ".join(f"decision.{column}" for column in claim_columns)},
               {", ".join(f"verdict.{_column(Verdict, name)}" for name in VERDICT_FIELDS)}
        FROM {_table(Decision)} AS decision
        JOIN jsonb_to_recordset(%s::jsonb) AS given(client_key_id text, idempotency_key text)
            ON decision.{key_columns[0]} = given.client_key_id AND decision.{key_columns[1]} = given.idempotency_key
        LEFT JOIN {_table(Verdict)} AS verdict
            ON verdict.{_column(Verdict, "transaction_id")} = decision.{_column(Decision, "transaction_id")}"""


async def claims_of(pairs):
    """{(client key id, Idempotency-Key): EarlierClaim} of the keys claimed before."""
    rows = await connection.execute(_claims_statement(), [json.dumps(
        [{"client_key_id": client_key_id, "idempotency_key": key} for client_key_id, key in pairs])])
    return {(client_key_id, key): EarlierClaim(decision_id, digest, answer, created_at,
                                               dict(zip(VERDICT_FIELDS, verdict)) if verdict[0] else None)
            for decision_id, client_key_id, key, digest, answer, created_at, *verdict in rows}


async def forget(transaction_ids, decision_ids):
    """Nothing was sent for these: their transaction rows go, and their keys are free for a retry."""
    if transaction_ids:
        await connection.execute(f"DELETE FROM {_table(Transaction)} WHERE {_column(Transaction, 'transaction_id')}"
                                 f" = ANY(%s)", [list(transaction_ids)])
    if decision_ids:
        await connection.execute(f"DELETE FROM {_table(Decision)} WHERE {Decision._meta.pk.column} = ANY(%s)",
                                 [list(decision_ids)])
