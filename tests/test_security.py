"""Hostile input and hardening: every finding of the security probe (issue 21) that needs no
browser or running stack. Each test failed before its fix."""

import json
import os
import signal
import secrets
import subprocess
import sys
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fraudsite import flink_client
from fraudsite.security import CredentialsHidingFilter
from tests.support.reviews import post_review, user_with, verdict
from transactions import submission
from alerts.models import AlertReview
from transactions.models import Transaction
from users.models import Customer

pytestmark = pytest.mark.django_db

HUGE = 10**400
DEEP = "[" * 100_000 + "]" * 100_000
SUBMIT_PATHS = ["/api/transactions", "/submit-event"]


@pytest.fixture
def operator(django_user_model, monkeypatch):
    """A signed-in client allowed to submit, view and review; producing to Kafka is refused (a
    spy: only a valid body gets that far)."""
    Customer.objects.bulk_create([Customer(user_id="hostile", first_name="H", last_name="O", max_speed=10)])
    user = user_with(django_user_model, "add_transaction", "view_verdict", "review_alert", "view_customer")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    produced = []

    def refuse(producer, topic, key, value):
        produced.append(key)
        raise submission.DeliveryFailed("not in this test")

    monkeypatch.setattr(submission, "produce_and_confirm", refuse)
    client.produced = produced
    return client


def submission_body(**overrides):
    return json.dumps({"user_id": "hostile", "amount": 10, "lat": 1, "lng": 2, **overrides})


@pytest.mark.parametrize("path", SUBMIT_PATHS)
@pytest.mark.parametrize("body, field", [
    (DEEP, "__all__"),
    (json.dumps({"user_id": "hostile", "amount": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}), "__all__"),
    (submission_body(amount=HUGE), "amount"),
    (submission_body(lat=HUGE, latitude=HUGE), None),
    (submission_body(timestamp=HUGE), "timestamp"),
    (submission_body(timestamp=-HUGE), "timestamp"),
    (submission_body(user_id="hos\x00tile"), "user_id"),
    (submission_body(user_id="line\nbreak"), "user_id"),
    (submission_body(timestamp="2026-01-01T00:00:00\x00Z"), "timestamp"),
])
def test_hostile_submissions_are_a_400_that_says_what_is_wrong(operator, path, body, field):
    response = operator.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field is None or field in errors, errors
    assert not operator.produced and not Transaction.objects.exists()


