"""Processes started beside the tests."""

from django.db import connection


def database_url():
    """The URL of the database this test runs on, for processes started beside it."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
