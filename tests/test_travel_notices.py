"""Travel notices: validation, the API, publication with the customer's record, and the detection
job suppressing what a notice covers (through the real stack)."""

import time
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse

from fraudsite.detection_sql import MAX_TRAVEL_NOTICES
from outbox.publisher import publish_all_pending
from tests.support.kafka import latest_records, unique
from tests.support.pipeline import HOUR_MS, LONDON_PARIS, Pipeline
from users.models import Customer, TravelNotice
from tests.support.reviews import user_with
from users.notices import NoticeRefused, Region, approve_travel_notice, create_travel_notice

LONDON, PARIS = LONDON_PARIS
NEW_YORK = (40.7128, -74.0060)


def now():
    return datetime.now(timezone.utc)


def a_customer(max_speed=10, **thresholds):
    return Customer.objects.create(user_id=unique("trip"), first_name="Tess", last_name="Traveller",
                                   max_speed=max_speed, **thresholds)


def notice(customer, starts_at=None, ends_at=None, signal="", reason="Customer phoned: in Paris", region=None):
    """A notice in effect: one beyond one person's scope is approved by a second person here."""
    starts_at = starts_at or now() - timedelta(hours=1)
    created = create_travel_notice(customer, starts_at=starts_at, ends_at=ends_at or starts_at + timedelta(days=7),
                                   signal=signal, reason=reason, region=region, user=None)
    if created.approval == TravelNotice.Approval.PENDING:
        created = approve_travel_notice(created, user=checker())
    return created


def checker():
    from django.contrib.auth import get_user_model

    return user_with(get_user_model(), "approve_travelnotice", "view_travelnotice", staff=True)


# --- validation -----------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"ends_at": timedelta(days=181)}, "ends_at", "at most 180 days"),
        ({"ends_at": timedelta(days=-1)}, "ends_at", "after the start"),
        ({"ends_at": timedelta(0)}, "ends_at", "after the start"),
        ({"radius_km": 50}, "radius_km", "or none of them"),
        ({"center_lat": 48.8, "center_lng": 2.3}, "radius_km", "or none of them"),
        ({"center_lat": 48.8, "center_lng": 2.3, "radius_km": 0}, "radius_km", "greater than or equal to 0.001"),
        ({"center_lat": 91, "center_lng": 2.3, "radius_km": 5}, "center_lat", "less than or equal to 90"),
        ({"reason": ""}, "reason", "required"),
        ({"reason": "   "}, "reason", "a reason is required"),
        ({"reason": "in\x00Paris"}, "reason", "control characters"),
        ({"reason": "x" * 501}, "reason", "at most 500 characters"),
        ({"signal": "not_a_signal"}, "signal", "not a valid choice"),
    ],
)
def test_a_notice_that_is_not_acceptable_is_refused_with_the_field_to_fix(changes, field, message):
    customer = a_customer()
    start = now()
    values = {"customer": customer, "starts_at": start, "ends_at": start + timedelta(days=7), "reason": "trip"}
    values.update({name: start + value if isinstance(value, timedelta) else value for name, value in changes.items()})
    with pytest.raises(ValidationError) as error:
        TravelNotice(**values).full_clean()
    assert message in " ".join(error.value.message_dict[field])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [{"ends_at": timedelta(days=181)}, {"ends_at": timedelta(days=-1)}, {"radius_km": 50}, {"reason": ""}],
)
def test_the_database_refuses_what_validation_refuses(changes):
    customer = a_customer()
    start = now()
    values = {"customer": customer, "starts_at": start, "ends_at": start + timedelta(days=7), "reason": "trip"}
    values.update({name: start + value if isinstance(value, timedelta) else value for name, value in changes.items()})
    with pytest.raises(IntegrityError):
        TravelNotice.objects.bulk_create([TravelNotice(**values)])


@pytest.mark.django_db
def test_an_exactly_180_day_notice_is_accepted_and_one_already_over_is_not():
    customer = a_customer()
    start = now()
    assert notice(customer, starts_at=start, ends_at=start + timedelta(days=180)).pk
    with pytest.raises(ValidationError, match="in the future"):
        notice(customer, starts_at=start - timedelta(days=2), ends_at=start - timedelta(days=1))