@pytest.mark.parametrize("path", SUBMIT_PATHS)
@pytest.mark.parametrize("content_type, body, field", [
    ("MULTIPART/FORM-DATA", submission_body(), "__all__"),  # no boundary: Django cannot parse it (hypothesis found it)
    ("multipart/form-data", submission_body(), "__all__"),
    ("application/x-www-form-urlencoded", "user_id=hos%00tile&amount=10", "user_id"),
])
def test_a_form_body_that_cannot_be_read_is_a_400_in_the_apis_shape(operator, path, content_type, body, field):
    response = operator.post(path, body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not operator.produced and not Transaction.objects.exists()


@pytest.mark.parametrize("body, field", [
    (DEEP, "__all__"),
    ({"decision": {}, "comment": "x"}, "decision"),
    ({"decision": ["confirmed_fraud"], "comment": "x"}, "decision"),
    ({"decision": "confirmed_fraud", "comment": "nul \x00 here"}, "comment"),
    ({"decision": "confirmed_fraud", "comment": HUGE}, "comment"),
])
def test_hostile_reviews_are_a_400_and_record_nothing(operator, body, field):
    alert = verdict()
    response = post_review(operator, alert.transaction_id, body if isinstance(body, str) else json.dumps(body))
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not AlertReview.objects.exists()


def test_a_multiline_review_comment_is_fine(operator):
    alert = verdict()
    response = post_review(operator, alert.transaction_id, {"decision": "false_positive",
                                                           "comment": "Called the customer.\n\tTravelling."})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/alerts/{}/", "/customers/{}/", "/api/alerts/{}/review"])
@pytest.mark.parametrize("segment", ["%00", "a%00b", "%01", "%7F", "x%0Ay"])
def test_control_characters_in_a_path_are_a_404(operator, path, segment):
    method = operator.post if "review" in path else operator.get
    response = method(path.format(segment), **({"data": "{}", "content_type": "application/json"}
                                                 if "review" in path else {}))
    assert response.status_code == 404


@pytest.mark.parametrize("url", ["/admin/transactions/verdict/", "/admin/transactions/verdict/export.csv"])
@pytest.mark.parametrize("reason", ["(", "speed_above_limit|.*", "[", "\\", "no_such_reason"])
def test_an_unknown_reason_filter_is_refused_not_a_server_error(admin_user, url, reason):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get(url, {"reason": reason})
    assert response.status_code in (302, 400), response.status_code  # the changelist redirects with ?e=1
    if url.endswith(".csv"):
        assert b"Unknown reason" in response.content


def test_a_known_reason_still_filters(admin_client):
    fraud, valid = verdict(), verdict(status="VALID", reasons="within_limit")
    response = admin_client.get("/admin/transactions/verdict/export.csv", {"reason": "velocity_exceeded"})
    text = b"".join(response.streaming_content).decode()
    assert fraud.transaction_id in text and valid.transaction_id not in text


def test_the_review_api_needs_the_view_permission_too(client, django_user_model):
    alert = verdict(status="VALID", reasons="within_limit")
    reviewer_only = user_with(django_user_model, "review_alert")
    client.force_login(reviewer_only)
    response = post_review(client, alert.transaction_id, {"decision": "confirmed_fraud", "comment": "x"})
    assert response.status_code == 403
    assert "VALID" not in response.content.decode()  # nothing about the verdict
    assert not AlertReview.objects.exists()


# --- fuzzing every endpoint's path and the admin filters -----------------------------------------

hostile_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=30)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=hostile_text)
def test_any_path_segment_is_never_a_server_error(operator, segment):
    quoted = quote(segment, safe="")
    for path in (f"/alerts/{quoted}/", f"/customers/{quoted}/"):
        assert operator.get(path).status_code < 500, path
    response = operator.post(f"/api/alerts/{quoted}/review", "{}", content_type="application/json")
    assert response.status_code < 500


ADMIN_FILTERS = ["reason", "status", "is_fraud__exact", "alert__review_status__exact", "customer__id__exact",
                 "timestamp__gte", "q", "o", "p"]


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(ADMIN_FILTERS), value=hostile_text)
def test_any_admin_filter_value_is_never_a_server_error(admin_user, name, value):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    for url in ("/admin/transactions/verdict/", "/admin/transactions/verdict/export.csv"):
        response = client.get(url, {name: value})
        if response.status_code == 200 and url.endswith(".csv"):
            b"".join(response.streaming_content)  # the export runs its query while streaming
        assert response.status_code < 500, (url, name, value, response.status_code)


@pytest.mark.parametrize("url", ["/alerts/", "/admin/transactions/verdict/", "/admin/users/customer/"])
def test_a_nul_in_a_query_parameter_is_a_400(admin_user, url):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    assert client.get(url, {"status": "FRAUD\x00"}).status_code == 400
    assert client.get(url, {"q": "a\x00b"}).status_code == 400


# --- settings: debug off, credentials hidden, deployment checks ----------------------------------

def manage(*args, **env):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "HTTPS_ONLY")}
    environment.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=environment,
                          capture_output=True, text=True)


def test_debug_is_off_unless_asked_for():
    printed = manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)")
    assert printed.stdout.strip() == "False", printed.stderr
    asked = manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)", DEBUG="True")
    assert asked.stdout.strip() == "True"


