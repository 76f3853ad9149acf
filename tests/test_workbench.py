"""The analyst workbench: taking and assigning alerts, cases, deadlines, bulk decisions, roles."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts import cases, claims
from alerts.models import Alert, AlertEvent, AlertReview, Case
from fraudsite.topics import VERDICTS
from tests.support.kafka import unique
from tests.support.records import VerdictMessage, verdict_record
from tests.support.reviews import alert_of, post_review, user_with, verdict
from transactions.verdicts import store_batch
from users.models import Customer
from users.notices import create_travel_notice

pytestmark = pytest.mark.django_db


def reviewer(django_user_model):
    """For transactional tests: the flush between them removes the groups the migrations made."""
    return user_with(django_user_model, "view_verdict", "review_alert")


def member(django_user_model, role, staff=False):
    user = django_user_model.objects.create_user(username=unique(role.split()[0].lower()), password="pw",
                                                 is_staff=staff)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def analyst(django_user_model):
    return member(django_user_model, "Analyst")


@pytest.fixture
def lead(django_user_model):
    return member(django_user_model, "Team lead")


def customer():
    return Customer.objects.create(user_id=unique("cust"), first_name="Lena", last_name="Whitaker", max_speed=10)


# --- taking and assigning ---------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # each thread commits on its own connection
def test_twenty_analysts_taking_at_once_get_each_of_ten_alerts_exactly_once(django_user_model):
    alerts = [verdict(minutes=i).pk for i in range(10)]
    analysts = [reviewer(django_user_model) for _ in range(20)]
    start, taken, failures = threading.Barrier(20), [], []

    def take(user):
        try:
            start.wait()
            alert = claims.take_next(user)
            taken.append((user.pk, alert.pk if alert else None))
        except Exception as error:  # reported below: a thread's exception would otherwise vanish
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(user,)) for user in analysts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures
    handed_out = [pk for _, pk in taken if pk is not None]
    assert sorted(handed_out) == sorted(alerts)  # each alert once, none twice
    assert len(taken) - len(handed_out) == 10  # the other ten analysts were told there is none
    holders = dict(Alert.objects.values_list("pk", "holder_id"))
    assert holders == {pk: user for user, pk in taken if pk is not None}
    assert AlertEvent.objects.filter(action="taken").count() == 10


def test_take_next_gives_the_oldest_open_alert_nobody_holds(analyst, lead):
    newest, oldest, decided = verdict(minutes=3), verdict(minutes=1), verdict(minutes=0, review_status="false_positive")
    assert claims.take_next(lead).pk == oldest.pk
    assert claims.take_next(analyst).pk == newest.pk
    assert claims.take_next(analyst) is None
    assert not Alert.objects.get(pk=decided.pk).holder


def test_assigning_and_releasing_are_audited_and_need_the_right(analyst, lead, django_user_model):
    alert = verdict()
    other = member(django_user_model, "Analyst")
    with pytest.raises(claims.ReviewError, match="may not assign"):
        claims.assign(alert.pk, other, analyst)
    claims.assign(alert.pk, analyst, lead)
    with pytest.raises(claims.ReviewError, match="holds this alert"):
        claims.assign(alert.pk, other, other)  # an analyst cannot take a colleague's alert
    with pytest.raises(claims.ReviewError, match="holds this alert"):
        claims.release(alert.pk, other)
    claims.assign(alert.pk, other, lead)  # reassigned
    claims.release(alert.pk, other)
    viewer = django_user_model.objects.create_user(username=unique("viewer"))
    with pytest.raises(claims.ReviewError, match="may not review"):
        claims.assign(alert.pk, viewer, lead)
    steps = list(AlertEvent.objects.filter(alert_id=alert.pk).values_list("action", "actor_username", "holder_username"))
    assert steps == [("assigned", lead.username, analyst.username), ("assigned", lead.username, other.username),
                     ("released", other.username, "")]


def test_a_final_decision_releases_the_alert_but_a_follow_up_keeps_it(analyst, client):
    follow_up, final = verdict(minutes=1), verdict(minutes=2)
    for alert in (follow_up, final):
        claims.assign(alert.pk, analyst, analyst)
    client.force_login(analyst)
    for alert, decision in ((follow_up, "needs_follow_up"), (final, "confirmed_fraud")):
        client.post(reverse("alert-detail", args=[alert.transaction_id]), {"decision": decision, "comment": "Seen."})
    assert Alert.objects.get(pk=follow_up.pk).holder == analyst
    assert Alert.objects.get(pk=final.pk).holder is None


def test_the_pages_take_assign_and_release(client, analyst, lead):
    alert = verdict()
    client.force_login(analyst)
    response = client.post(reverse("alert-take-next"))
    assert response.url == reverse("alert-detail", args=[alert.transaction_id])
    page = client.get(response.url).content.decode()
    assert f"{analyst.username}" in page and 'id="release"' in page
    assert client.post(reverse("alert-take-next"), follow=True).content.decode().count("No open alert is waiting") == 1

    client.force_login(lead)
    client.post(reverse("alert-assign", args=[alert.transaction_id]), {"holder": lead.username})
    assert Alert.objects.get(pk=alert.pk).holder == lead
    response = client.post(reverse("alert-assign", args=[alert.transaction_id]), {"holder": "nobody-such"}, follow=True)
    assert "No user" in response.content.decode() and Alert.objects.get(pk=alert.pk).holder == lead
    client.post(reverse("alert-release", args=[alert.transaction_id]))
    assert Alert.objects.get(pk=alert.pk).holder is None


def test_a_form_cannot_send_the_user_to_another_site(client, analyst):
    client.force_login(analyst)
    response = client.post(reverse("alert-release", args=[verdict().transaction_id]),
                           {"next": "https://evil.example/"})
    assert response.url == reverse("alert-queue")


# --- bulk decisions -----------------------------------------------------------------------------

def test_a_bulk_decision_records_one_review_per_alert(client, analyst):
    chosen = [verdict(minutes=i) for i in range(3)]
    untouched = verdict(minutes=9)
    client.force_login(analyst)
    response = client.post(reverse("alert-bulk-review"), {
        "alert": [a.transaction_id for a in chosen], "decision": "false_positive", "comment": "Known merchant."})
    assert response.status_code == 302
    reviews = AlertReview.objects.order_by("verdict_id")
    assert [(r.verdict_id, r.decision, r.comment, r.reviewer_username) for r in reviews] == [
        (a.pk, "false_positive", "Known merchant.", analyst.username) for a in chosen]
    assert alert_of(untouched).review_status == ""


def test_a_bulk_decision_with_a_bad_choice_changes_nothing(client, analyst):
    alert, valid = verdict(), verdict(status="VALID", reasons="within_limit")
    client.force_login(analyst)
    for chosen, comment in (([alert.transaction_id, valid.transaction_id], "x"), ([alert.transaction_id], " "),
                            ([alert.transaction_id, "no-such"], "x"), ([], "x")):
        response = client.post(reverse("alert-bulk-review"), {"alert": chosen, "decision": "false_positive",
                                                               "comment": comment}, follow=True)
        assert response.status_code == 200 and 'class="notice error"' in response.content.decode()
    assert not AlertReview.objects.exists()


# --- cases --------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # the worker's storage commits
def test_a_case_gathers_the_customers_alerts_new_ones_join_and_deciding_it_decides_them(django_user_model):
    analyst = reviewer(django_user_model)
    lena, other = customer(), customer()
    first, second = verdict(user_id=lena.user_id, customer=lena), verdict(user_id=lena.user_id, customer=lena)
    someone_elses = verdict(user_id=other.user_id, customer=other)
    decided = verdict(user_id=lena.user_id, customer=lena, review_status="false_positive")
    case, created = cases.open_case(lena, analyst)
    assert created and set(case.alerts.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert cases.open_case(lena, analyst) == (case, False)

    record = verdict_record(lena.user_id, unique("tx"), is_fraud=True, status="FRAUD", reason="spend_deviation",
                            reasons="spend_deviation")
    store_batch([VerdictMessage(record, offset=7)], VERDICTS.codec())  # as the worker stores it
    arrived = Alert.objects.get(verdict__transaction_id=record["transaction_id"])
    assert arrived.case == case

    claims.assign(first.pk, analyst, analyst)
    cases.add_note(case, "Called the customer: the card was stolen.", analyst)
    reviews = cases.decide_case(case.pk, "confirmed_fraud", "Stolen card.", analyst)
    assert sorted(r.verdict_id for r in reviews) == sorted([first.pk, second.pk, arrived.pk])
    case.refresh_from_db()
    assert (case.status, case.decision) == ("decided", "confirmed_fraud")
    assert case.history.first().history_user == analyst
    assert not Alert.objects.filter(case=case, holder__isnull=False).exists()
    assert (alert_of(someone_elses).review_status, alert_of(decided).review_status) == ("", "false_positive")
    with pytest.raises(cases.ReviewError, match="already decided"):
        cases.decide_case(case.pk, "false_positive", "Again.", analyst)
    assert cases.open_case(lena, analyst)[1]  # a new case can be opened once the last is decided


def test_the_case_page_adds_notes_and_decides(client, analyst):
    lena = customer()
    alert = verdict(user_id=lena.user_id, customer=lena)
    client.force_login(analyst)
    response = client.post(reverse("alert-open-case", args=[alert.transaction_id]))
    case = Case.objects.get(customer=lena)
    assert response.url == reverse("case-detail", args=[case.pk])
    client.post(response.url, {"note": "Customer confirms travel."})
    client.post(response.url, {"decision": "needs_follow_up", "comment": "Maybe."})  # not a case decision
    assert Case.objects.get(pk=case.pk).status == "open"
    client.post(response.url, {"decision": "false_positive", "comment": "Travelling."})
    page = client.get(response.url).content.decode()
    assert "Customer confirms travel." in page and "Decided" in page and "False positive" in page
    assert alert_of(alert).review_status == "false_positive"


# --- holds -------------------------------------------------------------------------------------

def test_a_held_alert_is_decided_by_its_holder_only_on_every_path(client, analyst, django_user_model):
    """The page, the API, a bulk decision, the admin and the holder's case: analyst B decides none of
    A's alerts; A still can."""
    held, other = verdict(minutes=1), verdict(minutes=2)
    claims.assign(held.pk, analyst, analyst)
    colleague = member(django_user_model, "Analyst", staff=True)
    client.force_login(colleague)
    decide = {"decision": "false_positive", "comment": "Not mine to decide."}
    assert post_review(client, held.transaction_id, decide).status_code == 409
    assert client.post(reverse("alert-detail", args=[held.transaction_id]), decide).status_code == 400
    client.post(reverse("alert-bulk-review"), {"alert": [held.transaction_id, other.transaction_id], **decide})
    response = client.post(reverse("admin:alerts_alertreview_add"), {"verdict": held.pk, **decide})
    assert response.status_code == 200 and "Only the holder, or a team lead" in response.content.decode()
    assert not AlertReview.objects.exists()  # all or none: the bulk decision did not decide `other` either
    page = client.get(reverse("alert-detail", args=[held.transaction_id])).content.decode()
    assert 'id="held-elsewhere"' in page and "Record decision" not in page

    client.force_login(analyst)
    assert post_review(client, held.transaction_id, decide).status_code == 200


