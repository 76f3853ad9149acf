"""Migrations that move data keep it: a database holding reviews, unpublished customers, and
verdicts linked (or not) to submitted transactions, or alerts decided on their verdicts, is
migrated forward and everything is still there."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = [("transactions", "0003_further_signals_and_reviews"), ("alerts", None),
                   ("users", "0002_further_signals")]


def migrate(targets):
    """Migrate the test database to targets; returns the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture(autouse=True)
def back_to_the_latest_schema():
    yield
    migrate(latest())  # whatever happened, the next test finds the schema it expects


def test_reviews_and_their_permissions_survive_the_move_to_the_alerts_app(django_user_model):
    old = migrate(BEFORE_THE_MOVE)
    Verdict, AlertReview = old.get_model("transactions", "Verdict"), old.get_model("transactions", "AlertReview")
    ContentType, Permission = old.get_model("contenttypes", "ContentType"), old.get_model("auth", "Permission")
    User, Group = old.get_model("auth", "User"), old.get_model("auth", "Group")
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    verdict = Verdict.objects.create(
        transaction_id="tx-kept", user_id="u1", timestamp=moment, lat=0, lng=0, amount=1, received_at=moment,
        is_fraud=True, status="FRAUD", reason="speed_above_limit", reasons="speed_above_limit",
        review_status="confirmed_fraud", kafka_topic="t", kafka_partition=0, kafka_offset=1)
    reviewer = User.objects.create(username="analyst")
    AlertReview.objects.create(verdict=verdict, decision="needs_follow_up", comment="first look",
                               reviewer=reviewer, reviewer_username="analyst")
    AlertReview.objects.create(verdict=verdict, decision="confirmed_fraud", comment="called the customer",
                               reviewer=reviewer, reviewer_username="analyst")
    reviews_type, _ = ContentType.objects.get_or_create(app_label="transactions", model="alertreview")
    may_add, _ = Permission.objects.get_or_create(content_type=reviews_type, codename="add_alertreview",
                                                  defaults={"name": "Can add alert review"})
    Group.objects.create(name="analysts").permissions.add(may_add)

    migrate(latest())

    from alerts.models import AlertReview as MovedReview

    assert [(r.verdict.transaction_id, r.decision, r.comment, r.reviewer.username)
            for r in MovedReview.objects.order_by("id")] == [
        ("tx-kept", "needs_follow_up", "first look", "analyst"),
        ("tx-kept", "confirmed_fraud", "called the customer", "analyst")]
    assert MovedReview._meta.db_table == "alerts_alertreview"
    analyst = django_user_model.objects.create(username="new-analyst")
    analyst.groups.add(*Group.objects.values_list("pk", flat=True))
    analyst = django_user_model.objects.get(pk=analyst.pk)
    assert analyst.has_perm("alerts.add_alertreview")  # the group's grant followed the model


BEFORE_THE_ALERT_STATE = [("transactions", "0008_verdict_conflicts_link_by_transaction_id"),
                          ("alerts", "0005_alert_event_overridden")]


