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
- Each test database is a copy of a template database that `manage.py migrate` made from an empty
  one, once per version of what the migrations make (their files, the roles they import, the
  pinned packages) and kept on the server: every pytest process ran every migration before, about
  2 s of CPU each, four at once while the stack started.
"""

import hashlib
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.management.commands import flush

TEMPLATE_PREFIX = "fraudsite_test_template_"
# pg_advisory_lock's key while a template is looked for or made: one process makes it, the others wait.
TEMPLATE_LOCK = 7305001
# What a migrated database depends on, besides the migrations themselves.
MIGRATIONS_IMPORT = ["fraudsite/roles.py", "requirements.txt"]

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


def server_url():
    """postgresql://user:password@host:port of the server the tests use (a database name is appended)."""
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"


def copy_test_databases_from_a_migrated_template():
    """For django_db_modify_db_settings: the test database is created from the migrated template
    (made first if this version of the migrations has none yet), so that creating it migrates nothing."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg

    name = TEMPLATE_PREFIX + _migrations_version()[:16]
    server = server_url()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", [TEMPLATE_LOCK])
        try:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                _make_template(admin, server, name)
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", [TEMPLATE_LOCK])
    db.setdefault("TEST", {})["TEMPLATE"] = name


def _migrations_version():
    base = Path(settings.BASE_DIR)
    files = sorted({*base.glob("*/migrations/*.py"), *(base / path for path in MIGRATIONS_IMPORT)})
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _make_template(admin, server, name):
    """Migrate a new database from empty with manage.py, as a user's first `make run` does, under a
    name of its own until it is whole; templates of other versions of the migrations are dropped
    (one in use by another session is left)."""
    import psycopg

    for (other,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                  [TEMPLATE_PREFIX + "%"]).fetchall():
        try:
            admin.execute(f'DROP DATABASE "{other}"')
        except psycopg.errors.ObjectInUse:
            pass
    building = name + "_building"
    admin.execute(f'CREATE DATABASE "{building}"')
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=settings.BASE_DIR,
                              env={**os.environ, "DATABASE_URL": f"{server}/{building}"}, capture_output=True, text=True)
    if migrated.returncode != 0:
        admin.execute(f'DROP DATABASE "{building}" WITH (FORCE)')
        raise RuntimeError(f"migrating the tests' template database failed:\n{migrated.stdout}{migrated.stderr}")
    admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