def test_a_team_lead_may_decide_a_held_alert_and_the_override_is_audited(client, analyst, lead):
    held = verdict()
    claims.assign(held.pk, analyst, analyst)
    client.force_login(lead)
    response = post_review(client, held.transaction_id, {"decision": "needs_follow_up", "comment": "Lead call."})
    assert response.status_code == 200
    event = AlertEvent.objects.get(alert_id=held.pk, action="overridden")
    assert (event.actor_username, event.holder_username) == (lead.username, analyst.username)
    assert Alert.objects.get(pk=held.pk).holder == analyst  # a follow-up leaves it with its holder
    page = client.get(reverse("alert-detail", args=[held.transaction_id])).content.decode()
    assert "overrides their hold" in page


def test_a_case_is_decided_by_its_owner_or_a_team_lead_and_a_decided_case_takes_no_notes(
        client, analyst, lead, django_user_model):
    lena = customer()
    verdict(user_id=lena.user_id, customer=lena)
    case, _ = cases.open_case(lena, analyst)
    colleague = member(django_user_model, "Analyst")
    with pytest.raises(cases.ReviewError, match="owns this case"):
        cases.decide_case(case.pk, "false_positive", "Travelling.", colleague)
    client.force_login(colleague)
    assert 'id="owned-elsewhere"' in client.get(reverse("case-detail", args=[case.pk])).content.decode()
    client.post(reverse("case-detail", args=[case.pk]), {"decision": "false_positive", "comment": "Mine now."})
    assert Case.objects.get(pk=case.pk).status == "open"

    cases.decide_case(case.pk, "false_positive", "Travelling.", lead)
    case.refresh_from_db()
    assert case.status == "decided"
    assert case.history.first().history_change_reason == (
        f"decided by {lead.username} over {analyst.username}'s ownership")
    with pytest.raises(cases.ReviewError, match="closed to new notes"):
        cases.add_note(case, "Afterthought.", analyst)
    client.force_login(analyst)
    client.post(reverse("case-detail", args=[case.pk]), {"note": "Afterthought."})
    assert not case.notes.exists()


