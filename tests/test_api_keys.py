"""API keys in the admin: made with a key shown once, stored as a hash, scoped, revocable, never deleted."""

import re

import pytest
from django.db import connection
from django.urls import reverse

from api.models import ClientKey

pytestmark = pytest.mark.django_db


def test_a_key_made_in_the_admin_is_shown_once_and_stored_only_as_a_hash(admin_client):
    response = admin_client.post(reverse("admin:api_clientkey_add"), {
        "name": "card-auth", "scopes": ["decisions"], "rate_limit_per_minute": 600, "expiry_date_0": "",
        "expiry_date_1": ""})
    assert response.status_code == 302
    shown = admin_client.get(response.url).content.decode()  # the page after saving: the only one with the key
    key = re.search(r"The API key for card-auth is: (\S+)\. ", shown).group(1)
    client_key = ClientKey.objects.get(name="card-auth")
    assert ClientKey.objects.get_from_key(key) == client_key and client_key.scopes == ["decisions"]

    with connection.cursor() as cursor:  # nowhere in the database: not the key row, not its history
        for table in (ClientKey._meta.db_table, ClientKey.history.model._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")
            assert all(key.split(".")[1] not in str(row) for row in cursor.fetchall())
    page = admin_client.get(reverse("admin:api_clientkey_change", args=[client_key.pk])).content.decode()
    assert key not in page

    admin_client.post(reverse("admin:api_clientkey_change", args=[client_key.pk]), {
        "name": "card-auth", "scopes": ["decisions"], "rate_limit_per_minute": 600, "revoked": "on",
        "expiry_date_0": "", "expiry_date_1": ""})
    assert not ClientKey.objects.is_valid(key)
    assert client_key.history.count() == 2  # made, then revoked: audited
    assert admin_client.post(reverse("admin:api_clientkey_delete", args=[client_key.pk]),
                             {"post": "yes"}).status_code == 403


def test_a_key_needs_a_scope(admin_client):
    response = admin_client.post(reverse("admin:api_clientkey_add"), {"name": "nothing", "rate_limit_per_minute": 10})
    assert response.status_code == 200 and not ClientKey.objects.exists()