def test_check_deploy_is_clean_for_the_settings_make_run_uses():
    # scripts/run-local.sh sets no DEBUG, SECRET_KEY or hosts: production mode, plain HTTP on loopback.
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    DATABASE_URL=os.environ.get("DATABASE_URL", ""), REDIS_URL=os.environ.get("REDIS_URL", ""))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_deployment_needs_https_and_its_own_secret_key():
    refused = manage("check", ALLOWED_HOSTS="fraud.example.com")
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
    deployed = manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)",
                      ALLOWED_HOSTS="fraud.example.com", SECRET_KEY=secrets.token_urlsafe(50))
    assert deployed.stdout.strip() == "True", deployed.stderr


def test_error_reports_hide_credentials_in_urls(settings):
    settings.REDIS_URL = "redis://user:hunter2@cache:6379/0"
    shown = CredentialsHidingFilter().get_safe_settings()
    assert shown["REDIS_URL"] == "redis://********************@cache:6379/0"
    assert shown["LOGIN_URL"] == settings.LOGIN_URL  # nothing else changes


# --- sign-in throttling, caching, CSP --------------------------------------------------------------

@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_repeated_wrong_passwords_lock_the_account_out_from_that_address(login_url, django_user_model, settings):
    django_user_model.objects.create_user(username="target", password="the-right-one", is_staff=True)
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(login_url, {"username": "target", "password": f"guess-{attempt}"})
        assert response.status_code in (200, 429)
    locked = client.post(login_url, {"username": "target", "password": "the-right-one"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    elsewhere = Client().post(login_url, {"username": "target", "password": "the-right-one"},
                              REMOTE_ADDR="10.1.2.3")
    assert elsewhere.status_code == 302  # the lockout is of this username from that address


def test_a_stranger_at_the_same_address_cannot_lock_out_someone_who_signed_in_there_before(django_user_model,
                                                                                         settings):
    """A shared address (an office, a proxy): the stranger's wrong passwords lock the pair, but the
    person's own browser, where they signed in before, still signs in; its own guesses are limited too."""
    django_user_model.objects.create_user(username="target", password="the-right-one")
    person, stranger = Client(), Client()  # both from the test client's one address
    assert person.post("/accounts/login/", {"username": "target", "password": "the-right-one"}).status_code == 302
    person.post("/accounts/logout/")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        stranger.post("/accounts/login/", {"username": "target", "password": f"guess-{attempt}"})
    assert stranger.post("/accounts/login/", {"username": "target", "password": "the-right-one"}).status_code == 429

    assert person.post("/accounts/login/", {"username": "target", "password": "the-right-one"}).status_code == 302
    person.post("/accounts/logout/")
    for attempt in range(settings.AXES_FAILURE_LIMIT):  # the device guessing: counted on its own
        person.post("/accounts/login/", {"username": "target", "password": f"guess-{attempt}"})
    assert person.post("/accounts/login/", {"username": "target", "password": "the-right-one"}).status_code == 429


def test_a_lockout_ends_after_its_cool_off_however_long_the_guesser_keeps_trying(django_user_model, settings):
    from axes.models import AccessAttempt

    django_user_model.objects.create_user(username="target", password="the-right-one")
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "target", "password": f"guess-{attempt}"})

    def minutes_pass(minutes):
        for attempt in AccessAttempt.objects.all():
            AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - timedelta(minutes=minutes))

    minutes_pass(10)
    assert client.post("/accounts/login/", {"username": "target", "password": "still-guessing"}).status_code == 429
    minutes_pass(settings.AXES_COOLOFF_TIME.total_seconds() / 60 - 10 + 1)  # the cool-off is over
    assert client.post("/accounts/login/", {"username": "target", "password": "the-right-one"}).status_code == 302


def test_lockouts_can_be_lifted(django_user_model, settings):
    from django.core.management import call_command

    django_user_model.objects.create_user(username="target", password="the-right-one")
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "target", "password": "wrong"})
    call_command("axes_reset_username", "target")
    assert client.post("/accounts/login/", {"username": "target", "password": "the-right-one"}).status_code == 302