# --- deadlines and the team view ---------------------------------------------------------------

def test_the_queue_colours_by_age_and_the_team_view_lists_overdue_alerts(client, lead, analyst, settings):
    settings.ALERT_DEADLINE_MINUTES = {"": 60, "needs_follow_up": 24 * 60}
    now = timezone.now()
    overdue = verdict(received_at=now - timedelta(minutes=61))
    nearly = verdict(received_at=now - timedelta(minutes=50))
    fresh = verdict(received_at=now - timedelta(minutes=5))
    follow_up = verdict(received_at=now - timedelta(days=3), review_status="needs_follow_up",
                        reviewed_at=now - timedelta(hours=2))  # waits from the follow-up decision: in time
    claims.assign(fresh.pk, analyst, analyst)
    client.force_login(lead)
    page = client.get(reverse("alert-queue")).content.decode()
    rows = [page.index(f'data-transaction-id="{v.transaction_id}"') for v in (overdue, nearly, fresh)]
    assert rows == sorted(rows)  # oldest first
    for alert, standing in ((overdue, "overdue"), (nearly, "nearly-due"), (fresh, "in-time"), (follow_up, "in-time")):
        assert f'<tr class="{standing}" data-transaction-id="{alert.transaction_id}"' in page

    AlertReview.objects.create(verdict=nearly, decision="false_positive", comment="x", reviewer=analyst,
                               reviewer_username=analyst.username)
    team = client.get(reverse("alert-team")).context
    assert [a.verdict.transaction_id for a in team["overdue"]] == [overdue.transaction_id]
    (row,) = team["analysts"]
    assert (row["username"], row["held"], row["decided"]) == (analyst.username, 1, 1)
    assert 49 <= row["median_minutes_to_decision"] <= 51