def test_an_alerts_review_state_history_and_review_permission_move_from_the_verdict_to_the_alert():
    old = migrate(BEFORE_THE_ALERT_STATE)
    Verdict, Alert = old.get_model("transactions", "Verdict"), old.get_model("alerts", "Alert")
    AlertReview, AlertEvent = old.get_model("alerts", "AlertReview"), old.get_model("alerts", "AlertEvent")
    Permission, User, Group = (old.get_model("auth", "Permission"), old.get_model("auth", "User"),
                               old.get_model("auth", "Group"))
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def stored(transaction_id, is_fraud=True, **review):
        return Verdict.objects.create(
            transaction_id=transaction_id, user_id="u1", timestamp=moment, lat=0, lng=0, amount=1, received_at=moment,
            is_fraud=is_fraud, status="FRAUD" if is_fraud else "VALID", reason="speed_above_limit",
            reasons="speed_above_limit", kafka_topic="t", kafka_partition=0, kafka_offset=len(transaction_id), **review)

    decided = stored("decided", review_status="confirmed_fraud", reviewed_at=moment)
    follow_up = stored("follow-up", review_status="needs_follow_up", reviewed_at=moment)
    open_alert, valid = stored("open"), stored("valid", is_fraud=False)
    no_alert_yet = stored("no-alert-yet", review_status="false_positive", reviewed_at=moment)  # (no receiver here)
    analyst = User.objects.create(username="analyst")
    for verdict in (decided, follow_up, open_alert):
        Alert.objects.create(verdict=verdict, holder=analyst if verdict is follow_up else None)
    for verdict, decision in ((decided, "needs_follow_up"), (decided, "confirmed_fraud"),
                              (follow_up, "needs_follow_up"), (no_alert_yet, "false_positive")):
        AlertReview.objects.create(verdict=verdict, decision=decision, comment=decision, reviewer=analyst,
                                   reviewer_username="analyst")
    AlertEvent.objects.create(alert_id=follow_up.pk, action="taken", actor=analyst, actor_username="analyst",
                              holder_username="analyst")
    may_review = Permission.objects.get(content_type__app_label="transactions", codename="review_verdict")
    Group.objects.create(name="reviewers").permissions.add(may_review)
    User.objects.create(username="granted-directly").user_permissions.add(may_review)

    migrate(latest())

    from alerts.models import Alert as Current
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission as CurrentPermission

    assert {alert.verdict.transaction_id: (alert.review_status, alert.reviewed_at, alert.holder and alert.holder.username)
            for alert in Current.objects.all()} == {
        "decided": ("confirmed_fraud", moment, None), "follow-up": ("needs_follow_up", moment, "analyst"),
        "open": ("", None, None), "no-alert-yet": ("false_positive", moment, None)}
    assert {(r.verdict.transaction_id, r.decision) for r in Current.objects.get(pk=decided.pk).verdict.reviews.all()} == {
        ("decided", "needs_follow_up"), ("decided", "confirmed_fraud")}
    assert list(Current.objects.get(pk=follow_up.pk).events.values_list("action", "holder_username")) == [
        ("taken", "analyst")]
    with connection.cursor() as cursor:
        columns = {column.name for column in connection.introspection.get_table_description(cursor, "transactions_verdict")}
    assert not columns & {"review_status", "reviewed_at"}  # the verdict is a record only
    newcomer = get_user_model().objects.create(username="new-reviewer")
    newcomer.groups.add(*Group.objects.filter(name="reviewers").values_list("pk", flat=True))
    for user in (newcomer, get_user_model().objects.get(username="granted-directly")):
        user = get_user_model().objects.get(pk=user.pk)
        assert user.has_perm("alerts.review_alert"), user.username  # the grant followed the alert's state
    assert not CurrentPermission.objects.filter(codename="review_verdict").exists()


def test_unpublished_customers_and_deletions_become_outbox_rows():
    old = migrate([("users", "0002_further_signals"), ("outbox", "0001_initial")])
    Customer, PendingTombstone = old.get_model("users", "Customer"), old.get_model("users", "PendingTombstone")
    Customer.objects.create(user_id="synced", first_name="S", last_name="S", max_speed=10, sync_state="synced")
    Customer.objects.create(user_id="failed", first_name="F", last_name="F", max_speed=20, sync_state="failed",
                            spend_factor=3.0)
    Customer.objects.create(user_id="off", first_name="O", last_name="O", max_speed=30, sync_state="pending",
                            active=False)
    PendingTombstone.objects.create(user_id="deleted")

    migrate(latest())

    from outbox.models import OutboxMessage
    from users.models import Customer as Current

    rows = {row.key: row.value for row in OutboxMessage.objects.filter(sent_at=None)}
    assert set(rows) == {"failed", "off", "deleted"}
    assert (rows["failed"]["max_speed"], rows["failed"]["spend_factor"]) == (20.0, 3.0)
    assert rows["off"] is None and rows["deleted"] is None  # tombstones
    assert Current.objects.get(user_id="failed").sync_state == Current.SyncState.PENDING
    assert Current.objects.get(user_id="synced").sync_state == Current.SyncState.SYNCED


