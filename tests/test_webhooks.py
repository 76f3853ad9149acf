"""Signed webhooks: each event once and in order per customer, through a receiver that is slow,
down for a minute or failing, and a deliverer killed mid-delivery; signatures, give-up, the admin."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts import cases, reviews
from alerts.models import Case
from fraudsite.topics import VERDICTS
from tests.support.kafka import unique
from tests.support.records import VerdictMessage, verdict_record
from tests.support.reviews import user_with
from tests.support.site import database_url, site_processes
from tests.support.waiting import wait_until
from tests.support.webhooks import Receiver, documented_verify_webhook
from transactions.models import Verdict
from transactions.verdicts import store_batch
from users.models import Customer
from webhooks import deliveries, targets
from webhooks.deliveries import deliver_all_due
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, EventType

FRAUD = dict(status="FRAUD", is_fraud=True, reason="speed_above_limit", reasons="speed_above_limit,velocity_exceeded",
             speed_kmh=343.5, distance_km=343.5, elapsed_seconds=3600.0, score=100.0, outcome="decline")


# Transactional: each store_batch commits, as the worker's do (its staging table empties at commit).
pytestmark = pytest.mark.django_db(transaction=True)
# The receiver listens on loopback, which webhooks may reach only when it is named internal.
INTERNAL_HOSTS = "127.0.0.1"


@pytest.fixture(autouse=True)
def receiver_on_loopback_allowed(settings):
    settings.WEBHOOK_INTERNAL_HOSTS = [INTERNAL_HOSTS]


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def endpoint_for(receiver, *event_types):
    endpoint = Endpoint.objects.create(url=receiver.url, event_types=list(event_types or EventType.values))
    receiver.secret = endpoint.secret
    return endpoint


def customers(count):
    return [Customer.objects.create(user_id=unique(f"c{n}"), first_name="Lena", last_name="W", max_speed=10)
            for n in range(count)]


def store(*records):
    """As the worker stores a batch read from Kafka."""
    store_batch([VerdictMessage(record, offset=n) for n, record in enumerate(records)], VERDICTS.codec())


def expected_order(endpoint):
    """{user_id: [event ids in the order the events were written]}"""
    order = {}
    for key, event_id in Delivery.objects.filter(endpoint=endpoint).order_by("id").values_list("ordering_key",
                                                                                                   "event_id"):
        order.setdefault(key, []).append(str(event_id))
    return order


def first_arrivals(receiver):
    """The receiver's events per customer in arrival order, a redelivery counted at its first arrival."""
    return {key: list(dict.fromkeys(ids)) for key, ids in receiver.by_customer().items()}


