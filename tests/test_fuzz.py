"""Property-based fuzzing of every input: arbitrary JSON and headers at both transaction endpoints
and the review API, hostile text in every field of every JSON API, every date at the calendar's
ends, control characters in every form field and admin URL, concurrent limit checks. None causes
a server error, and nothing invalid is ever produced to Kafka or recorded."""

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transactions import submission
from transactions.models import Transaction
from users.models import Customer

pytestmark = pytest.mark.django_db

# Leaves include numbers no float can hold and text with control characters (a NUL among them).
hostile_numbers = st.sampled_from([10**400, -(10**400), 2**64, float("1e308")])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | hostile_numbers | st.floats() | st.text(max_size=80)
    | st.text(alphabet=st.characters(max_codepoint=0x20), min_size=1, max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# JSON nested far deeper than any body of this site (and than Python's parser goes).
deeply_nested = st.integers(min_value=10, max_value=100_000).map(lambda depth: "[" * depth + "]" * depth)
FIELDS = ["user_id", "amount", "lat", "lng", "transaction_id", "timestamp", "latitude", "longitude"]
# Bodies shaped like submissions, with any values, around a real customer so validation goes deep.
submissions = st.fixed_dictionaries({}, optional={name: json_values for name in FIELDS}).map(
    lambda body: {**body, "user_id": body.get("user_id", "fuzz_customer")})
bodies = st.one_of(json_values.map(json.dumps), submissions.map(json.dumps), st.binary(max_size=200), deeply_nested)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@pytest.fixture
def fuzz_client(django_user_model, monkeypatch):
    Customer.objects.bulk_create([Customer(user_id="fuzz_customer", first_name="F", last_name="Z", max_speed=10)])
    user = django_user_model.objects.create_user(username="fuzzer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="add_transaction"))
    client = Client()
    client.force_login(user)
    produced = []

    def refuse_to_produce(producer, topic, key, value):  # a spy: a valid body would be the only reason
        produced.append(key)
        raise submission.DeliveryFailed("fuzzing does not produce")

    monkeypatch.setattr(submission, "produce_and_confirm", refuse_to_produce)
    return client, produced


@pytest.mark.parametrize("path", ["/api/transactions", "/submit-event"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=header_values, extra=header_values)
def test_arbitrary_bodies_and_headers_never_cause_a_server_error(fuzz_client, path, body, content_type, extra):
    client, produced = fuzz_client
    response = client.post(path, body, content_type=content_type or "application/json", HTTP_X_FUZZ=extra,
                           HTTP_ACCEPT=extra)
    assert response.status_code < 500 or (response.status_code == 503 and produced), response.content
    if response.status_code == 400:
        assert "errors" in response.json()
        assert not produced
    assert not Transaction.objects.exists()  # nothing is recorded as sent without Kafka's acknowledgement


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values.map(json.dumps), deeply_nested,
                      st.fixed_dictionaries({}, optional={"decision": json_values, "comment": json_values}).map(json.dumps)))
def test_arbitrary_review_bodies_never_cause_a_server_error(admin_user, body):
    from alerts.models import AlertReview
    from tests.support.reviews import verdict
    from transactions.models import Verdict

    alert = Verdict.objects.filter(transaction_id="fuzz-alert").first() or verdict(transaction_id="fuzz-alert")
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    reviews_before = AlertReview.objects.filter(verdict=alert).count()
    response = client.post(f"/api/alerts/{alert.transaction_id}/review", body, content_type="application/json")
    assert response.status_code in (200, 400), response.content
    recorded = AlertReview.objects.filter(verdict=alert).count() - reviews_before
    assert recorded == (1 if response.status_code == 200 else 0)  # a refused body records nothing


# --- Widened: every field of every JSON API, every date at its bounds, every form field, the admin ---
#
# Each answer to a hostile input must be a refusal that says why: a 400 or 404 with a message,
# never a 500 (and nothing recorded). The lists below are the site's inputs; a new endpoint, field
# or date parameter belongs in them.


# Lone surrogates, NUL and other control characters, Unicode line breaks (U+0085, U+2028, U+2029),
# bidirectional overrides and isolates: none belongs in any text field of this site.
HOSTILE_CHARACTERS = ["\ud800", "\udfff", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029",
                      "\u202e", "\u202a", "\u2066", "\u2069"]


def _soon(days):
    return (datetime.now(dt_timezone.utc) + timedelta(days=days)).isoformat()


def _json_apis():
    """(name, path, valid body, fields) of every JSON API, each body valid but for what the test changes;
    a field "region.lat" is inside the "region" object."""
    now = datetime.now(dt_timezone.utc).replace(microsecond=0)
    return [
        ("transactions", "/api/transactions", {"user_id": "fuzz_customer", "amount": 10, "lat": 1.0, "lng": 2.0,
                                               "transaction_id": "fuzz-1", "timestamp": now.isoformat()}),
        ("submit-event", "/submit-event", {"transaction_id": "fuzz-2", "user_id": "fuzz_customer", "amount": 10,
                                           "latitude": 1.0, "longitude": 2.0,
                                           "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")}),
        ("decisions", "/api/v1/decisions", {"user_id": "fuzz_customer", "amount": 10, "lat": 1.0, "lng": 2.0,
                                            "transaction_id": "fuzz-3", "timestamp": now.isoformat()}),
        ("review", "/api/alerts/fuzz-alert/review", {"decision": "confirmed_fraud", "comment": "seen it"}),
        ("travel-notice", "/api/customers/fuzz_customer/travel-notices", {
            "starts_at": _soon(1), "ends_at": _soon(2), "signal": "speed_above_limit", "reason": "Japan",
            "region": {"lat": 35.0, "lng": 139.0, "radius_km": 100}}),
    ]