# --- roles --------------------------------------------------------------------------------------

def test_each_role_can_do_its_work_and_is_refused_the_rest(client, django_user_model):
    alert = verdict()
    analyst, lead = member(django_user_model, "Analyst", staff=True), member(django_user_model, "Team lead", staff=True)
    admin = member(django_user_model, "Administrator", staff=True)
    customers = reverse("admin:users_customer_add")

    client.force_login(analyst)
    assert client.get(reverse("alert-queue")).status_code == 200
    assert client.get(reverse("alert-team")).status_code == 403
    assert client.get(customers).status_code == 403
    client.post(reverse("alert-assign", args=[alert.transaction_id]), {"holder": lead.username})
    assert Alert.objects.get(pk=alert.pk).holder is None  # analysts cannot assign colleagues
    client.post(reverse("alert-take-next"))
    assert Alert.objects.get(pk=alert.pk).holder == analyst

    lena = customer()
    notice = create_travel_notice(lena, starts_at=timezone.now(), ends_at=timezone.now() + timedelta(days=3),
                                  reason="Trip", user=analyst)
    end_notice = reverse("admin:users_travelnotice_delete", args=[notice.pk])
    assert client.post(end_notice, {"post": "yes"}).status_code == 403  # analysts add notices, never end them

    client.force_login(lead)
    assert client.get(reverse("alert-team")).status_code == 200
    assert client.get(customers).status_code == 403
    assert client.post(end_notice, {"post": "yes"}).status_code == 302 and not lena.travel_notices.exists()
    client.post(reverse("alert-assign", args=[alert.transaction_id]), {"holder": lead.username})
    assert Alert.objects.get(pk=alert.pk).holder == lead

    # Maker-checker: administrators draft threshold proposals, team leads approve them.
    assert admin.has_perm("proposals.add_proposal") and not admin.has_perm("proposals.approve_proposal")
    assert lead.has_perm("proposals.approve_proposal") and not lead.has_perm("proposals.add_proposal")
    assert not analyst.has_perm("proposals.approve_proposal")

    client.force_login(admin)
    assert client.get(customers).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    analysts = Group.objects.get(name="Analyst")  # roles are changed by migrations, not in the admin
    response = client.post(reverse("admin:auth_group_change", args=[analysts.pk]), {"name": "Everyone"})
    assert response.status_code == 403 and Group.objects.filter(name="Analyst").exists()