@contextmanager
def deliverer(log, **env):
    """manage.py deliver_webhooks in its own process, on this test's database."""
    environment = {**os.environ, "DATABASE_URL": database_url(), "WEBHOOK_POLL_SECONDS": "0.05",
                   "WEBHOOK_INTERNAL_HOSTS": INTERNAL_HOSTS,
                   **{name: str(value) for name, value in env.items()}}
    with open(log, "a") as output:
        process = subprocess.Popen([sys.executable, "manage.py", "deliver_webhooks"], cwd=django_settings.BASE_DIR,
                                   env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        print(open(log).read()[-3000:])


def all_delivered():
    return Delivery.objects.filter(delivered_at=None).count() == 0 and Delivery.objects.exists()


# --- Signatures ---------------------------------------------------------------------------------

def test_the_documented_snippet_accepts_our_signature_and_refuses_anything_else():
    verify, body, secret = documented_verify_webhook(), b'{"id":"e1","type":"verdict"}', "whsec_test"
    now = int(time.time())
    assert verify(secret, deliveries.signature(secret, now, body), body)
    assert not verify("whsec_other", deliveries.signature(secret, now, body), body)
    assert not verify(secret, deliveries.signature(secret, now, body), body.replace(b"e1", b"e2"))
    assert not verify(secret, deliveries.signature(secret, now - 600, body), body)  # replayed later
    for header in ["", "garbage", "t=abc,v1=00", f"t={now}", f"v1={'0' * 64}"]:
        assert not verify(secret, header, body)


# --- Each event once, in order per customer ------------------------------------------------------

def test_every_event_arrives_once_signed_and_in_order_per_customer(receiver, django_user_model):
    endpoint = endpoint_for(receiver)
    lena, elias, nina = customers(3)
    analyst = user_with(django_user_model, "view_verdict", "review_alert")
    first_batch = [verdict_record(c.user_id, f"{c.user_id}-{n}", **(FRAUD if n else {}))
                   for n in range(2) for c in (lena, elias, nina)]
    store(*first_batch)
    store(*first_batch)  # Kafka redelivers a batch after a crash: no second event
    frauds = {c.user_id: Verdict.objects.get(transaction_id=f"{c.user_id}-1") for c in (lena, elias, nina)}
    with pytest.raises(reviews.ReviewError):  # all or none: a refused decision announces nothing
        reviews.review_alerts([frauds[nina.user_id].pk, Verdict.objects.get(transaction_id=f"{nina.user_id}-0").pk],
                              "confirmed_fraud", "Stolen card.", analyst)
    reviews.review_alert(frauds[lena.user_id].pk, "confirmed_fraud", "Stolen card.", analyst)
    case, _ = cases.open_case(elias, analyst)
    cases.decide_case(case.pk, "false_positive", "Travelling.", analyst)
    store(*[verdict_record(c.user_id, f"{c.user_id}-2") for c in (lena, elias, nina)])

    assert deliver_all_due() == (12, 0)

    assert receiver.rejected == []
    assert sorted(receiver.event_ids()) == sorted(str(i) for i in Delivery.objects.values_list("event_id", flat=True))
    assert len(set(receiver.event_ids())) == len(receiver.received) == 12  # each once
    assert receiver.by_customer() == expected_order(endpoint)
    types = {key: [item.event_type for item in receiver.received if item.body["data"]["user_id"] == key]
             for key in (lena.user_id, elias.user_id, nina.user_id)}
    assert types == {lena.user_id: ["verdict", "verdict", "alert_reviewed", "verdict"],
                     elias.user_id: ["verdict", "verdict", "alert_reviewed", "case_decided", "verdict"],
                     nina.user_id: ["verdict", "verdict", "verdict"]}
    bodies = {(item.event_type, item.body["data"]["user_id"]): item.body for item in receiver.received}
    verdict = bodies["verdict", nina.user_id]
    assert verdict["type"] == "verdict" and verdict["id"] == receiver.by_customer()[nina.user_id][-1]
    fraud = next(item.body["data"] for item in receiver.received if item.body["data"].get("transaction_id")
                 == f"{lena.user_id}-1" and item.event_type == "verdict")
    assert fraud == {"transaction_id": f"{lena.user_id}-1", "user_id": lena.user_id, "status": "FRAUD",
                     "outcome": "decline", "score": 100.0,
                     "reasons": ["speed_above_limit", "velocity_exceeded"],
                     "measurements": {"prev_transaction_id": None, "max_speed": 10.0, "distance_km": 343.5,
                                      "elapsed_seconds": 3600.0, "speed_kmh": 343.5, "spend_factor": None,
                                      "average_amount": None, "local_hour": None},
                     "received_at": "2023-11-14T22:13:20.005000+00:00"}
    review = bodies["alert_reviewed", lena.user_id]["data"]
    assert review["transaction_id"] == f"{lena.user_id}-1" and review["decision"] == "confirmed_fraud"
    assert review["comment"] == "Stolen card." and review["reviewer"] == analyst.username and review["decided_at"]
    decided = bodies["case_decided", elias.user_id]["data"]
    assert decided == {"case_id": case.pk, "user_id": elias.user_id, "decision": "false_positive",
                       "alerts": [f"{elias.user_id}-1"], "decided_by": analyst.username,
                       "decided_at": Case.objects.get(pk=case.pk).decided_at.isoformat()}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert set(DeliveryAttempt.objects.values_list("status_code", flat=True)) == {200}
    assert deliver_all_due() == (0, 0)  # nothing is sent twice


def test_endpoints_get_only_what_they_subscribe_to_and_inactive_ones_wait(receiver, django_user_model):
    cases_only = endpoint_for(receiver, "case_decided")
    paused = Endpoint.objects.create(url=receiver.url, event_types=["verdict"], active=False)
    (lena,) = customers(1)
    store(verdict_record(lena.user_id, unique("tx"), **FRAUD))
    analyst = user_with(django_user_model, "view_verdict", "review_alert")
    case, _ = cases.open_case(lena, analyst)
    cases.decide_case(case.pk, "confirmed_fraud", "Stolen.", analyst)
    assert list(Delivery.objects.values_list("endpoint", "event_type")) == [(cases_only.pk, "case_decided")]
    Endpoint.objects.filter(pk=paused.pk).update(active=True)
    store(verdict_record(lena.user_id, unique("tx")))
    Endpoint.objects.filter(pk=paused.pk).update(active=False)
    assert deliver_all_due() == (1, 0)
    assert Delivery.objects.get(endpoint=paused).delivered_at is None


def test_storing_verdicts_costs_one_query_per_batch_and_none_per_verdict(receiver):
    (lena,) = customers(1)

    def queries(count, what):
        with CaptureQueriesContext(connection) as captured:
            store(*[verdict_record(lena.user_id, unique("tx")) for _ in range(count)])
        return [query["sql"] for query in captured.captured_queries if what in query["sql"]]

    assert len(queries(200, "webhooks_endpoint")) == 1 and queries(200, "webhooks_delivery") == []
    endpoint_for(receiver, "alert_reviewed")  # subscribed to something else
    assert len(queries(200, "webhooks_endpoint")) == 1 and queries(200, "webhooks_delivery") == []
    endpoint_for(receiver, "verdict")
    assert len(queries(3, "webhooks_")) == len(queries(200, "webhooks_")) == 2  # endpoints, one bulk insert
    assert Delivery.objects.count() == 203


# --- Failures ------------------------------------------------------------------------------------

def test_a_failed_delivery_is_retried_and_holds_back_its_customers_later_ones(receiver, settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    endpoint_for(receiver, "verdict")
    lena, nina = customers(2)
    receiver.answers_for = {lena.user_id: [500]}  # (Nina's delivery is sent at the same time as Lena's)
    store(verdict_record(lena.user_id, "l1"), verdict_record(lena.user_id, "l2"), verdict_record(nina.user_id, "n1"))

    assert deliver_all_due() == (1, 1)
    first, second, other = Delivery.objects.order_by("id")
    assert (first.attempts, first.delivered_at, second.attempts, second.delivered_at) == (1, None, 0, None)
    assert other.delivered_at is not None  # another customer does not wait
    assert 29 <= (first.next_attempt_at - timezone.now()).total_seconds() <= 30
    attempt = first.delivery_attempts.get()
    assert attempt.status_code == 500 and attempt.error == ""
    assert len(attempt.response_excerpt) <= targets.EXCERPT_CHARS  # bounded
    assert deliver_all_due() == (0, 0)  # not due yet

    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())  # the back-off has passed
    assert deliver_all_due() == (2, 0)
    assert receiver.by_customer()[lena.user_id] == [str(first.event_id), str(first.event_id), str(second.event_id)]
    assert list(first.delivery_attempts.values_list("status_code", flat=True)) == [500, 200]


def test_deliver_webhooks_once_sends_what_is_due_and_exits(receiver):
    endpoint_for(receiver, "verdict")
    (lena,) = customers(1)
    store(verdict_record(lena.user_id, "l1"), verdict_record(lena.user_id, "l2"))
    output = StringIO()
    call_command("deliver_webhooks", "--once", stdout=output)
    assert output.getvalue().strip() == "webhooks: 2 delivered, 0 failed (retried later)"
    assert len(receiver.received) == 2


def test_back_off_doubles_up_to_its_cap(settings):
    settings.WEBHOOK_BACKOFF_SECONDS, settings.WEBHOOK_BACKOFF_MAX_SECONDS = 5, 900
    assert [deliveries.backoff(n) for n in (1, 2, 3, 4, 8, 9, 1000)] == [5, 10, 20, 40, 640, 900, 900]


def test_timeouts_refusals_and_bad_signatures_are_failed_attempts(receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    endpoint = endpoint_for(receiver, "verdict")
    (lena,) = customers(1)
    store(verdict_record(lena.user_id, "slow"))
    receiver.delay = 1
    deliver_all_due()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and attempt.error == targets.NO_ANSWER  # (the receiver answers after 1 s)

    receiver.delay, receiver.secret = 0, "whsec_not_the_endpoints"
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliver_all_due()
    assert len(receiver.rejected) == 1 and len(receiver.received) == 1  # the one that timed out
    assert DeliveryAttempt.objects.order_by("id").last().status_code == 400

    Endpoint.objects.filter(pk=endpoint.pk).update(url="http://127.0.0.1:9/nobody-listens")
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliver_all_due()
    assert DeliveryAttempt.objects.order_by("id").last().error == targets.NO_ANSWER
    assert Delivery.objects.get().delivered_at is None


def test_a_delivery_is_given_up_after_the_retry_window_and_can_be_retried(receiver, settings):
    settings.WEBHOOK_RETRY_HOURS = 24
    endpoint_for(receiver, "verdict")
    (lena,) = customers(1)
    receiver.status = 503
    store(verdict_record(lena.user_id, "old"), verdict_record(lena.user_id, "recent"))
    old, recent = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    Delivery.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(hours=23))

    assert deliver_all_due() == (0, 2)  # the given-up one no longer holds back the next
    old.refresh_from_db(), recent.refresh_from_db()
    assert old.given_up_at is not None and old.state == "given up"
    assert recent.given_up_at is None and recent.next_attempt_at > timezone.now() and recent.state == "retrying"

    receiver.status = 200
    assert deliveries.retry_now(Delivery.objects.filter(pk=old.pk)) == 1
    assert deliver_all_due() == (1, 0)  # the retried one first: it holds back the later one again
    old.refresh_from_db()
    assert old.delivered_at is not None and old.attempts == 2


# --- The admin -----------------------------------------------------------------------------------

def test_the_admin_creates_endpoints_shows_the_secret_once_and_lists_deliveries_with_attempts(admin_client, receiver):
    response = admin_client.post(reverse("admin:webhooks_endpoint_add"), {
        "url": receiver.url, "description": "case tool", "event_types": ["verdict", "case_decided"], "active": "on"})
    endpoint = Endpoint.objects.get()
    assert response.status_code == 200 and endpoint.event_types == ["verdict", "case_decided"]
    assert endpoint.secret.startswith("whsec_") and response.content.decode().count(endpoint.secret) == 1
    assert not hasattr(endpoint.history.get(), "secret")  # the audit trail keeps no copy
    for page in [reverse("admin:webhooks_endpoint_changelist"), reverse("admin:webhooks_endpoint_change",
                                                                        args=[endpoint.pk])]:
        answer = admin_client.get(page)
        assert answer.status_code == 200 and endpoint.secret not in answer.content.decode()

    receiver.secret, receiver.answers = endpoint.secret, [502]
    (lena,) = customers(1)
    store(verdict_record(lena.user_id, "tx-admin"))
    deliver_all_due()
    delivery = Delivery.objects.get()
    changelist = reverse("admin:webhooks_delivery_changelist")
    for query in ["", "?state=retrying", "?event_type=verdict", f"?endpoint__id__exact={endpoint.pk}"]:
        page = admin_client.get(changelist + query)
        assert page.status_code == 200 and str(delivery.event_id) in page.content.decode(), query
    assert str(delivery.event_id) not in admin_client.get(changelist + "?state=delivered").content.decode()
    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])).content.decode()
    assert "502" in page and "receiver trouble" in page and "tx-admin" in page

    Delivery.objects.update(given_up_at=timezone.now())
    assert "Retry now" in admin_client.get(changelist + "?state=given_up").content.decode()
    admin_client.post(changelist, {"action": "retry", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.given_up_at is None and delivery.next_attempt_at <= timezone.now()


def test_the_live_site_and_make_run_start_the_deliverer():
    assert ["manage.py", "deliver_webhooks"] in [argv[1:] for _, argv in site_processes(0, "group")]
    assert "manage.py deliver_webhooks &" in (django_settings.BASE_DIR / "scripts" / "run-local.sh").read_text()


# --- Where webhooks may go (SSRF) ---------------------------------------------------------------

INSIDE = ["http://127.0.0.1:8081/jobs", "http://localhost:6379/", "http://[::1]:5432/", "http://0.0.0.0:8000/",
          "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/hooks", "http://192.168.1.1/",
          "http://172.16.0.1/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/",
          "http://240.0.0.1/", "http://2130706433/"]


@pytest.mark.parametrize("url", INSIDE + ["http://user:secret@93.184.215.14/hooks"])
def test_the_admin_refuses_endpoints_inside_or_with_credentials(admin_client, settings, url):
    settings.WEBHOOK_INTERNAL_HOSTS = []
    response = admin_client.post(reverse("admin:webhooks_endpoint_add"), {
        "url": url, "description": "probe", "event_types": ["verdict"], "active": "on"})
    assert response.status_code == 200 and not Endpoint.objects.exists(), url
    page = response.content.decode()
    assert ("private, loopback, link-local or reserved" in page or "must not hold credentials" in page
            or "Enter a valid URL" in page), url


def test_a_public_address_or_a_named_internal_host_is_accepted(admin_client, settings):
    settings.WEBHOOK_INTERNAL_HOSTS = ["receiver.internal"]
    for url in ["https://93.184.215.14/hooks", "http://receiver.internal:8080/hooks"]:  # (nothing is sent)
        response = admin_client.post(reverse("admin:webhooks_endpoint_add"), {
            "url": url, "event_types": ["verdict"], "active": "on"})
        assert response.status_code == 200 and Endpoint.objects.filter(url=url).exists(), url


@pytest.fixture
def dns(monkeypatch):
    """Answers for host names ending in .example: {name: [address, ...]}, one per lookup in turn,
    the last one repeated (a name that rebinds); other names resolve as usual."""
    import socket

    answers, real = {}, socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".example"):
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_the_deliverer_checks_the_address_after_resolving_and_sends_nothing_inside(receiver, settings, dns):
    settings.WEBHOOK_INTERNAL_HOSTS = []
    (lena,) = customers(1)
    dns["hooks.example"] = ["127.0.0.1"]  # a name whose address changed after the endpoint was saved
    endpoint = Endpoint.objects.create(url=f"http://hooks.example:{receiver.port}/hooks", event_types=["verdict"])
    receiver.secret = endpoint.secret
    store(verdict_record(lena.user_id, "inside"))
    assert deliver_all_due() == (0, 1)
    assert receiver.received == [] and receiver.rejected == []
    assert DeliveryAttempt.objects.get().error == targets.INTERNAL_ADDRESS


def test_the_deliverer_connects_to_the_address_it_checked_so_dns_rebinding_cannot_lead_inside(
        receiver, settings, dns, monkeypatch):
    import urllib3.util.connection

    settings.WEBHOOK_INTERNAL_HOSTS = []
    (lena,) = customers(1)
    # Public for the first lookup, loopback ever after: a check that resolved again to connect would send inside.
    dns["rebind.example"] = ["8.8.8.8", "127.0.0.1"]
    connected, real_connect = [], urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        connected.append(address[0])
        if address[0] == "8.8.8.8":  # the tests send nothing off this machine
            raise ConnectionRefusedError("not from the tests")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    endpoint = Endpoint.objects.create(url=f"http://rebind.example:{receiver.port}/hooks", event_types=["verdict"])
    receiver.secret = endpoint.secret
    store(verdict_record(lena.user_id, "rebound"))
    assert deliver_all_due() == (0, 1)
    assert connected == ["8.8.8.8"] and receiver.received == []


def test_a_url_with_credentials_saved_earlier_is_neither_sent_nor_shown(receiver, admin_client):
    (lena,) = customers(1)
    endpoint = Endpoint.objects.create(url=receiver.url.replace("http://", "http://user:hunter2@"),
                                       event_types=["verdict"])
    receiver.secret = endpoint.secret
    store(verdict_record(lena.user_id, "credentials"))
    assert deliver_all_due() == (0, 1) and receiver.received == []
    assert DeliveryAttempt.objects.get().error == targets.CREDENTIALS
    for page in [reverse("admin:webhooks_endpoint_changelist"), reverse("admin:webhooks_delivery_changelist")]:
        assert "hunter2" not in admin_client.get(page).content.decode()


def test_the_admin_shows_a_short_plain_excerpt_of_a_reply(receiver, admin_client):
    endpoint_for(receiver, "verdict")
    (lena,) = customers(1)
    receiver.status = 502
    receiver.reply = ('{"flink-version": "2.2.1"}\x1b[31m\u202egnp.terces\u2028' + "<html>" * 2000).encode()
    store(verdict_record(lena.user_id, "reply"))
    deliver_all_due()
    excerpt = DeliveryAttempt.objects.get().response_excerpt
    assert excerpt.startswith('{"flink-version": "2.2.1"}') and len(excerpt) <= 200
    assert not any(char in excerpt for char in "\x1b\u202e\u2028\n")
    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[Delivery.objects.get().pk]))
    assert "\u202e" not in page.content.decode() and "<html>" * 40 not in page.content.decode()


