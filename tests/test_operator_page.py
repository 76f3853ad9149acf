"""The operator page and the /ws/alerts/ WebSocket: access control and what they show."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.urls import reverse

from fraudsite.asgi import application
from tests.support.kafka import unique
from tests.support.records import stored_verdict
from tests.support.websocket_clients import COMMUNICATOR_TIMEOUT, session_headers
from transactions.broadcast import push_verdicts
from users.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def viewer(django_user_model):
    user = django_user_model.objects.create_user(username=unique("viewer"), password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_verdict"))
    return user


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("operator"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_signed_in_users_without_the_permission_get_403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="nobody", password="pw"))
    assert client.get(reverse("operator")).status_code == 403


def test_the_page_lists_customers_and_embeds_recent_history(client, viewer, django_capture_on_commit_callbacks):
    Customer.objects.bulk_create([Customer(user_id="user_1", first_name="Lena", last_name="Whitaker", max_speed=10)])
    stored_verdict()
    client.force_login(viewer)
    page = client.get(reverse("operator")).content.decode()
    assert "Lena Whitaker (user_1, 10 km/h)" in page
    history = json.loads(page.split('<script id="history" type="application/json">')[1].split("</script>")[0])
    assert [(v["transaction_id"], v["status"], v["alert"]) for v in history] == [("tx-1", "FRAUD", True)]
    assert "leaflet/leaflet.js" in page and "transactions/operator.js" in page


def connect(headers):
    async def attempt():
        communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
        connected, _ = await communicator.connect(COMMUNICATOR_TIMEOUT)
        await communicator.disconnect(timeout=COMMUNICATOR_TIMEOUT)
        return connected
    return async_to_sync(attempt)()


def test_websocket_refuses_anonymous_unauthorised_and_foreign_origin(client, viewer, django_user_model):
    assert not connect([(b"origin", b"http://localhost")])
    unprivileged = django_user_model.objects.create_user(username="plain", password="pw")
    assert not connect(session_headers(client, unprivileged))
    assert not connect(session_headers(client, viewer, origin=b"http://evil.example"))
    # Another port of the same host is another origin (any local web app could be there).
    assert not connect(session_headers(client, viewer, origin=b"http://localhost:9999"))
    assert not connect(session_headers(client, viewer, origin=b"https://localhost:8000"))
    assert connect(session_headers(client, viewer))


def test_websocket_messages_carry_the_verdict_and_junk_from_clients_is_ignored(client, viewer):
    headers = session_headers(client, viewer)
    verdict = stored_verdict()

    async def exchange():
        communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
        assert (await communicator.connect(COMMUNICATOR_TIMEOUT))[0]
        await communicator.send_to(text_data="{not json")
        await communicator.send_to(text_data=json.dumps({"type": "anything"}))
        from asgiref.sync import sync_to_async
        await sync_to_async(push_verdicts)([verdict])
        (message,) = await communicator.receive_json_from(timeout=10)  # a frame: the push's messages
        await communicator.disconnect(timeout=COMMUNICATOR_TIMEOUT)
        return message

    message = async_to_sync(exchange)()
    assert message["type"] == "verdict" and message["alert"] is True
    assert {key: message[key] for key in ("transaction_id", "user_id", "status", "reason", "speed_kmh", "max_speed",
                                          "prev_lat", "prev_lng", "first_name")} == {
        "transaction_id": "tx-1", "user_id": "user_1", "status": "FRAUD", "reason": "speed_above_limit",
        "speed_kmh": 343.5, "max_speed": 10.0, "prev_lat": 51.5, "prev_lng": -0.12, "first_name": "Lena"}
    assert message["timestamp"] == "2026-05-01T12:00:00+00:00"


def test_a_push_is_encoded_once_per_process_and_a_changed_verdict_is_a_new_frame():
    from transactions.broadcast import PUSHED_FIELDS, frame_of_verdicts, message_of

    values = [f"value-{name}" for name in PUSHED_FIELDS]
    values[PUSHED_FIELDS.index("is_fraud")] = True
    frame = frame_of_verdicts([values])
    assert json.loads(frame) == [message_of(values)]
    assert frame_of_verdicts([list(values)]) is frame  # every socket of the process: the same text
    reviewed = list(values)
    reviewed[PUSHED_FIELDS.index("review_status")] = "confirmed_fraud"
    assert json.loads(frame_of_verdicts([reviewed]))[0]["review_status"] == "confirmed_fraud"


def test_the_page_shows_what_a_transaction_said_of_its_card_merchant_channel_device_and_ip(live_server, viewer):
    """In Chromium (pytest-django's live server; no WebSocket there, so from the embedded history):
    the context a verdict carries is a line under it, the card only by its token's last characters,
    and a verdict without context has no such line."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium
    from tests.support.reviews import verdict
    from tests.support.waiting import wait_until

    verdict(transaction_id="tx-plain", minutes=0)
    verdict(transaction_id="tx-context", minutes=1, card_token="c1f0e8b2a9d4476f8e3b5a7c9d2e1f04", card_bin="412345",
            merchant_id="m-4471", merchant_category_code="5411", merchant_country="FR", channel="card_present",
            device_id="dev-93a1", ip_address="2001:db8::7")
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}{reverse('operator')}")
            page.fill("input[name=username]", viewer.username)
            page.fill("input[name=password]", "pw")
            page.click("button[type=submit]")
            wait_until(lambda: page.locator("li[data-transaction-id]").count() == 2, 15, "both verdicts listed")
            lines = {id_: page.locator(f"li[data-transaction-id='{id_}'] .context").all_text_contents()
                     for id_ in ("tx-plain", "tx-context")}
        finally:
            browser.close()
    assert lines == {"tx-plain": [], "tx-context": [
        "merchant m-4471 (MCC 5411, FR) · card present · card …2e1f04 · BIN 412345 · device dev-93a1 · IP 2001:db8::7"]}
