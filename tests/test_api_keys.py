"""API keys in the admin: made with a key shown once, stored as a hash, scoped, revocable, never deleted."""

import re

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.http import HttpRequest
from django.urls import reverse

from api.models import ClientKey

pytestmark = pytest.mark.django_db


def test_a_key_made_in_the_admin_is_shown_once_and_stored_only_as_a_hash(admin_client):
    response = admin_client.post(reverse("admin:api_clientkey_add"), {
        "name": "card-auth", "scopes": ["decisions"], "rate_limit_per_minute": 600, "expiry_date_0": "",
        "expiry_date_1": ""})
    assert response.status_code == 200  # the answer to the save is the only page with the key
    key = re.search(r'<code id="api-key">([^<]+)</code>', response.content.decode()).group(1)
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


def test_the_new_key_travels_in_no_cookie(admin_client):
    """Not in the messages cookie (signed, but anyone holding it can read it), nor any other."""
    response = admin_client.post(reverse("admin:api_clientkey_add"), {
        "name": "card-auth", "scopes": ["decisions"], "rate_limit_per_minute": 600, "expiry_date_0": "",
        "expiry_date_1": ""})
    prefix = ClientKey.objects.get(name="card-auth").prefix  # the key is "<prefix>.<secret>"
    cookies = {name: morsel.value for name, morsel in response.cookies.items()}
    readable = [str(message) for message in CookieStorage(HttpRequest())._decode(cookies.get("messages", "")) or []]
    assert not [text for text in [*cookies.values(), *readable] if prefix in text]
    assert prefix in response.content.decode()  # shown on the page instead
