"""Alert review (map page API, alert pages, admin), the customer view and the CSV export."""

import csv
import io
import json

import pytest
from django.urls import reverse

from alerts.models import AlertReview
from fraudsite.topics import VERDICTS
from tests.support.kafka import unique
from tests.support.records import VerdictMessage, verdict_record
from tests.support.reviews import alert_of, post_review, user_with, verdict
from transactions.models import Verdict
from transactions.verdicts import store_batch
from users.models import Customer

pytestmark = pytest.mark.django_db

@pytest.fixture
def reviewer(django_user_model):
    return user_with(django_user_model, "view_verdict", "review_alert")


@pytest.fixture
def viewer(django_user_model):
    return user_with(django_user_model, "view_verdict")


# --- the map page's review API -------------------------------------------------------------------

def test_a_decision_is_recorded_with_who_when_and_why(client, reviewer):
    alert = verdict()
    client.force_login(reviewer)
    response = post_review(client, alert.transaction_id, {"decision": "false_positive", "comment": " Customer flew. "})
    assert response.status_code == 200
    body = response.json()
    assert (body["decision"], body["reviewer"], body["comment"]) == ("false_positive", reviewer.username, "Customer flew.")

    (review,) = AlertReview.objects.all()
    assert (review.verdict, review.reviewer, review.reviewer_username) == (alert, reviewer, reviewer.username)
    assert (alert_of(alert).review_status, alert_of(alert).reviewed_at) == ("false_positive", review.decided_at)

    # A later decision adds to the history; the latest is the alert's status.
    post_review(client, alert.transaction_id, {"decision": "confirmed_fraud", "comment": "Card was stolen."})
    assert alert_of(alert).review_status == "confirmed_fraud"
    assert list(alert.reviews.values_list("decision", flat=True)) == ["confirmed_fraud", "false_positive"]


@pytest.mark.parametrize("body, status, message", [
    ("not json", 400, "must be JSON"),
    ("[1]", 400, "JSON object"),
    ({"decision": "maybe", "comment": "x"}, 400, "Must be one of"),
    ({"decision": "false_positive"}, 400, "a comment is required"),
    ({"decision": "false_positive", "comment": "   "}, 400, "a comment is required"),
    ({"decision": "false_positive", "comment": "x" * 2001}, 400, "At most 2000"),
])
def test_bad_review_requests_say_what_is_wrong_and_change_nothing(client, reviewer, body, status, message):
    alert = verdict()
    client.force_login(reviewer)
    response = post_review(client, alert.transaction_id, body)
    assert response.status_code == status and message in response.content.decode()
    assert not AlertReview.objects.exists()
    assert alert_of(alert).review_status == ""


def test_only_alerts_can_be_reviewed_and_only_by_reviewers(client, reviewer, viewer):
    valid = verdict(status="VALID", reasons="within_limit")
    alert = verdict()
    decision = {"decision": "confirmed_fraud", "comment": "yes"}

    assert post_review(client, alert.transaction_id, decision).status_code == 403  # anonymous
    client.force_login(viewer)
    assert post_review(client, alert.transaction_id, decision).status_code == 403  # may look, not decide
    client.force_login(reviewer)
    assert post_review(client, "no-such-tx", decision).status_code == 404
    response = post_review(client, valid.transaction_id, decision)
    assert response.status_code == 400 and "is not an alert" in response.content.decode()
    assert client.get(reverse("api-review", args=[alert.transaction_id])).status_code == 405
    assert not AlertReview.objects.exists()