def test_connection_failures_read_the_same_whether_a_port_is_closed_open_or_silent(settings):
    import socket
    import threading

    def listener(behaviour):
        server = socket.create_server(("127.0.0.1", 0))

        def serve():
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                behaviour(connection)

        threading.Thread(target=serve, daemon=True).start()
        return server

    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    held = []
    servers = [listener(lambda c: (c.recv(1024), c.sendall(b"-ERR unknown command\r\n"), c.close())),  # Redis-like
               listener(lambda c: c.close()),  # accepts and hangs up
               listener(held.append)]  # accepts and never answers
    ports = [closed_port] + [server.getsockname()[1] for server in servers]
    for n, port in enumerate(ports):
        Endpoint.objects.create(url=f"http://127.0.0.1:{port}/probe{n}", event_types=["verdict"])
    (lena,) = customers(1)
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    try:
        store(verdict_record(lena.user_id, "probe"))
        deliver_all_due()
    finally:
        for server in servers:
            server.close()
    errors = {attempt.delivery.endpoint.url: attempt.error for attempt in DeliveryAttempt.objects.all()}
    assert len(errors) == 4 and set(errors.values()) == {targets.NO_ANSWER}, errors


# --- Outages, with the deliverer in its own process ----------------------------------------------

def test_a_receiver_down_while_attempts_back_off_to_their_cap_gets_every_event_in_order_afterwards(
        receiver, tmp_path, django_user_model, settings):
    # Seconds, not minutes: the back-off's shape (doubling from the first, then capped) is the same.
    backoff = {"WEBHOOK_BACKOFF_SECONDS": 0.25, "WEBHOOK_BACKOFF_MAX_SECONDS": 1.0}
    for name, value in backoff.items():
        setattr(settings, name, value)  # deliveries.backoff below computes what the deliverer waits
    attempts_to_the_cap = 6  # waits 0.25, 0.5, 1, 1, 1 s
    endpoint = endpoint_for(receiver)
    people = customers(3)
    analyst = user_with(django_user_model, "view_verdict", "review_alert")
    receiver.stop()
    with deliverer(tmp_path / "deliverer.log", **backoff):
        store(*[verdict_record(c.user_id, f"{c.user_id}-{n}", **FRAUD) for n in range(3) for c in people])
        reviews.review_alert(Verdict.objects.get(transaction_id=f"{people[0].user_id}-0").pk, "confirmed_fraud",
                             "Stolen card.", analyst)
        store(*[verdict_record(c.user_id, f"{c.user_id}-3") for c in people])
        heads = Delivery.objects.filter(attempts__gt=0)
        wait_until(lambda: heads.count() == 3 and min(heads.values_list("attempts", flat=True)) >= attempts_to_the_cap,
                   30, f"each customer's first delivery to be tried {attempts_to_the_cap} times")
        assert heads.count() == 3  # each customer's first; the later ones wait behind it
        for head in heads:
            times = list(DeliveryAttempt.objects.filter(delivery=head).order_by("at").values_list("at", flat=True))
            gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:])]
            # Never tried again before its back-off has passed (the deliverer looks every 0.05 s).
            assert all(gap >= deliveries.backoff(n) for n, gap in enumerate(gaps, start=1)), gaps
        assert set(DeliveryAttempt.objects.values_list("error", flat=True)) == {targets.NO_ANSWER}

        receiver.start()  # on the same port
        wait_until(all_delivered, 30, "every delivery to be delivered", interval=0.5)
    assert len(receiver.received) == len(set(receiver.event_ids())) == Delivery.objects.count() == 13
    assert receiver.by_customer() == expected_order(endpoint)


