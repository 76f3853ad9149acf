"""Constant statements on Django's connection, prepared by PostgreSQL (psycopg's server-side
parameters; Django's own cursor sends each statement as new text). For the batched request
paths, which run the same few statements thousands of times a second."""

import weakref

import psycopg
from django.db import connection

_not_waiting_for_disk = weakref.WeakSet()  # psycopg connections whose commits do not wait for the flush


def execute(sql, params):
    """Run sql with params; the psycopg cursor (for its rows)."""
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    cursor.execute(sql, params, prepare=True)
    return cursor


def commit_without_waiting_for_disk():
    """This thread's connection commits without waiting for the write-ahead log's flush
    (PostgreSQL's synchronous_commit off, for this session only): a commit is as visible and as
    atomic as before, but a PostgreSQL crash (not a client's) can lose the last few hundred
    milliseconds of commits. Once per connection."""
    connection.ensure_connection()
    raw = connection.connection
    if raw not in _not_waiting_for_disk:
        raw.execute("SET synchronous_commit TO off")
        _not_waiting_for_disk.add(raw)