def _fields(body, prefix=""):
    for name, value in body.items():
        if isinstance(value, dict):
            yield from _fields(value, f"{prefix}{name}.")
        else:
            yield prefix + name


def _with(body, field, value):
    body = json.loads(json.dumps(body))
    *outer, name = field.split(".")
    target = body
    for part in outer:
        target = target[part]
    target[name] = value
    return body


JSON_FIELDS = [(name, path, field) for name, path, body in _json_apis() for field in _fields(body)]


@pytest.fixture
def every_api_client(django_user_model, monkeypatch, settings):
    """A signed-in user with every permission the JSON APIs ask for, an API key, a customer and an
    alert; nothing is produced to Kafka (a spy records any attempt)."""
    from api.models import ClientKey
    from tests.support.reviews import verdict

    Customer.objects.get_or_create(user_id="fuzz_customer", defaults=dict(first_name="F", last_name="Z", max_speed=10))
    if not _alert_exists():
        verdict(transaction_id="fuzz-alert")
    user = django_user_model.objects.filter(username="fuzz-all").first() or django_user_model.objects.create_superuser(
        username="fuzz-all", password="pw")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    _, key = ClientKey.objects.create_key(name="fuzz", scopes=["decisions"], rate_limit_per_minute=100_000)
    produced = []

    def refuse_to_produce(*args, **kwargs):
        produced.append(args)
        raise submission.DeliveryFailed("fuzzing does not produce")

    monkeypatch.setattr(submission, "produce_and_confirm", refuse_to_produce)
    # The decision API's shared verdict consumer, as if started: a refused body never gets to it.
    from transactions import decisions

    monkeypatch.setattr(decisions, "shared_waiter", lambda: SimpleNamespace(started=True))
    settings.DECISION_BUDGET_MS = 60_000  # never shed here: a shed request is answered before it is read
    return client, key, produced


def _alert_exists():
    from transactions.models import Verdict

    return Verdict.objects.filter(transaction_id="fuzz-alert").exists()


def _post(client, key, path, body):
    text = body if isinstance(body, str) else json.dumps(body)  # (a lone surrogate goes as "\ud800")
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"} if path.startswith("/api/v1/") else {}
    return client.post(path, text, content_type="application/json", **headers)


def assert_refused_with_a_message(response, *statuses):
    statuses = statuses or (400,)
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response.content.strip(), "a refusal says why"


# Fields where a line break is text (a review's comment); every other character is refused there too.
MULTILINE_FIELDS = {"comment"}
LINE_BREAK_CHARACTERS = {"\x85", "\u2028", "\u2029"}


@pytest.mark.parametrize("char", HOSTILE_CHARACTERS, ids=[f"U+{ord(char):04X}" for char in HOSTILE_CHARACTERS])
@pytest.mark.parametrize("api,path,field", JSON_FIELDS)
def test_hostile_text_in_every_field_of_every_json_api_is_a_400_that_says_why(every_api_client, api, path, field,
                                                                              char):
    from alerts.models import AlertReview
    from users.models import TravelNotice

    if field in MULTILINE_FIELDS and char in LINE_BREAK_CHARACTERS:
        pytest.skip("a line break is text in this field")
    client, key, produced = every_api_client
    body = next(b for n, _, b in _json_apis() if n == api)
    response = _post(client, key, path, _with(body, field, f"ab{char}cd"))
    assert_refused_with_a_message(response)
    assert not produced and not AlertReview.objects.exists() and not TravelNotice.objects.exists()


# Dates at the calendar's ends: the first day, the last, a year past what Python's datetime holds,
# and times whose offset carries them over either end.
DATE_BOUNDS = ["0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", "10000-01-01", "0000-12-31"]
TIME_BOUNDS = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
               "9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00-05:00", "+10000-01-01T00:00:00Z",
               "10000-01-01T00:00:00Z", "253402300799999", "-62135596800001", str(10**30)]


