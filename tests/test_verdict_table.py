"""How the worker's storage writes the verdict table (PostgreSQL): what it converts, and which
indexes every stored verdict pays for."""

import re
from datetime import datetime, timezone

import pytest
from django.db import connection

from fraudsite.topics import VERDICTS
from tests.support.kafka import unique
from tests.support.records import VerdictMessage, verdict_record
from transactions.models import Verdict
from transactions.verdicts import model_values, parse_verdict, store_batch

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the staging table empties at commit, as the worker's
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="the verdict table's upsert and indexes are PostgreSQL's (make test sets DATABASE_URL)"),
]


def test_postgresql_stores_the_schemas_times_and_absent_text_as_the_orm_path_does():
    record = verdict_record("user_1", unique("tx"), timestamp=1_700_000_000_123, received_at=1_700_000_000_456,
                            prev_timestamp=1_699_999_999_001, prev_transaction_id=None, first_name=None)
    message = VerdictMessage(record, offset=3)

    store_batch([message], VERDICTS.codec())

    stored = Verdict.objects.get(transaction_id=record["transaction_id"])
    assert (stored.timestamp, stored.received_at, stored.prev_timestamp) == (
        datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc),
        datetime(2023, 11, 14, 22, 13, 20, 456000, tzinfo=timezone.utc),
        datetime(2023, 11, 14, 22, 13, 19, 1000, tzinfo=timezone.utc))
    assert (stored.prev_transaction_id, stored.first_name, stored.last_name) == ("", "", "Whitaker")
    orm_values = model_values(parse_verdict(message, VERDICTS.codec()))
    assert {name: getattr(stored, name) for name in orm_values} == orm_values


def test_the_verdict_table_has_only_the_indexes_a_query_reads():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [Verdict._meta.db_table])
        definitions = [definition for (definition,) in cursor.fetchall()]
    # "UNIQUE", the indexed columns (with any operator class), and the partial index's condition.
    indexes = sorted(re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ USING btree ", r"\1", definition)
                     for definition in definitions)
    assert indexes == sorted([
        "UNIQUE (id)",              # the primary key
        "UNIQUE (transaction_id)",  # the insert's conflict target; alert pages; a transaction's verdict
        "(customer_id)",            # the customer's foreign key
        "(user_id)",                # the customer page; a proposal's replay
        "(received_at)",            # the operator page's latest verdicts
        "(received_at) INCLUDE (id, reasons) WHERE is_fraud",  # the analytics
    ])
