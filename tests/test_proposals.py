"""Threshold proposals: drafts, CSV upload, maker-checker approval (no stack needed here; the replay
queue and its process are in tests/test_replay_queue.py, the replay through the real stack in
tests/test_replay.py)."""

import pytest
from django.urls import reverse

from outbox.models import OutboxMessage
from proposals.models import Proposal
from proposals.services import (ProposalRefused, approve, changes_from_csv, create_proposal, propose_for, reject,
                                replay_fingerprint)
from tests.support.kafka import unique
from tests.support.reviews import user_with
from users.models import Customer
from users.thresholds import InvalidThresholds

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    return [Customer.objects.create(user_id=unique("cust"), first_name="A", last_name="B", max_speed=500)
            for _ in range(3)]


@pytest.fixture
def author(django_user_model):
    return user_with(django_user_model, "add_proposal", staff=True)


@pytest.fixture
def checker(django_user_model):
    return user_with(django_user_model, "approve_proposal", "view_proposal", staff=True)


def replayed(proposal):
    """As if its replay had finished now (the replay itself runs through the stack in test_replay)."""
    proposal.status, proposal.replay_fingerprint = Proposal.Status.REPLAYED, replay_fingerprint(proposal)
    proposal.save()
    return proposal


def outbox_rows(customers):
    return OutboxMessage.objects.filter(key__in=[c.user_id for c in customers]).count()


def test_a_draft_is_audited_and_never_touches_customers_or_users_config(customers, author):
    before = outbox_rows(customers)

    proposal = propose_for(Customer.objects.filter(pk__in=[c.pk for c in customers]),
                           {"max_speed": 100, "spend_factor": 4}, author=author, reason="fewer false positives")

    assert proposal.status == "draft" and proposal.author == author
    assert proposal.changes == {c.user_id: {"max_speed": 100, "spend_factor": 4} for c in customers}
    assert outbox_rows(customers) == before  # nothing queued for users-config
    assert {c.max_speed for c in Customer.objects.filter(pk__in=[c.pk for c in customers])} == {500}
    (record,) = proposal.history.all()
    assert (record.history_user, record.history_change_reason) == (author, "drafted")


@pytest.mark.parametrize("changes, field, message", [
    ({"max_speed": 0}, "max_speed", "greater than or equal to 0.001"),
    ({"velocity_max_transactions": 3}, "velocity_window_minutes", "Set both velocity thresholds"),
    ({"usual_hour_start": 5, "usual_hour_end": 5}, "usual_hour_end", "must differ"),
    ({"colour": "red"}, "colour", "Not a threshold"),
])
def test_a_draft_is_validated_like_the_customer_form(customers, author, changes, field, message):
    with pytest.raises(InvalidThresholds) as refused:
        create_proposal(author=author, reason="r", changes={customers[0].user_id: changes})
    assert message in " ".join(refused.value.errors[customers[0].user_id][field])
    assert not Proposal.objects.exists()


def test_a_csv_upload_names_every_wrong_row_and_nothing_is_saved(customers, author):
    a, b, c = (customer.user_id for customer in customers)
    text = ("user_id,max_speed,spend_factor\n"
            f"{a},800,off\n"
            f"{b},fast,3\n"            # not a number
            f"{c},0,3\n"               # below the minimum
            "nobody,800,3\n"           # no such customer
            f"{a},900,3\n")            # twice
    with pytest.raises(InvalidThresholds) as refused:
        changes_from_csv(text)
    errors = refused.value.errors
    assert sorted(errors) == [f"line 3 ({b})", f"line 4 ({c})", "line 5 (nobody)", f"line 6 ({a})"]
    assert "'fast'" in errors[f"line 3 ({b})"]["max_speed"][0]
    assert "No such customer" in errors["line 5 (nobody)"]["user_id"][0]
    assert "Also on line 2" in errors[f"line 6 ({a})"]["user_id"][0]

    assert changes_from_csv(f"user_id,max_speed,spend_factor\n{a},800,off\n{b},900,3\n") == {
        a: {"max_speed": 800.0, "spend_factor": None}, b: {"max_speed": 900.0, "spend_factor": 3.0}}
    with pytest.raises(InvalidThresholds, match="Not a threshold"):
        changes_from_csv(f"user_id,max_sped\n{a},800\n")


