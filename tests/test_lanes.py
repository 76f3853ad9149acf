"""The two test lanes: `make test` runs every test; `make test-fast` (-m "not stack") those that need
no JVM. A test that asks for the stack fixture, itself or through another (kafka, live_site), is a
`stack` test whether or not its module says so (tests/conftest.py)."""

import subprocess
import sys

import pytest
from django.conf import settings


def fixtures_of_the_fast_lane():
    """Every fixture name that some test of the fast lane asks for, directly or not, as pytest's
    --fixtures-per-test lists them ("name -- where it is defined"), collected in a pytest of its own."""
    listing = subprocess.run([sys.executable, "-m", "pytest", "--fixtures-per-test", "-m", "not stack",
                              "-p", "no:cacheprovider", "tests"],
                             cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stdout[-3000:] + listing.stderr[-3000:]
    return {line.split(" -- ")[0] for line in listing.stdout.splitlines() if " -- " in line}


def test_no_test_of_the_fast_lane_asks_for_the_stack():
    fixtures = fixtures_of_the_fast_lane()
    assert {"settings", "django_user_model"} <= fixtures  # the listing is read as pytest writes it
    assert not {"stack", "broker", "kafka", "live_site"} & fixtures


def test_each_worker_gets_a_redis_database_of_its_own():
    from tests.support.workers import redis_url_of_worker

    url = "redis://:secret@localhost:6379/2"
    assert [redis_url_of_worker(url, worker) for worker in ("gw0", "gw1", "gw5")] == [
        "redis://:secret@localhost:6379/2", "redis://:secret@localhost:6379/3", "redis://:secret@localhost:6379/7"]
    assert redis_url_of_worker("redis://localhost:6379", "gw1") == "redis://localhost:6379/1"
    with pytest.raises(pytest.UsageError, match="fewer workers"):
        redis_url_of_worker(url, "gw14")


def test_the_test_database_is_a_copy_of_a_template_with_every_migration_applied(db):
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from tests.support.database import TEMPLATE_PREFIX, _migrations_version

    if connection.vendor != "postgresql":
        pytest.skip("the template is PostgreSQL's (make test sets DATABASE_URL)")
    assert settings.DATABASES["default"]["TEST"]["TEMPLATE"] == TEMPLATE_PREFIX + _migrations_version()[:16]
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = set(cursor.fetchall())
    assert set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations) <= applied  # not a stale copy


def test_another_migration_or_package_is_another_template(tmp_path, settings):
    from tests.support.database import MIGRATIONS_IMPORT, _migrations_version

    (tmp_path / "shop" / "migrations").mkdir(parents=True)
    (tmp_path / "fraudsite").mkdir()
    for path in ["shop/migrations/0001_initial.py", *MIGRATIONS_IMPORT]:
        (tmp_path / path).write_text("# as it was\n")
    settings.BASE_DIR = tmp_path
    versions = [_migrations_version()]
    (tmp_path / "shop" / "migrations" / "0002_more.py").write_text("# a new migration\n")
    versions.append(_migrations_version())
    (tmp_path / "requirements.txt").write_text("Django==9.9\n")
    versions.append(_migrations_version())
    (tmp_path / "shop" / "models.py").write_text("# a model's code, which the migrations do not read\n")
    versions.append(_migrations_version())
    assert len(set(versions[:3])) == 3 and versions[3] == versions[2]
