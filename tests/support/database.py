"""The tests' PostgreSQL database made quicker to write and to empty, without changing what it holds.

- Commits do not wait for the disk (`synchronous_commit = off` on the test database only): a
  lost commit would matter after a crash of the machine, which ends a test session anyway.
- A transactional test's database is emptied by truncating only the tables that hold rows.
  Django's flush truncates every table (42) and then recreates the content types and
  permissions; PostgreSQL's TRUNCATE costs milliseconds a table however empty it is, which made
  emptying 0.3-0.9 s after each transactional test. The content types and permissions, which flush
  would recreate as they were, are kept; every other table with a row is truncated as before.
- At the end, the sessions still open on the test database are ended, so that it can be dropped:
  the threads that look customers and keys up (fraudsite.caching) keep a connection each.
"""

from contextlib import contextmanager
from unittest import mock

from django.core.management.commands import flush

RECREATED_BY_FLUSH = {"django_content_type", "auth_permission"}


def commit_without_waiting_for_the_disk(connection):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} "
                           "SET synchronous_commit = off")
        connection.close()  # the setting applies from the next connection


def end_other_sessions(connection):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def tables_with_rows(connection, tables):
    if not tables:
        return []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})" for table in tables),
                       tables)
        return [row[0] for row in cursor.fetchall()]


@contextmanager
def flush_only_tables_with_rows():
    everything = flush.sql_flush

    def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        if connection.vendor != "postgresql" or reset_sequences:  # (a sequence is reset even in an empty table)
            return everything(style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        written = [table for table in tables_with_rows(connection, tables) if table not in RECREATED_BY_FLUSH]
        # CASCADE: an empty table that refers to a truncated one is emptied with it, as flush would.
        return connection.ops.sql_flush(style, written, allow_cascade=True)

    with mock.patch.object(flush, "sql_flush", sql_flush):
        yield