def test_the_csv_upload_page_shows_row_errors_and_saves_nothing(client, customers, author):
    author.is_staff = True
    author.save()
    client.force_login(author)
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = lambda text: client.post(reverse("admin:proposals_proposal_upload"), {  # noqa: E731
        "reason": "winter", "file": SimpleUploadedFile("t.csv", text.encode())})
    response = upload(f"user_id,max_speed\n{customers[0].user_id},800\n{customers[1].user_id},-1\n")
    assert response.status_code == 200
    assert f"line 3 ({customers[1].user_id})" in response.content.decode()
    assert not Proposal.objects.exists()

    response = upload(f"user_id,max_speed\n{customers[0].user_id},800\n{customers[1].user_id},900\n")
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:proposals_proposal_change", args=[proposal.pk])
    assert proposal.changes == {customers[0].user_id: {"max_speed": 800.0}, customers[1].user_id: {"max_speed": 900.0}}


def test_the_replay_window_is_set_per_proposal_from_the_customers_action_and_the_upload(client, customers,
                                                                                       django_user_model):
    maker = user_with(django_user_model, "add_proposal", "view_customer", staff=True)
    client.force_login(maker)

    response = client.post(reverse("admin:users_customer_changelist"), {
        "action": "propose_thresholds", "_selected_action": [c.pk for c in customers], "propose": "Save",
        "reason": "winter", "replay_days": "7", "max_speed": "800"})
    drafted = Proposal.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:proposals_proposal_change", args=[drafted.pk])
    assert drafted.replay_days == 7

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("admin:proposals_proposal_upload"), {
        "reason": "winter", "replay_days": "90",
        "file": SimpleUploadedFile("t.csv", f"user_id,max_speed\n{customers[0].user_id},800\n".encode())})
    uploaded = Proposal.objects.exclude(pk=drafted.pk).get()
    assert response.status_code == 302 and uploaded.replay_days == 90


def test_self_approval_is_refused(customers, django_user_model):
    maker = user_with(django_user_model, "add_proposal", "approve_proposal")
    proposal = replayed(create_proposal(author=maker, reason="r", changes={customers[0].user_id: {"max_speed": 90}}))

    with pytest.raises(ProposalRefused, match="someone other than its author"):
        approve(proposal, user=maker)
    proposal.refresh_from_db()
    assert proposal.status == "replayed"
    assert Customer.objects.get(pk=customers[0].pk).max_speed == 500


def test_approval_needs_the_permission_and_a_replay(customers, author, checker, django_user_model):
    proposal = create_proposal(author=author, reason="r", changes={customers[0].user_id: {"max_speed": 90}})
    with pytest.raises(ProposalRefused, match="Only a replayed proposal"):
        approve(proposal, user=checker)
    replayed(proposal)
    with pytest.raises(ProposalRefused, match="may not approve"):
        approve(proposal, user=user_with(django_user_model, "view_proposal"))


def test_a_proposal_whose_customers_changed_since_its_replay_must_be_replayed_again(customers, author, checker):
    proposal = replayed(create_proposal(author=author, reason="r", changes={customers[0].user_id: {"max_speed": 90}}))
    customers[0].spend_factor = 7
    customers[0].save()

    with pytest.raises(ProposalRefused, match="replay it again"):
        approve(proposal, user=checker)
    assert Customer.objects.get(pk=customers[0].pk).max_speed == 500