@pytest.mark.parametrize("query", [f"from={first}&to={last}" for first, last in [
    ("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31"), ("0001-01-01", "9999-12-31"),
    ("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-01"), ("10000-01-01", "10000-01-02")]]
    + [f"to={day}" for day in DATE_BOUNDS] + [f"from={day}" for day in DATE_BOUNDS])
@pytest.mark.parametrize("page", ["/analytics/", "/analytics/reasons.csv", "/analytics/cofiring.csv",
                                  "/analytics/trend.csv"])
def test_analytics_at_the_ends_of_the_calendar_answers_or_says_why(admin_client, page, query):
    response = admin_client.get(f"{page}?{query}")
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        assert response.content.strip()


@pytest.mark.parametrize("value", TIME_BOUNDS)
@pytest.mark.parametrize("api,path,field", [(n, p, f) for n, p, f in JSON_FIELDS
                                            if f in ("timestamp", "starts_at", "ends_at")])
def test_every_time_in_a_json_api_at_its_bounds_is_a_400_that_says_why(every_api_client, api, path, field, value):
    client, key, produced = every_api_client
    body = next(b for n, _, b in _json_apis() if n == api)
    if field == "starts_at":  # the end stays after the start, so that the start's own bound is what is checked
        body = _with(body, "ends_at", "9999-12-31T23:59:59Z")
    response = _post(client, key, path, _with(body, field, int(value) if value.lstrip("-").isdigit() else value))
    assert_refused_with_a_message(response)
    assert not produced


@pytest.mark.parametrize("starts_at,ends_at", [("9999-12-30T00:00", "9999-12-31T23:59"),
                                               ("9999-12-31T00:00", "9999-12-31T23:59:59"),
                                               ("9999-12-31T00:00", "10000-01-01T00:00"),
                                               ("0001-01-01T00:00", "0001-01-02T00:00")])
def test_a_travel_notice_form_at_the_end_of_the_calendar_is_refused_or_shown(admin_client, starts_at, ends_at):
    from alerts.models import Case

    customer, _ = Customer.objects.get_or_create(user_id="fuzz_customer",
                                                 defaults=dict(first_name="F", last_name="Z", max_speed=10))
    case = Case.objects.create(customer=customer)
    response = admin_client.post(f"/cases/{case.pk}/", {
        "starts_at": starts_at, "ends_at": ends_at, "signal": "", "reason": "far future"})
    assert response.status_code in (302, 400), (response.status_code, response.content[:300])
    for page in [f"/cases/{case.pk}/", "/api/customers/fuzz_customer/travel-notices",
                 "/admin/users/travelnotice/", f"/admin/users/customer/{customer.pk}/change/"]:
        assert admin_client.get(page).status_code == 200, page


# Every form a person posts, with its fields: NUL (which PostgreSQL cannot store) in any of them is
# refused before any view or form sees it.
FORMS = [
    ("/alerts/fuzz-alert/assign", ["holder"]),
    ("/alerts/bulk", ["alert", "decision", "comment"]),
    ("/alerts/fuzz-alert/release", ["reason"]),
    ("/alerts/take-next", ["x"]),
    ("/alerts/fuzz-alert/case", ["x"]),
    ("/accounts/login/", ["username", "password"]),
    ("/admin/login/", ["username", "password"]),
    ("/admin/users/customer/add/", ["user_id", "first_name", "last_name", "max_speed"]),
    ("/admin/proposals/proposal/1/reject/", ["reason"]),
]


@pytest.mark.parametrize("path,field", [(path, field) for path, fields in FORMS for field in fields])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u202e"])
def test_a_control_character_in_any_form_field_is_a_400_that_says_why(every_api_client, path, field, char):
    client, _, _ = every_api_client
    response = client.post(path, {"decision": "confirmed_fraud", "comment": "c", field: f"a{char}b"})
    assert_refused_with_a_message(response)


