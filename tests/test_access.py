"""Access control beyond the endpoints' own tests, and secrets kept out of pages and logs."""

import logging
import threading

import pytest
from django.test import Client
from django.urls import reverse

from outbox.publisher import publish_all_pending
from transactions.worker import Options, Worker
from users.models import Customer

pytestmark = pytest.mark.django_db

SENTINEL = "sentinel-secret-7f3a"


@pytest.mark.parametrize("path", ["/admin/", "/admin/users/customer/", "/admin/transactions/verdict/"])
def test_the_admin_sends_anonymous_and_non_staff_users_to_sign_in(path, django_user_model):
    assert Client().get(path)["Location"].startswith("/admin/login/")
    member = Client()
    member.force_login(django_user_model.objects.create_user(username="member", password="pw"))
    assert member.get(path)["Location"].startswith("/admin/login/")


def test_no_secret_reaches_error_pages_or_logs(settings, caplog, admin_user):
    settings.KAFKA_BOOTSTRAP_SERVERS = "localhost:1"  # nothing there: errors get logged and shown
    settings.KAFKA_SECURITY_PROTOCOL = "SASL_PLAINTEXT"
    settings.KAFKA_SASL_USERNAME = "fraudsite"
    settings.KAFKA_SASL_PASSWORD = SENTINEL
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 1000
    settings.SCHEMA_REGISTRY_API_SECRET = SENTINEL
    caplog.set_level(logging.DEBUG)
    Customer.objects.bulk_create([Customer(user_id="secretive", first_name="S", last_name="C", max_speed=10)])
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    pages = [
        client.post(reverse("api-transactions"), {"user_id": "secretive", "amount": 1, "lat": 0, "lng": 0},
                    content_type="application/json"),
        client.get("/no-such-page/"),
    ]
    assert publish_all_pending() == (0, 1)  # the customer's users-config record: the broker is unreachable
    worker = Worker(Options(group_id="secret-check"))
    threading.Timer(3, worker.stop).start()  # it retries an unreachable broker forever, logging as it goes
    worker.run()

    assert [page.status_code for page in pages] == [503, 404]
    assert all(SENTINEL not in page.content.decode() for page in pages)
    assert SENTINEL not in caplog.text