@pytest.mark.django_db
def test_at_most_the_limit_of_notices_are_in_force_at_once():
    customer = a_customer()
    for _ in range(MAX_TRAVEL_NOTICES):
        notice(customer)
    with pytest.raises(ValidationError, match=f"at most {MAX_TRAVEL_NOTICES} at once"):
        notice(customer)
    # An ended notice does not count.
    TravelNotice.objects.filter(pk=customer.travel_notices.first().pk).update(
        starts_at=now() - timedelta(days=2), ends_at=now() - timedelta(days=1))
    assert notice(customer).pk


@pytest.mark.django_db
def test_a_notice_is_audited():
    customer = a_customer()
    created = notice(customer, signal="speed_above_limit", region=Region(48.85, 2.35, 50))
    created.reason = "Customer phoned again: staying longer"
    created.save()
    assert [entry.history_type for entry in created.history.order_by("history_id")] == ["+", "~"]


# --- the API --------------------------------------------------------------------------------

def notice_url(user_id):
    return reverse("api-travel-notices", args=[user_id])


@pytest.fixture
def agent(django_user_model):
    """A signed-in user who may create and view travel notices (and nothing else)."""
    user = django_user_model.objects.create_user(unique("agent"), password="x")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_travelnotice", "view_travelnotice"]))
    return user


def post_json(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.django_db
def test_the_api_creates_a_notice_and_lists_it(client, agent):
    customer = a_customer()
    client.force_login(agent)
    body = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-15T00:00:00+01:00", "signal": "speed_above_limit",
            "reason": "Customer phoned: two weeks in Paris", "region": {"lat": 48.8566, "lng": 2.3522, "radius_km": 50}}

    response = post_json(client, notice_url(customer.user_id), body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["starts_at"] == "2030-01-01T00:00:00+00:00" and created["ends_at"] == "2030-01-14T23:00:00+00:00"
    assert (created["signal"], created["region"], created["created_by"]) == (
        "speed_above_limit", {"lat": 48.8566, "lng": 2.3522, "radius_km": 50.0}, agent.username)
    stored = TravelNotice.objects.get(pk=created["id"])
    assert (stored.customer, stored.created_by, stored.history.get().history_user) == (customer, agent, agent)
    listed = client.get(notice_url(customer.user_id)).json()["travel_notices"]
    assert [(n["id"], n["ended"]) for n in listed] == [(created["id"], False)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"starts_at": None}, "starts_at"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"starts_at": "2030-01-01T00:00:00"}, "starts_at"),  # no time zone
        ({"ends_at": "2030-07-01T00:00:01Z"}, "ends_at"),  # 181 days
        ({"ends_at": "2029-12-31T00:00:00Z"}, "ends_at"),  # before the start
        ({"reason": 42}, "reason"),
        ({"reason": ""}, "reason"),
        ({"signal": "all"}, "signal"),
        ({"region": {"lat": 48.8, "lng": 2.3}}, "region"),
        ({"region": {"lat": 48.8, "lng": 2.3, "radius_km": -1}}, "radius_km"),
        ({"region": "Paris"}, "region"),
    ],
)
def test_the_api_answers_400_with_the_field_to_fix(client, agent, body, field):
    customer = a_customer()
    client.force_login(agent)
    valid = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-15T00:00:00Z", "reason": "trip"}
    response = post_json(client, notice_url(customer.user_id), {**valid, **body})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not TravelNotice.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_users_without_the_permission_and_knows_no_unknown_customer(client, agent,
                                                                                    django_user_model):
    customer = a_customer()
    body = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-15T00:00:00Z", "reason": "trip"}
    assert post_json(client, notice_url(customer.user_id), body).status_code == 403  # not signed in
    client.force_login(django_user_model.objects.create_user(unique("viewer"), password="x", is_staff=True))
    assert post_json(client, notice_url(customer.user_id), body).status_code == 403
    assert client.get(notice_url(customer.user_id)).status_code == 403

    client.force_login(agent)
    assert post_json(client, notice_url("nobody_here"), body).status_code == 404
    assert client.get(notice_url("nobody_here")).status_code == 404
    assert not TravelNotice.objects.exists()


