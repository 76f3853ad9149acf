"""Constant statements on Django's connection, prepared by PostgreSQL (psycopg's server-side
parameters; Django's own cursor sends each statement as new text). For the batched request
paths, which run the same few statements thousands of times a second."""

import psycopg
from django.db import connection


def execute(sql, params):
    """Run sql with params; the psycopg cursor (for its rows)."""
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    cursor.execute(sql, params, prepare=True)
    return cursor