def test_the_review_api_needs_the_csrf_token(reviewer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    response = post_review(client, verdict().transaction_id, {"decision": "confirmed_fraud", "comment": "x"})
    assert response.status_code == 403 and not AlertReview.objects.exists()


@pytest.mark.django_db(transaction=True)  # the worker's storage commits; so does this test
def test_a_redelivered_verdict_keeps_its_review(reviewer):
    # Kafka redelivers after a worker crash; the upsert must not reopen a decided alert.
    from alerts.reviews import review_alert

    record = verdict_record("user_1", unique("tx"), is_fraud=True, status="FRAUD", reason="spend_deviation",
                            reasons="spend_deviation")
    codec = VERDICTS.codec()
    store_batch([VerdictMessage(record, offset=1)], codec)
    stored = Verdict.objects.get(transaction_id=record["transaction_id"])
    assert alert_of(stored).review_status == ""  # a new alert is open
    review_alert(stored.pk, "false_positive", "Known big purchase.", reviewer)

    store_batch([VerdictMessage(record, offset=1)], codec)
    assert (alert_of(stored).review_status, stored.reviews.count()) == ("false_positive", 1)


# --- alert pages --------------------------------------------------------------------------------

def test_the_queue_shows_waiting_alerts_and_counts_per_status(client, reviewer):
    waiting = verdict(minutes=1)
    follow_up = verdict(minutes=2, review_status="needs_follow_up")
    done = verdict(minutes=3, review_status="false_positive")
    verdict(status="VALID", reasons="within_limit")
    client.force_login(reviewer)

    response = client.get(reverse("alert-queue"))
    page = response.content.decode()
    assert response.status_code == 200
    assert waiting.transaction_id in page and follow_up.transaction_id in page and done.transaction_id not in page
    assert [(value, count) for value, _, count in response.context["counts"]] == [
        ("", 1), ("confirmed_fraud", 0), ("false_positive", 1), ("needs_follow_up", 1)]
    assert response.context["open_count"] == 2

    decided = client.get(reverse("alert-queue"), {"status": "false_positive"})
    assert [a.verdict.transaction_id for a in decided.context["alerts"]] == [done.transaction_id]
    assert len(client.get(reverse("alert-queue"), {"status": "all"}).context["alerts"]) == 3
    assert client.get(reverse("alert-queue"), {"status": "bogus"}).status_code == 400


def test_alert_pages_need_sign_in_and_the_view_permission(client, django_user_model):
    alert = verdict()
    for url in (reverse("alert-queue"), reverse("alert-detail", args=[alert.transaction_id])):
        assert client.get(url).status_code == 302
    client.force_login(user_with(django_user_model))
    for url in (reverse("alert-queue"), reverse("alert-detail", args=[alert.transaction_id])):
        assert client.get(url).status_code == 403


def test_an_alert_page_shows_reasons_context_and_history_and_records_a_decision(client, reviewer):
    alert = verdict(merchant_id="m-4471", merchant_country="FR", channel="ecommerce")
    client.force_login(reviewer)
    url = reverse("alert-detail", args=[alert.transaction_id])
    page = client.get(url).content.decode()
    assert "speed_above_limit" in page and "velocity_exceeded" in page and "No decision yet." in page
    assert "<dt>Merchant</dt><dd>m-4471</dd>" in page and "<dt>Merchant country</dt><dd>FR</dd>" in page
    assert "<dt>Channel</dt><dd>ecommerce</dd>" in page and "Card token" not in page  # only what was given

    response = client.post(url, {"decision": "needs_follow_up", "comment": "Call the customer."})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Needs follow-up" in page and "Call the customer." in page and reviewer.username in page

    response = client.post(url, {"decision": "needs_follow_up", "comment": ""})
    assert response.status_code == 400 and "a comment is required" in response.content.decode()
    assert AlertReview.objects.count() == 1


def test_viewers_see_an_alert_but_cannot_decide(client, viewer):
    alert = verdict()
    client.force_login(viewer)
    url = reverse("alert-detail", args=[alert.transaction_id])
    assert 'name="decision"' not in client.get(url).content.decode()
    assert client.post(url, {"decision": "false_positive", "comment": "x"}).status_code == 403
    assert not AlertReview.objects.exists()


# --- admin ------------------------------------------------------------------------------------

def test_a_decision_made_in_the_admin_is_audited_and_cannot_be_edited(admin_client, admin_user):
    alert = verdict()
    response = admin_client.post(reverse("admin:alerts_alertreview_add"),
                                 {"verdict": alert.pk, "decision": "confirmed_fraud", "comment": "Chargeback filed."})
    assert response.status_code == 302
    (review,) = AlertReview.objects.all()
    assert (review.reviewer, review.reviewer_username, review.comment) == (admin_user, admin_user.username,
                                                                           "Chargeback filed.")
    assert alert_of(alert).review_status == "confirmed_fraud"

    change = admin_client.post(reverse("admin:alerts_alertreview_change", args=[review.pk]),
                               {"verdict": alert.pk, "decision": "false_positive", "comment": "rewritten"})
    assert change.status_code == 403
    assert admin_client.post(reverse("admin:alerts_alertreview_delete", args=[review.pk]),
                             {"post": "yes"}).status_code == 403
    review.refresh_from_db()
    assert review.comment == "Chargeback filed."
    verdict_page = admin_client.get(reverse("admin:transactions_verdict_change", args=[alert.pk])).content.decode()
    assert "Chargeback filed." in verdict_page  # the alert's history, inline


def test_the_admin_refuses_to_review_a_valid_verdict(admin_client):
    valid = verdict(status="VALID", reasons="within_limit")
    response = admin_client.post(reverse("admin:alerts_alertreview_add"),
                                 {"verdict": valid.pk, "decision": "confirmed_fraud", "comment": "x"})
    assert response.status_code == 200 and "is not an alert" in response.content.decode()
    assert not AlertReview.objects.exists()


def test_csv_export_follows_the_admin_filters(admin_client):
    velocity = verdict(reasons="velocity_exceeded", first_name="=HYPERLINK(1)")
    verdict(reasons="speed_above_limit")
    verdict(status="VALID", reasons="within_limit")
    url = reverse("admin:transactions_verdict_export")

    response = admin_client.get(url, {"status__exact": "FRAUD", "reason": "velocity_exceeded"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["transaction_id"] for row in rows] == [velocity.transaction_id]
    assert rows[0]["first_name"] == "'=HYPERLINK(1)"  # a spreadsheet must not run it
    assert rows[0]["reasons"] == "velocity_exceeded" and rows[0]["review_status"] == ""

    everything = list(csv.reader(io.StringIO(b"".join(admin_client.get(url).streaming_content).decode())))
    assert len(everything) == 1 + 3
    changelist = admin_client.get(reverse("admin:transactions_verdict_changelist"), {"reason": "velocity_exceeded"})
    assert "export.csv?reason=velocity_exceeded" in changelist.content.decode()


def test_csv_export_needs_the_view_permission(client, django_user_model):
    client.force_login(user_with(django_user_model, staff=True))
    assert client.get(reverse("admin:transactions_verdict_export")).status_code == 403


# --- the customer view ----------------------------------------------------------------------------

def test_the_customer_view_shows_the_path_and_a_timeline_with_reasons(client, viewer):
    Customer.objects.bulk_create([Customer(user_id="user_1", first_name="Lena", last_name="Whitaker", max_speed=10,
                                           spend_factor=3)])
    first = verdict(status="VALID", reasons="no_history", minutes=0)
    second = verdict(reasons="speed_above_limit,spend_deviation", minutes=5)
    verdict(user_id="someone_else", minutes=6)
    client.force_login(viewer)

    page = client.get(reverse("customer", args=["user_1"])).content.decode()
    path = json.loads(page.split('<script id="path" type="application/json">')[1].split("</script>")[0])
    assert [v["transaction_id"] for v in path] == [first.transaction_id, second.transaction_id]  # oldest first
    assert "spend_deviation" in page and "up to 3.0× the average amount" in page
    assert client.get(reverse("customer", args=["nobody"])).status_code == 404