def test_transactions_and_verdicts_stay_related_when_the_link_column_goes():
    old = migrate([("transactions", "0007_verdict_indexes_read")])
    Customer, Transaction = old.get_model("users", "Customer"), old.get_model("transactions", "Transaction")
    Verdict = old.get_model("transactions", "Verdict")
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    customer = Customer.objects.create(user_id="u1", first_name="L", last_name="W", max_speed=10)
    submitted = {transaction_id: Transaction.objects.create(transaction_id=transaction_id, customer=customer,
                                                            timestamp=moment, lat=0, lng=0, amount=1)
                 for transaction_id in ("linked", "missed-by-the-race", "not-judged-yet")}
    for transaction_id, link in [("linked", submitted["linked"]), ("missed-by-the-race", None), ("elsewhere", None)]:
        Verdict.objects.create(
            transaction_id=transaction_id, user_id="u1", submitted=link, timestamp=moment, lat=0, lng=0, amount=1,
            received_at=moment, is_fraud=False, status="VALID", reason="no_history", kafka_topic="t",
            kafka_partition=0, kafka_offset=len(transaction_id))

    migrate(latest())

    from transactions.health import oldest_unjudged_seconds
    from transactions.models import Transaction as Current

    assert {t.transaction_id: t.verdict and t.verdict.transaction_id for t in Current.objects.all()} == {
        "linked": "linked", "missed-by-the-race": "missed-by-the-race", "not-judged-yet": None}
    assert oldest_unjudged_seconds() is not None  # "not-judged-yet" only
    Current.objects.filter(transaction_id="not-judged-yet").delete()
    assert oldest_unjudged_seconds() is None

    back = migrate([("transactions", "0007_verdict_indexes_read")])  # backwards, the column is filled again
    assert dict(back.get_model("transactions", "Verdict").objects.values_list(
        "transaction_id", "submitted__transaction_id")) == {
        "linked": "linked", "missed-by-the-race": "missed-by-the-race", "elsewhere": None}


def test_proposals_their_replays_history_and_grants_survive_the_move_to_the_proposals_app(django_user_model):
    old = migrate([("users", "0009_travel_notice_approval"), ("proposals", None)])
    Proposal, HistoricalProposal = old.get_model("users", "Proposal"), old.get_model("users", "HistoricalProposal")
    ContentType, Permission = old.get_model("contenttypes", "ContentType"), old.get_model("auth", "Permission")
    User, Group = old.get_model("auth", "User"), old.get_model("auth", "Group")
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    maker = User.objects.create(username="maker")
    result = {"transactions": 6, "alerts_before": 0, "alerts_after": 3, "gained": {"count": 3}}
    replayed = Proposal.objects.create(
        author=maker, reason="London-Paris in an hour", changes={"lena": {"max_speed": 300}}, status="replayed",
        replay_result=result, replay_fingerprint="f" * 64, replay_window_start=moment, replay_window_end=moment)
    HistoricalProposal.objects.create(
        id=replayed.pk, author=maker, reason=replayed.reason, changes=replayed.changes, status="replayed",
        created_at=moment, history_date=moment, history_type="~", history_change_reason="replayed",
        history_user=maker)
    proposals_type, _ = ContentType.objects.get_or_create(app_label="users", model="proposal")
    may_approve, _ = Permission.objects.get_or_create(content_type=proposals_type, codename="approve_proposal",
                                                      defaults={"name": "Can approve threshold proposals"})
    Group.objects.create(name="checkers").permissions.add(may_approve)

    migrate(latest())

    from proposals.models import Proposal as Moved

    moved = Moved.objects.get()
    assert (moved.pk, moved.author.username, moved.status, moved.replay_result, moved.replay_fingerprint) == (
        replayed.pk, "maker", "replayed", result, "f" * 64)
    assert [(h.history_change_reason, h.history_user.username) for h in moved.history.all()] == [("replayed", "maker")]
    assert (Moved._meta.db_table, Moved.history.model._meta.db_table) == (
        "proposals_proposal", "proposals_historicalproposal")
    checker = django_user_model.objects.create(username="checker")
    checker.groups.add(*Group.objects.values_list("pk", flat=True))
    checker = django_user_model.objects.get(pk=checker.pk)
    assert checker.has_perm("proposals.approve_proposal")  # the group's grant followed the model


def test_a_roles_grant_is_taken_back_when_its_migration_is_undone_and_given_again_after():
    def counter_rule_grants(models):
        return sorted(models.get_model("auth", "Group").objects.filter(
            permissions__content_type__app_label="counterrules").values_list("name", "permissions__codename"))

    granted = [("Administrator", "view_counterrule"), ("Analyst", "view_counterrule"), ("Team lead", "view_counterrule")]
    migrate([("counterrules", "0001_rules")])
    assert counter_rule_grants(migrate(latest())) == granted
    assert counter_rule_grants(migrate([("counterrules", "0001_rules")])) == []