# --- travel notices from a case -------------------------------------------------------------------

def test_a_travel_notice_made_on_the_case_page_is_published_with_its_region(client, analyst, django_user_model):
    from outbox.models import OutboxMessage

    lena = customer()
    case, _ = cases.open_case(lena, analyst)
    start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    form = {"starts_at": f"{start:%Y-%m-%dT%H:%M}", "ends_at": f"{start + timedelta(days=14):%Y-%m-%dT%H:%M}",
            "signal": "speed_above_limit", "reason": "Holiday in Italy", "center_lat": "41.9", "center_lng": "12.5",
            "radius_km": "300"}
    client.force_login(analyst)
    too_long = {**form, "ends_at": f"{start + timedelta(days=181):%Y-%m-%dT%H:%M}"}
    response = client.post(reverse("case-detail", args=[case.pk]), too_long)
    assert response.status_code == 400 and "180 days" in response.content.decode()
    half_region = {**form, "radius_km": ""}
    assert client.post(reverse("case-detail", args=[case.pk]), half_region).status_code == 400
    assert not lena.travel_notices.exists()

    client.post(reverse("case-detail", args=[case.pk]), form)
    notice = lena.travel_notices.get()
    assert (notice.signal, notice.radius_km, notice.created_by) == ("speed_above_limit", 300, analyst)
    published = OutboxMessage.objects.filter(key=lena.user_id).latest("id").value["travel_notices"]
    assert [(n["signal"], n["radius_km"], n["center_lat"]) for n in published] == [("speed_above_limit", 300, 41.9)]

    viewer = user_with(django_user_model, "view_verdict", "review_alert")  # may review, not add notices
    client.force_login(viewer)
    assert client.post(reverse("case-detail", args=[case.pk]), form).status_code == 403
    assert lena.travel_notices.count() == 1