def test_approval_publishes_through_the_outbox_in_one_step_and_is_audited(customers, author, checker):
    changes = {customers[0].user_id: {"max_speed": 90}, customers[1].user_id: {"max_speed": 90},
               customers[2].user_id: {"spend_factor": 3}}
    proposal = replayed(create_proposal(author=author, reason="tighter", changes=changes))
    before = outbox_rows(customers)

    approve(proposal, user=checker)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("published", checker)
    assert [c.max_speed for c in Customer.objects.filter(pk__in=[c.pk for c in customers]).order_by("pk")] == [90, 90, 500]
    assert Customer.objects.get(pk=customers[2].pk).spend_factor == 3
    assert outbox_rows(customers) == before + 3  # one users-config record per changed customer
    latest = Customer.objects.get(pk=customers[0].pk).history.first()
    assert (latest.history_user, latest.history_change_reason) == (checker, f"proposal {proposal.pk}: tighter")
    assert [r.history_change_reason for r in proposal.history.order_by("history_id")][-1] == \
        f"approved by {checker.username} and published"
    with pytest.raises(ProposalRefused):
        approve(proposal, user=checker)  # once only


def test_rejection_records_who_and_why_and_publishes_nothing(customers, author, checker):
    proposal = replayed(create_proposal(author=author, reason="r", changes={customers[0].user_id: {"max_speed": 90}}))
    before = outbox_rows(customers)
    with pytest.raises(ProposalRefused, match="Say why"):
        reject(proposal, user=checker, reason=" ")

    reject(proposal, user=checker, reason="too many new alerts")

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.decision_reason) == ("rejected", checker, "too many new alerts")
    assert outbox_rows(customers) == before
    assert proposal.history.first().history_change_reason == f"rejected by {checker.username}"


def test_the_comparison_counts_alerts_gained_and_lost_by_decision_and_reason():
    from datetime import timedelta

    from tests.support.records import MOMENT
    from tests.support.reviews import verdict
    from proposals.replay import compare

    def replayed(status, reasons):
        return {"status": status, "reasons": reasons}

    stored = [
        verdict("kept", "FRAUD", "speed_above_limit"),
        verdict("lost-confirmed", "FRAUD", "speed_above_limit,velocity_exceeded", review_status="confirmed_fraud", minutes=1),
        verdict("lost-dismissed", "FRAUD", "spend_deviation", review_status="false_positive", minutes=2),
        verdict("gained", "VALID", "within_limit", minutes=3),
        verdict("still-valid", "VALID", "within_limit", minutes=4),
        verdict("late", "VALID", "within_limit", minutes=5),  # stored after the export: not replayed
        verdict("outside", "FRAUD", "speed_above_limit", minutes=60),  # after the window
        verdict("other-customer", "FRAUD", "speed_above_limit", user_id="someone_else"),
    ]
    assert len(stored) == 8
    result = compare({
        "kept": replayed("FRAUD", "speed_above_limit"),
        "lost-confirmed": replayed("VALID", "within_limit"),
        "lost-dismissed": replayed("VALID", "within_limit"),
        "gained": replayed("FRAUD", "unusual_hour,suppressed:spend_deviation"),
        "still-valid": replayed("VALID", "within_limit"),
    }, ["user_1"], MOMENT, MOMENT + timedelta(minutes=30))

    assert (result["transactions"], result["not_replayed"]) == (5, 1)
    assert (result["alerts_before"], result["alerts_after"]) == (3, 2)
    assert result["gained"] == {"count": 1, "open": 1, "confirmed_fraud": 0, "false_positive": 0, "needs_follow_up": 0}
    assert result["lost"] == {"count": 2, "open": 0, "confirmed_fraud": 1, "false_positive": 1, "needs_follow_up": 0}
    assert result["per_reason"] == {
        "speed_above_limit": {"gained": 0, "lost": 1}, "velocity_exceeded": {"gained": 0, "lost": 1},
        "spend_deviation": {"gained": 0, "lost": 1}, "unusual_hour": {"gained": 1, "lost": 0},
        "non_positive_elapsed_time": {"gained": 0, "lost": 0}}
    assert [(row["transaction_id"], row["change"], row["review_status"]) for row in result["affected"]] == [
        ("lost-confirmed", "lost", "confirmed_fraud"), ("lost-dismissed", "lost", "false_positive"),
        ("gained", "gained", "open")]