def test_a_deliverer_killed_mid_delivery_loses_nothing(receiver, tmp_path):
    endpoint = endpoint_for(receiver, "verdict")
    people = customers(4)
    store(*[verdict_record(c.user_id, f"{c.user_id}-{n}") for n in range(3) for c in people])
    created = {str(event_id) for event_id in Delivery.objects.values_list("event_id", flat=True)}
    receiver.delay = 5  # the receiver holds its answers: the deliveries are in flight
    with deliverer(tmp_path / "deliverer.log") as process:
        wait_until(lambda: len(receiver.received), 30, "a delivery to reach the receiver")
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.wait()
    in_flight = set(receiver.event_ids())
    assert in_flight and Delivery.objects.filter(delivered_at__isnull=False).count() == 0  # none marked

    receiver.delay = 0
    with deliverer(tmp_path / "deliverer.log"):
        wait_until(all_delivered, 30, "every delivery to be delivered", interval=0.5)
    assert set(receiver.event_ids()) == created  # none lost
    duplicates = {event_id for event_id in receiver.event_ids() if receiver.event_ids().count(event_id) > 1}
    assert duplicates == in_flight  # at least once: what was in flight came again, with its event id
    assert first_arrivals(receiver) == expected_order(endpoint)


def test_two_deliverers_never_send_the_same_delivery(receiver, tmp_path):
    endpoint = endpoint_for(receiver, "verdict")
    people = customers(3)
    receiver.delay = 0.2  # long enough for both to look at the same rows while one sends
    store(*[verdict_record(c.user_id, f"{c.user_id}-{n}") for n in range(4) for c in people])
    with deliverer(tmp_path / "first.log", WEBHOOK_CONCURRENCY=2), deliverer(tmp_path / "second.log",
                                                                             WEBHOOK_CONCURRENCY=2):
        wait_until(all_delivered, 60, "every delivery to be delivered", interval=0.5)
    assert len(receiver.received) == len(set(receiver.event_ids())) == 12
    assert receiver.by_customer() == expected_order(endpoint)


def test_a_measurement_json_cannot_hold_does_not_fail_the_workers_batch(receiver):
    endpoint_for(receiver, "verdict")
    (lena,) = customers(1)
    store(verdict_record(lena.user_id, "inf", speed_kmh=float("inf"), distance_km=float("nan")))
    assert Verdict.objects.filter(transaction_id="inf").exists()
    measurements = Delivery.objects.get().payload["data"]["measurements"]
    assert measurements["speed_kmh"] is None and measurements["distance_km"] is None