# --- publication with the customer's record (real broker) -----------------------------------

def published_record(user_id):
    from fraudsite.topics import USERS_CONFIG

    value, _ = latest_records(USERS_CONFIG.name, user_id)[-1]
    return USERS_CONFIG.codec().decode(value)


@pytest.mark.django_db(transaction=True)
def test_a_notice_is_published_with_the_customers_record_and_an_ended_one_is_not(kafka):
    customer = a_customer()
    start = now().replace(microsecond=0)
    paris = notice(customer, starts_at=start, ends_at=start + timedelta(days=3), signal="speed_above_limit",
                   region=Region(48.8566, 2.3522, 50))
    publish_all_pending()
    assert published_record(customer.user_id)["travel_notices"] == [{
        "starts_at": int(start.timestamp() * 1000), "ends_at": int((start + timedelta(days=3)).timestamp() * 1000),
        "signal": "speed_above_limit", "center_lat": 48.8566, "center_lng": 2.3522, "radius_km": 50.0}]

    later = notice(customer, starts_at=start + timedelta(days=1))
    TravelNotice.objects.filter(pk=paris.pk).update(starts_at=start - timedelta(days=3), ends_at=start - timedelta(days=1))
    publish_all_pending()
    assert [(n["signal"], n["radius_km"]) for n in published_record(customer.user_id)["travel_notices"]] == [("", None)]

    later.delete()
    publish_all_pending()
    assert published_record(customer.user_id)["travel_notices"] == []


# --- the detection job applies them (real stack) ---------------------------------------------

@pytest.fixture
def pipeline(stack):
    pipeline = Pipeline()
    yield pipeline
    pipeline.close()


def published(pipeline, customer):
    """Publish what is pending (the customer with its notices) and wait until the job has read it."""
    assert publish_all_pending()[1] == 0
    pipeline.wait_until_customers_read()
    return customer.user_id