def test_concurrent_travel_notices_for_one_customer_past_the_limit_are_400s(transactional_db, django_user_model):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection as django_connection

    from users.models import TravelNotice

    Customer.objects.create(user_id="fuzz_busy", first_name="F", last_name="Z", max_speed=10)
    django_user_model.objects.create_superuser(username="notices", password="pw")

    def post(n):
        client = Client(raise_request_exception=False)
        client.force_login(django_user_model.objects.get(username="notices"))
        try:
            return client.post("/api/customers/fuzz_busy/travel-notices", json.dumps({
                "starts_at": _soon(1), "ends_at": _soon(2), "reason": f"trip {n}"}), content_type="application/json")
        finally:
            django_connection.close()

    with ThreadPoolExecutor(14) as pool:
        answers = list(pool.map(post, range(14)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * 10 + [400] * 4, [(a.status_code, a.content[:200]) for a in answers]
    assert all(b"at most" in answer.content for answer in answers if answer.status_code == 400)
    assert TravelNotice.objects.filter(customer__user_id="fuzz_busy").count() == 10


def _admin_models():
    from django.contrib import admin

    return [(model._meta.app_label, model._meta.model_name, model_admin) for model, model_admin in
            admin.site._registry.items()]


JUNK_IDS = ["abc", "%00", "1%00", "-1", "1.5", "99999999999999999999999", "%F0%9F%92%A5", "%ED%A0%80"]


@pytest.mark.parametrize("junk", JUNK_IDS)
def test_junk_ids_in_every_admin_page_are_404s_or_redirects_never_500s(admin_client, junk):
    from simple_history.admin import SimpleHistoryAdmin

    failures, admin_client.raise_request_exception = [], False
    for app, model, model_admin in _admin_models():
        pages = [f"/admin/{app}/{model}/{junk}/change/", f"/admin/{app}/{model}/{junk}/history/",
                 f"/admin/{app}/{model}/{junk}/delete/"]
        if isinstance(model_admin, SimpleHistoryAdmin):
            pages.append(f"/admin/{app}/{model}/1/history/{junk}/")
        for page in pages:
            response = admin_client.get(page)
            # Django's admin answers an unknown object with a redirect to the index and a message
            # (403: the page is not allowed whatever the id, such as deleting a read-only record).
            if response.status_code not in (302, 400, 403, 404) or not (response.content.strip() or response.url):
                failures.append((page, response.status_code))
    assert failures == []


@pytest.mark.parametrize("query", ["timestamp__year=9999", "timestamp__year=10000", "timestamp__year=0",
                                   "timestamp__year=-1", "received_at__gte=9999-12-31",
                                   "received_at__lt=0001-01-01", "timestamp__month=13", "timestamp__day=0"])
@pytest.mark.parametrize("page", ["/admin/transactions/verdict/", "/admin/transactions/verdict/export.csv"])
def test_date_filters_at_the_calendar_ends_on_the_verdict_list_and_export(admin_client, page, query):
    response = admin_client.get(f"{page}?{query}")
    assert response.status_code in (200, 302, 400), (response.status_code, response.content[:300])
    if response.status_code == 200 and page.endswith(".csv"):
        b"".join(response.streaming_content)  # the whole export, not only its first line


@pytest.mark.parametrize("content", [
    "user_id,max_speed\nfuzz_customer,20\x00\n",
    "user_id,max_speed\n" + "x" * 200_000 + ",20\n",
    "user_id,max_speed\nfuzz_customer," + "9" * 200_000 + "\n",
    "user_id," + "m" * 200_000 + "\nfuzz_customer,20\n",
    "\x00user_id,max_speed\n",
])
def test_a_hostile_proposal_csv_is_refused_with_a_message(admin_client, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from proposals.models import Proposal

    Customer.objects.get_or_create(user_id="fuzz_customer", defaults=dict(first_name="F", last_name="Z", max_speed=10))
    response = admin_client.post("/admin/proposals/proposal/upload/", {
        "reason": "fuzz", "file": SimpleUploadedFile("changes.csv", content.encode())})
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    assert not Proposal.objects.exists()


@pytest.mark.parametrize("frame", [
    {"text_data": "[" * 10_000 + "]" * 10_000}, {"text_data": '{"a":' * 10_000 + "1" + "}" * 10_000},
    {"bytes_data": b"\x00\xff" * 100}, {"bytes_data": json.dumps({"type": "anything"}).encode()},
])
def test_any_websocket_frame_from_a_client_is_ignored_and_the_socket_stays_up(client, django_user_model, frame):
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.testing import WebsocketCommunicator

    from fraudsite.asgi import application
    from tests.support.records import stored_verdict
    from tests.support.websocket_clients import COMMUNICATOR_TIMEOUT, session_headers
    from transactions.broadcast import push_verdicts

    viewer = django_user_model.objects.create_user(username="ws-fuzz", password="pw")
    viewer.user_permissions.add(Permission.objects.get(codename="view_verdict"))
    headers, verdict = session_headers(client, viewer), stored_verdict()

    async def exchange():
        communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
        assert (await communicator.connect(COMMUNICATOR_TIMEOUT))[0]
        await communicator.send_to(**frame)
        await sync_to_async(push_verdicts)([verdict])
        message = await communicator.receive_output(timeout=10)  # a close (1011 before) or the verdict
        await communicator.disconnect(timeout=COMMUNICATOR_TIMEOUT)
        return message

    message = async_to_sync(exchange)()
    assert message["type"] == "websocket.send" and [m["type"] for m in json.loads(message["text"])] == ["verdict"], \
        message  # a frame: the push's messages