def test_pages_for_signed_in_users_are_never_cached(admin_client):
    verdict()
    for url in ["/", "/alerts/", "/admin/", "/admin/transactions/verdict/"]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_every_page_carries_a_strict_content_security_policy(admin_client):
    policy = admin_client.get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"  # no inline script, no event handler attribute
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "Content-Security-Policy" in Client().get("/accounts/login/")


# --- WebSockets: one user cannot starve the others (the real web server, Redis channel layer) -------------

@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_one_user_opening_many_sockets_is_capped_and_others_keep_every_verdict(live_site, django_user_model):
    import asyncio

    import websockets

    from tests.support.records import stored_verdict
    from tests.support.websocket_clients import session_cookie
    from transactions.broadcast import push_verdicts
    from transactions.consumers import CLOSE_TOO_MANY_SOCKETS

    greedy = user_with(django_user_model, "view_verdict")
    colleague = user_with(django_user_model, "view_verdict")
    verdicts = [stored_verdict(transaction_id=f"cap-{number}") for number in range(20)]
    url = live_site.replace("http", "ws", 1) + "/ws/alerts/"
    limit = settings.WEBSOCKETS_PER_USER  # the default, which the live site runs with too

    cookies = {user: session_cookie(user) for user in (greedy, colleague)}

    async def open_socket(user):
        # max_queue=None: a socket this test never reads again keeps taking in the verdicts pushed
        # to it, so that closing it at the end is answered at once (websockets stops reading a
        # socket whose queue is full, 16 frames by default, and its close then waits 10 s).
        return await websockets.connect(url, origin=live_site, additional_headers={"Cookie": cookies[user]},
                                        max_queue=None)

    async def closed_with(connection):
        try:
            await asyncio.wait_for(connection.recv(), timeout=5)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except asyncio.TimeoutError:
            return None  # still open
        return "message"

    async def scenario():
        watcher = await open_socket(colleague)
        greedy_sockets = await asyncio.gather(*(open_socket(greedy) for _ in range(60)))
        outcomes = await asyncio.gather(*(closed_with(socket) for socket in greedy_sockets))
        await asyncio.to_thread(push_verdicts, verdicts)
        received = []
        while len(received) < len(verdicts):
            frame = json.loads(await asyncio.wait_for(watcher.recv(), timeout=10))
            received.extend(message["transaction_id"] for message in frame)
        await asyncio.gather(*(socket.close() for socket in [watcher, *greedy_sockets]))
        return outcomes, received

    outcomes, received = asyncio.run(scenario())
    assert outcomes.count(CLOSE_TOO_MANY_SOCKETS) == 60 - limit  # the excess, with the documented code
    assert outcomes.count(None) == limit  # the first ten stay open
    assert sorted(received) == sorted(v.transaction_id for v in verdicts)  # the colleague missed nothing


# --- the local services -------------------------------------------------------------------------

@pytest.mark.stack
def test_the_local_flink_accepts_no_jar_uploads(stack):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        flink_client.flink_rest("/jars")  # the web UI's jar upload and run handlers are not there
    assert refused.value.code == 404
    assert "jobs" in flink_client.flink_rest("/jobs/overview")  # the stack's own REST use still works


def test_redis_listens_on_loopback_only():
    from urllib.parse import urlsplit

    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (make test sets it)")
    import redis

    bind = redis.Redis.from_url(settings.REDIS_URL).config_get("bind")["bind"].split()
    assert bind and all(address.lstrip("-") in ("127.0.0.1", "::1", "localhost") for address in bind), bind
    assert urlsplit(settings.REDIS_URL).hostname in ("localhost", "127.0.0.1")