def at_ms(moment):
    return int(moment.timestamp() * 1000)


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_transaction_inside_the_window_is_suppressed_and_one_after_it_is_fraud(pipeline):
    customer = a_customer(max_speed=10)
    ends_at = now() + timedelta(seconds=8)
    notice(customer, ends_at=ends_at, signal="")  # every signal
    user = published(pipeline, customer)

    inside = [pipeline.transaction(user, *LONDON), pipeline.transaction(user, *PARIS, offset_ms=HOUR_MS)]
    first, suppressed = pipeline.verdicts(inside)
    assert suppressed["received_at"] < at_ms(ends_at), "too slow: the pair was not judged inside the window"
    assert (suppressed["status"], suppressed["is_fraud"]) == ("VALID", False)
    assert (suppressed["reason"], suppressed["reasons"]) == ("suppressed:speed_above_limit",) * 2
    assert (suppressed["score"], suppressed["outcome"]) == (0.0, "approve")  # a suppressed reason weighs nothing
    assert suppressed["speed_kmh"] == pytest.approx(343.5, rel=1e-2)  # measured all the same
    assert (suppressed["max_speed"], suppressed["prev_transaction_id"]) == (10.0, inside[0])

    # Nobody acts: the window ends, and the record time of the next pair is past it.
    time.sleep(max(0.0, (ends_at - now()).total_seconds()) + 0.2)
    after = [pipeline.transaction(user, *LONDON, offset_ms=2 * HOUR_MS),
             pipeline.transaction(user, *PARIS, offset_ms=3 * HOUR_MS)]
    for verdict in pipeline.verdicts(after):
        assert verdict["received_at"] >= at_ms(ends_at)
        assert (verdict["status"], verdict["is_fraud"], verdict["reasons"]) == ("FRAUD", True, "speed_above_limit")


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_notice_with_a_region_suppresses_inside_the_circle_only(pipeline):
    customer = a_customer(max_speed=10)
    notice(customer, region=Region(*PARIS, radius_km=50))
    user = published(pipeline, customer)

    ids = [pipeline.transaction(user, *LONDON), pipeline.transaction(user, *PARIS, offset_ms=HOUR_MS),
           pipeline.transaction(user, *NEW_YORK, offset_ms=2 * HOUR_MS)]
    _, in_paris, in_new_york = pipeline.verdicts(ids)

    assert (in_paris["status"], in_paris["reasons"]) == ("VALID", "suppressed:speed_above_limit")
    assert (in_new_york["status"], in_new_york["reasons"]) == ("FRAUD", "speed_above_limit")


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_notice_for_one_signal_leaves_the_others_alerting(pipeline):
    customer = a_customer(max_speed=10, spend_factor=2.0)
    notice(customer, signal="spend_deviation")
    user = published(pipeline, customer)

    steps = [(LONDON, 0, 10), (LONDON, HOUR_MS, 10), (LONDON, 2 * HOUR_MS, 10),
             (PARIS, 3 * HOUR_MS, 10),  # too fast only
             (PARIS, 4 * HOUR_MS, 500)]  # 50x the average only
    ids = [pipeline.transaction(user, *place, offset_ms=offset, amount=amount) for place, offset, amount in steps]
    *_, too_fast, big_spend = pipeline.verdicts(ids)

    assert (too_fast["status"], too_fast["reasons"]) == ("FRAUD", "speed_above_limit")
    assert (big_spend["status"], big_spend["reasons"]) == ("VALID", "suppressed:spend_deviation")
    assert big_spend["average_amount"] == pytest.approx(10.0)

    # Both at once: FRAUD for the reason left, which comes first; the suppressed one is still said.
    both = pipeline.transaction(user, *LONDON, offset_ms=5 * HOUR_MS, amount=5000)
    (verdict,) = pipeline.verdicts([both])
    assert (verdict["status"], verdict["is_fraud"]) == ("FRAUD", True)
    assert (verdict["reason"], verdict["reasons"]) == ("speed_above_limit", "speed_above_limit,suppressed:spend_deviation")


# --- the admin ------------------------------------------------------------------------------

def latest_outbox_value(user_id):
    from outbox.models import OutboxMessage

    return OutboxMessage.objects.filter(key=user_id).order_by("-id").first().value


@pytest.mark.django_db
def test_the_admin_creates_audited_notices_and_deleting_them_republishes_the_customer(admin_client, admin_user):
    customer = a_customer()
    form = {"customer": customer.pk, "starts_at_0": "2030-01-01", "starts_at_1": "00:00:00",
            "ends_at_0": "2030-07-01", "ends_at_1": "00:00:01", "signal": "", "reason": "Customer phoned"}
    refused = admin_client.post(reverse("admin:users_travelnotice_add"), form)
    assert refused.status_code == 200 and "at most 180 days" in refused.content.decode()

    response = admin_client.post(reverse("admin:users_travelnotice_add"), {**form, "ends_at_0": "2030-01-15"})
    assert response.status_code == 302
    created = TravelNotice.objects.get(customer=customer)
    assert (created.created_by, created.history.get().history_user) == (admin_user, admin_user)
    assert created.approval == "pending"  # every signal, everywhere: a second person approves it
    assert latest_outbox_value(customer.user_id)["travel_notices"] == []
    approve = {"action": "approve", "_selected_action": [created.pk]}
    admin_client.post(reverse("admin:users_travelnotice_changelist"), approve)  # not its own maker
    assert TravelNotice.objects.get(pk=created.pk).approval == "pending"
    admin_client.force_login(checker())
    admin_client.post(reverse("admin:users_travelnotice_changelist"), approve)
    assert TravelNotice.objects.get(pk=created.pk).approval == "approved"
    assert [n["signal"] for n in latest_outbox_value(customer.user_id)["travel_notices"]] == [""]
    admin_client.force_login(admin_user)
    assert "Customer phoned" in admin_client.get(reverse("admin:users_customer_change", args=[customer.pk])).content.decode()

    admin_client.post(reverse("admin:users_travelnotice_changelist"),
                      {"action": "delete_selected", "_selected_action": [created.pk], "post": "yes"})
    assert not TravelNotice.objects.exists()
    assert latest_outbox_value(customer.user_id)["travel_notices"] == []


# --- maker-checker beyond one person's scope --------------------------------------------------

def scoped_body(**changes):
    """Within one person's scope: one signal, 800 km around Tokyo, two weeks."""
    start = now().replace(microsecond=0) + timedelta(hours=1)
    body = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(days=14)).isoformat(),
            "signal": "speed_above_limit", "reason": "Customer phoned: two weeks in Japan",
            "region": {"lat": 35.68, "lng": 139.69, "radius_km": 800}}
    for name, value in changes.items():
        body[name] = (start + value).isoformat() if isinstance(value, timedelta) else value
    return body


@pytest.mark.django_db
def test_a_notice_within_one_persons_scope_applies_at_once(client, agent):
    customer = a_customer()
    client.force_login(agent)
    response = post_json(client, notice_url(customer.user_id), scoped_body())
    assert response.status_code == 201 and response.json()["approval"] == "not_needed"
    assert [n["signal"] for n in latest_outbox_value(customer.user_id)["travel_notices"]] == ["speed_above_limit"]


@pytest.mark.django_db
@pytest.mark.parametrize("changes", [
    {"signal": ""},  # every signal
    {"region": None},  # everywhere
    {"region": {"lat": 35.68, "lng": 139.69, "radius_km": 2_001}},
    {"ends_at": timedelta(days=32)},
    {"signal": "", "region": None, "ends_at": timedelta(days=179)},  # the notice
])
def test_a_notice_beyond_one_persons_scope_waits_for_a_second_persons_approval(client, agent, changes,
                                                                                django_user_model):
    customer = a_customer()
    client.force_login(agent)
    response = post_json(client, notice_url(customer.user_id), scoped_body(**changes))
    assert response.status_code == 201
    assert latest_outbox_value(customer.user_id)["travel_notices"] == []  # the job does not see it
    assert response.json()["approval"] == "pending"
    pending = TravelNotice.objects.get(pk=response.json()["id"])

    with pytest.raises(NoticeRefused, match="may not approve"):
        approve_travel_notice(pending, user=agent)
    agent.user_permissions.add(Permission.objects.get(codename="approve_travelnotice"))
    with pytest.raises(NoticeRefused, match="neither made nor changed"):
        approve_travel_notice(pending, user=django_user_model.objects.get(pk=agent.pk))  # its own maker

    approved = approve_travel_notice(pending, user=checker())
    assert approved.approval == "approved" and len(latest_outbox_value(customer.user_id)["travel_notices"]) == 1
    assert approved.history.first().history_change_reason == f"approved by {approved.approved_by.username}"


@pytest.mark.django_db
def test_changing_an_approved_notices_scope_asks_for_approval_again():
    customer = a_customer()
    approved = notice(customer, signal="", ends_at=now() + timedelta(days=60))
    assert approved.approval == "approved"
    approved.reason = "Customer phoned again"  # not its scope: stays approved
    approved.save()
    assert TravelNotice.objects.get(pk=approved.pk).approval == "approved"
    approved.ends_at += timedelta(days=60)
    approved.save()
    assert TravelNotice.objects.get(pk=approved.pk).approval == "pending"
    assert latest_outbox_value(customer.user_id)["travel_notices"] == []

    again = approve_travel_notice(approved, user=checker())  # bulk writes too: QuerySet.update, bulk_create
    TravelNotice.objects.filter(pk=again.pk).update(radius_km=None, center_lat=None, center_lng=None)
    assert TravelNotice.objects.get(pk=again.pk).approval == "pending"
    assert latest_outbox_value(customer.user_id)["travel_notices"] == []
    TravelNotice.objects.bulk_create([TravelNotice(customer=customer, starts_at=now(), ends_at=now() + timedelta(days=2),
                                                   reason="bulk")])
    assert TravelNotice.objects.get(reason="bulk").approval == "pending"