CLIENTS_OF_REDIS = """
import asyncio, django
django.setup()
from django.core.cache import cache
from channels.layers import get_channel_layer
from api.authentication import RateCounter

cache.set("password-probe", "cache")
counter = RateCounter()
counter.allow("password-probe", 5)
counter.sync()  # the rate counts, added to Redis
layer = get_channel_layer()

async def round_trip():
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "probe", "text": "channels"})
    return (await layer.receive(channel))["text"]

print(cache.get("password-probe"), asyncio.run(round_trip()), sum(counter._unsent.values()) == 0)
"""


def test_a_fresh_machine_gets_a_redis_with_a_generated_password_that_every_client_uses(tmp_path):
    """scripts/services.sh on a port of the test's own, as on a machine where no Redis runs yet, for
    a user of the test's own (HOME); then a second checkout of that user finds the same Redis usable
    (CI's fresh clones met a Redis its first clone had started)."""
    import shutil
    import socket
    import stat
    import subprocess
    import sys

    import redis

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password_file = tmp_path / "home" / ".config" / "fraudsite" / f"redis-{port}.password"
    env = {**os.environ, "REDIS_PORT": str(port), "HOME": str(tmp_path / "home")}
    env.pop("XDG_CONFIG_HOME", None)
    script = str(settings.BASE_DIR / "scripts" / "services.sh")
    second_checkout = tmp_path / "second" / "scripts" / "services.sh"
    second_checkout.parent.mkdir(parents=True)
    shutil.copy2(script, second_checkout)
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    password = password_file.read_text()
    server = redis.Redis(port=port, password=password)
    try:
        assert len(password) == 64 and stat.S_IMODE(password_file.stat().st_mode) == 0o600
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()  # no password, no answer
        assert password not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        url = subprocess.run([script, "redis-url", "3"], env=env, check=True, capture_output=True,
                             text=True).stdout.strip()
        assert url == f"redis://:{password}@localhost:{port}/3"
        clients = subprocess.run([sys.executable, "-c", CLIENTS_OF_REDIS], cwd=settings.BASE_DIR, capture_output=True,
                                 text=True, env={**os.environ, "REDIS_URL": url, "DJANGO_SETTINGS_MODULE":
                                                 "fraudsite.settings"})
        assert clients.stdout.split() == ["cache", "channels", "True"], clients.stderr[-2000:]
        assert len(redis.Redis(port=port, password=password, db=3).keys()) >= 2  # the cache's key and the rate's
        subprocess.run([script, "start"], env=env, check=True, capture_output=True)  # again: the same one, kept
        assert password_file.read_text() == password and server.ping()
        again = subprocess.run([str(second_checkout), "start"], env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert subprocess.run([str(second_checkout), "redis-url", "3"], env=env, check=True, capture_output=True,
                              text=True).stdout.strip() == url
    finally:
        pid = server.info("server")["process_id"]
        os.kill(pid, signal.SIGTERM)  # the Redis this test started, by its id


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\n", "\u202e"])
def test_a_travel_notice_reason_refuses_every_line_break_and_bidirectional_override(admin_client, char):
    from datetime import timedelta

    from django.utils import timezone

    Customer.objects.create(user_id="unicode_notice", first_name="U", last_name="N", max_speed=10)
    start = timezone.now() + timedelta(days=1)
    response = admin_client.post("/api/customers/unicode_notice/travel-notices", {
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(days=1)).isoformat(),
        "reason": f"Japan{char}two weeks"}, content_type="application/json")
    assert response.status_code == 400 and "reason" in response.json()["errors"]


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\x00", "\ud800"])
def test_a_review_comment_refuses_bidirectional_overrides_and_control_characters(admin_client, char):
    from tests.support.reviews import verdict

    alert = verdict(transaction_id="unicode-comment")
    response = admin_client.post(f"/api/alerts/{alert.transaction_id}/review",
                                 json.dumps({"decision": "false_positive", "comment": f"fine{char}enif"}),
                                 content_type="application/json")
    assert response.status_code == 400 and "comment" in response.json()["errors"]
