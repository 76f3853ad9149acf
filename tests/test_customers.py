"""Customers: validation, audit history in the admin, and publishing to users-config on a real broker."""

import io
import socket

import avro.io
import avro.schema
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError
from django.urls import reverse

from localstack import stack as local_stack
from fraudsite.topics import USERS_CONFIG
from localstack.kafka import start_kafka
from outbox.models import OutboxMessage
from outbox.publisher import publish_all_pending
from tests.support.kafka import latest_records, unique
from users.models import Customer
from users.thresholds import InvalidThresholds, set_thresholds


def decode_with_plain_avro_reader(value):
    schema = avro.schema.parse(USERS_CONFIG.value_schema_path.read_text())
    return avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(value)))


def customer_form(**overrides):
    data = {"user_id": unique("c"), "first_name": "Ada", "last_name": "Lovelace", "max_speed": "50", "active": "on",
            "time_zone": "UTC",
            # The travel notices table on the page (none).
            "travel_notices-TOTAL_FORMS": "0", "travel_notices-INITIAL_FORMS": "0"}
    data.update(overrides)
    return data


# --- validation ---------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("user_id", "has space", "User id: 1 to 64 letters"),
        ("user_id", "x" * 65, "at most 64 characters"),
        ("max_speed", -5, "greater than or equal to 0.001"),
        ("max_speed", 0, "greater than or equal to 0.001"),
        ("max_speed", 1e9, "less than or equal to 100000"),
        ("velocity_max_transactions", 21, "less than or equal to 20"),
        ("velocity_max_transactions", 0, "greater than or equal to 1"),
        ("spend_factor", 0.5, "greater than or equal to 1.0"),
        ("usual_hour_start", 24, "less than or equal to 23"),
        ("time_zone", "Mars/Olympus", "is not an IANA time zone"),
    ],
)
def test_model_validation_rejects_bad_input(field, value, message):
    customer = Customer(user_id="ok_id", first_name="A", last_name="B", max_speed=10)
    setattr(customer, field, value)
    with pytest.raises(ValidationError) as error:
        customer.full_clean()
    assert message in str(error.value.message_dict[field])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "thresholds, field, message",
    [
        ({"velocity_max_transactions": 5}, "velocity_window_minutes", "Set both velocity thresholds"),
        ({"velocity_window_minutes": 10}, "velocity_window_minutes", "Set both velocity thresholds"),
        ({"usual_hour_start": 8}, "usual_hour_end", "Set both usual hours"),
        ({"usual_hour_start": 8, "usual_hour_end": 8}, "usual_hour_end", "Usual hours must differ"),
    ],
)
def test_signal_thresholds_come_in_complete_pairs(thresholds, field, message):
    customer = Customer(user_id="ok_id", first_name="A", last_name="B", max_speed=10, **thresholds)
    with pytest.raises(ValidationError) as error:
        customer.full_clean()
    assert message in str(error.value.message_dict[field])
    with pytest.raises(IntegrityError):  # and the database refuses them without validation too
        Customer.objects.bulk_create([customer])


@pytest.mark.django_db
def test_database_refuses_an_impossible_speed_even_without_validation():
    with pytest.raises(IntegrityError):
        Customer.objects.bulk_create([Customer(user_id="neg", first_name="A", last_name="B", max_speed=-1)])


@pytest.mark.django_db
def test_admin_rejects_invalid_and_duplicate_customers_with_clear_messages(admin_client, django_capture_on_commit_callbacks):
    Customer.objects.bulk_create([Customer(user_id="taken", first_name="A", last_name="B", max_speed=10)])
    add_url = reverse("admin:users_customer_add")

    response = admin_client.post(add_url, customer_form(user_id="taken"))
    assert "Customer with this User id already exists." in response.content.decode()
    response = admin_client.post(add_url, customer_form(user_id="bad id!", max_speed="-3"))
    page = response.content.decode()
    assert "User id: 1 to 64 letters" in page
    assert "greater than or equal to 0.001" in page
    assert Customer.objects.count() == 1


# --- audit history and publishing (real broker) -------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_limit_change_in_admin_is_audited_and_reaches_users_config(kafka, admin_client, admin_user):
    user_id = unique("lena")
    admin_client.post(reverse("admin:users_customer_add"), customer_form(user_id=user_id, max_speed="10"))
    customer = Customer.objects.get(user_id=user_id)

    response = admin_client.post(
        reverse("admin:users_customer_change", args=[customer.pk]), customer_form(user_id=user_id, max_speed="250")
    )
    assert response.status_code == 302

    change = customer.history.latest()
    assert change.history_type == "~"
    assert change.history_user == admin_user
    delta = change.diff_against(change.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("max_speed", 10.0, 250.0)]
    history_page = admin_client.get(reverse("admin:users_customer_history", args=[customer.pk])).content.decode()
    assert "250" in history_page and admin_user.username in history_page

    assert customer.sync_state == Customer.SyncState.PENDING  # queued; the request never waited for Kafka
    assert publish_all_pending() == (2, 0)
    assert customer.sync_state == Customer.SyncState.SYNCED
    records = latest_records("users-config", user_id)
    assert [decode_with_plain_avro_reader(value)["max_speed"] for value, _ in records] == [10.0, 250.0]
    assert decode_with_plain_avro_reader(records[-1][0]) == {
        "first_name": "Ada", "last_name": "Lovelace", "max_speed": 250.0, "velocity_max_transactions": None,
        "velocity_window_minutes": None, "spend_factor": None, "usual_hour_start": None, "usual_hour_end": None,
        "time_zone": "UTC", "travel_notices": [],
        # the scoring policy's defaults (users.models.ScoringPolicy), in every record
        "weight_speed_above_limit": 60.0, "weight_non_positive_elapsed_time": 60.0, "weight_velocity_exceeded": 40.0,
        "weight_spend_deviation": 30.0, "weight_unusual_hour": 15.0, "review_from": 20.0, "decline_from": 50.0,
        "counter_rules": []}  # no counter rule in force


@pytest.mark.django_db(transaction=True)
def test_signal_thresholds_set_in_admin_are_audited_and_reach_users_config(kafka, admin_client, admin_user):
    user_id = unique("sig")
    admin_client.post(reverse("admin:users_customer_add"), customer_form(user_id=user_id))
    customer = Customer.objects.get(user_id=user_id)
    thresholds = {"velocity_max_transactions": "3", "velocity_window_minutes": "10", "spend_factor": "4",
                  "usual_hour_start": "22", "usual_hour_end": "6", "time_zone": "Asia/Tokyo"}
    response = admin_client.post(reverse("admin:users_customer_change", args=[customer.pk]),
                                 customer_form(user_id=user_id, **thresholds))
    assert response.status_code == 302

    change = customer.history.latest()
    assert change.history_user == admin_user
    assert {c.field: (c.old, c.new) for c in change.diff_against(change.prev_record).changes} == {
        "velocity_max_transactions": (None, 3), "velocity_window_minutes": (None, 10), "spend_factor": (None, 4.0),
        "usual_hour_start": (None, 22), "usual_hour_end": (None, 6), "time_zone": ("UTC", "Asia/Tokyo")}
    publish_all_pending()
    record = decode_with_plain_avro_reader(latest_records("users-config", user_id)[-1][0])
    assert {name: record[name] for name in thresholds} == {
        "velocity_max_transactions": 3, "velocity_window_minutes": 10, "spend_factor": 4.0,
        "usual_hour_start": 22, "usual_hour_end": 6, "time_zone": "Asia/Tokyo"}


@pytest.mark.django_db(transaction=True)
def test_deleting_or_deactivating_a_customer_publishes_a_tombstone(kafka):
    active = Customer.objects.create(user_id=unique("del"), first_name="A", last_name="B", max_speed=10)
    deactivated = Customer.objects.create(user_id=unique("off"), first_name="C", last_name="D", max_speed=10)
    active.delete()
    deactivated.active = False
    deactivated.save()
    assert publish_all_pending() == (4, 0)

    assert [value for value, _ in latest_records("users-config", active.user_id)][-1] is None
    assert [value for value, _ in latest_records("users-config", deactivated.user_id)][-1] is None
    assert Customer.objects.get(pk=deactivated.pk).sync_state == Customer.SyncState.SYNCED
    assert not OutboxMessage.objects.filter(sent_at=None).exists()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_kafka(settings, tmp_path):
    """A broker of this test's own (so it can be stopped), on free ports, in a temporary directory:
    its test is marked own_broker, so side by side it runs beside the stack's tests."""
    settings.STACK_DIR = tmp_path
    settings.STACK_KAFKA_PORT = free_port()
    settings.STACK_KAFKA_CONTROLLER_PORT = free_port()
    settings.KAFKA_BOOTSTRAP_SERVERS = f"localhost:{settings.STACK_KAFKA_PORT}"
    settings.KAFKA_DELIVERY_TIMEOUT_MS = 2000
    start_kafka()
    yield local_stack
    local_stack.stop({"kafka"})


# Not `long` as well: a long test runs first in its worker, and this one's flush (transaction=True)
# would empty the roles the migrations made before that worker's other tests; pytest-django puts
# transactional tests after those.
@pytest.mark.own_broker
@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_leaves_changes_in_the_outbox_and_the_admin_answers_at_once(
        private_kafka, admin_client, monkeypatch, capsys):
    private_kafka.stop({"kafka"})
    # The admin request must not touch Kafka at all (not merely survive its timeout).
    import fraudsite.kafka

    monkeypatch.setattr(fraudsite.kafka, "_producer", lambda *args: pytest.fail("the request waited for Kafka"))
    user_id = unique("offline")
    response = admin_client.post(reverse("admin:users_customer_add"),
                                 customer_form(user_id=user_id, first_name="Eve", max_speed="42"))
    assert response.status_code == 302
    doomed = Customer.objects.create(user_id=unique("gone"), first_name="Del", last_name="Eted", max_speed=1)
    doomed.delete()
    monkeypatch.undo()

    customer = Customer.objects.get(user_id=user_id)
    assert customer.sync_state == Customer.SyncState.PENDING
    with pytest.raises(Exception, match="not acknowledged; they stay pending"):
        call_command("publish_outbox", once=True)
    assert customer.sync_state == Customer.SyncState.FAILED
    assert customer.sync_error
    assert OutboxMessage.objects.filter(sent_at=None).count() == 3  # kept, to be sent later

    start_kafka()
    call_command("publish_outbox", once=True)
    assert "3 sent, 0 not sent" in capsys.readouterr().out
    assert customer.sync_state == Customer.SyncState.SYNCED
    (value, _), = latest_records("users-config", customer.user_id)
    assert decode_with_plain_avro_reader(value)["max_speed"] == 42.0
    assert latest_records("users-config", doomed.user_id)[-1][0] is None
    assert publish_all_pending() == (0, 0)  # nothing left pending


@pytest.mark.django_db(transaction=True)
def test_a_bulk_threshold_change_publishes_every_changed_customer_exactly_once(kafka, admin_user):
    changed = [Customer.objects.create(user_id=unique("bulk"), first_name="B", last_name=str(n), max_speed=100)
               for n in range(5)]
    untouched = Customer.objects.create(user_id=unique("keep"), first_name="K", last_name="K", max_speed=100)
    publish_all_pending()

    count = set_thresholds(Customer.objects.filter(pk__in=[c.pk for c in changed]),
                           {"max_speed": 40.0, "spend_factor": 3.0}, changed_by=admin_user, reason="bulk test")
    assert count == 5
    assert publish_all_pending() == (5, 0)
    for customer in changed:
        values = [decode_with_plain_avro_reader(v) for v, _ in latest_records("users-config", customer.user_id)]
        assert [(v["max_speed"], v["spend_factor"]) for v in values] == [(100.0, None), (40.0, 3.0)]
        change = customer.history.latest()  # audited like an admin edit
        assert (change.history_user, change.history_change_reason) == (admin_user, "bulk test")
    assert len(latest_records("users-config", untouched.user_id)) == 1


@pytest.mark.django_db
def test_a_bulk_threshold_change_with_one_invalid_customer_changes_nothing():
    good = Customer.objects.create(user_id="good", first_name="G", last_name="G", max_speed=100)
    Customer.objects.create(user_id="paired", first_name="P", last_name="P", max_speed=100,
                            velocity_max_transactions=3, velocity_window_minutes=10)
    queued = OutboxMessage.objects.count()
    with pytest.raises(InvalidThresholds, match="paired: Set both velocity thresholds"):
        set_thresholds(Customer.objects.all(), {"velocity_window_minutes": None})
    with pytest.raises(InvalidThresholds, match="Not a threshold"):
        set_thresholds(Customer.objects.all(), {"first_name": "X"})
    good.refresh_from_db()
    assert (good.velocity_window_minutes, OutboxMessage.objects.count()) == (None, queued)
    assert Customer.objects.get(user_id="paired").velocity_window_minutes == 10


@pytest.mark.django_db
def test_every_write_path_queues_the_customer():
    created = Customer.objects.bulk_create([Customer(user_id="b1", first_name="A", last_name="B", max_speed=5)])
    Customer.objects.filter(user_id="b1").update(max_speed=6)
    created[0].max_speed = 7
    Customer.objects.bulk_update(created, ["max_speed"])
    Customer.objects.filter(user_id="b1").update(user_id="b2")  # renamed: the old key is removed
    Customer.objects.filter(user_id="b2").delete()
    rows = [(row.key, row.value and row.value["max_speed"]) for row in OutboxMessage.objects.all()]
    assert rows == [("b1", 5.0), ("b1", 6.0), ("b1", 7.0), ("b1", None), ("b2", 7.0), ("b2", None)]


@pytest.mark.django_db
def test_set_thresholds_command_says_what_is_wrong_and_changes_nothing(capsys):
    Customer.objects.create(user_id="c1", first_name="A", last_name="B", max_speed=100)
    with pytest.raises(Exception, match="No such customer: nobody"):
        call_command("set_thresholds", "c1", "nobody", max_speed=5.0)
    with pytest.raises(Exception, match="Name at least one threshold"):
        call_command("set_thresholds", "c1")
    with pytest.raises(Exception, match="less than or equal to 100000"):
        call_command("set_thresholds", "--all", "--max-speed", "1e9")
    assert Customer.objects.get(user_id="c1").max_speed == 100
    call_command("set_thresholds", "c1", "--max-speed", "55", "--spend-factor", "off")
    assert "1 customer(s) changed (max_speed, spend_factor)" in capsys.readouterr().out
    assert Customer.objects.get(user_id="c1").max_speed == 55


# --- demo data ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_demo_data_creates_the_four_customers_and_an_operator_once(capsys, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    def password_works(password):
        return get_user_model().objects.get(username="operator").check_password(password)

    call_command("create_demo_data", password="s3cret-local")
    assert "local operator login: operator / s3cret-local" in capsys.readouterr().out
    assert {(c.user_id, c.full_name, c.max_speed) for c in Customer.objects.all()} == {
        ("user_1", "Lena Whitaker", 10), ("user_2", "Elias Monroe", 100),
        ("user_3", "Nina Langston", 1000), ("user_4", "Jordan Blake", 99999),
    }
    call_command("create_demo_data")  # the next `make run`
    assert "password unchanged" in capsys.readouterr().out
    assert password_works("s3cret-local")
    call_command("create_demo_data", reset_password=True)
    new_password = capsys.readouterr().out.rsplit(" / ", 1)[1].strip()
    assert password_works(new_password) and not password_works("s3cret-local")


@pytest.mark.django_db
def test_demo_data_refuses_to_run_where_the_site_is_served_beyond_this_machine(settings):
    settings.LOCAL_ONLY = False
    settings.ALLOWED_HOSTS = ["fraud.example.com"]
    with pytest.raises(Exception, match="serves beyond this machine"):
        call_command("create_demo_data")
    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_admin_action_republishes_the_selected_customers(kafka, admin_client):
    customer = Customer.objects.create(user_id=unique("again"), first_name="Re", last_name="Pub", max_speed=7)
    response = admin_client.post(reverse("admin:users_customer_changelist"),
                                 {"action": "republish", "_selected_action": [customer.pk]}, follow=True)
    assert "1 customer(s) queued for users-config." in response.content.decode()
    assert publish_all_pending() == (2, 0)
    assert len(latest_records("users-config", customer.user_id)) == 2  # the save, then the action


@pytest.mark.django_db
def test_health_reports_how_long_a_customer_change_has_waited_for_kafka(client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from transactions import health

    settings.HEALTH_CHECKS_FLINK = False
    settings.KAFKA_BOOTSTRAP_SERVERS = "localhost:1"
    assert health.report()["oldest_unpublished_change_seconds"] is None
    Customer.objects.create(user_id="waiting", first_name="W", last_name="K", max_speed=10)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=3))
    report = health.report()
    assert report["oldest_unpublished_change_seconds"] >= 180
    # Whether a worker runs cannot be asked without the broker: not checked, rather than waited for.
    assert (report["status"], report["checks"]["broker"], report["checks"]["worker"]) == ("down", False, None)


@pytest.mark.django_db
def test_pruning_keeps_each_customers_latest_publication_and_everything_unsent():
    from datetime import timedelta

    from django.utils import timezone

    from outbox.publisher import prune_sent

    customer = Customer.objects.create(user_id="pruned", first_name="P", last_name="R", max_speed=10)
    for speed in (20, 30):
        customer.max_speed = speed
        customer.save()
    Customer.objects.create(user_id="unsent", first_name="U", last_name="S", max_speed=10)
    long_ago = timezone.now() - timedelta(days=30)
    OutboxMessage.objects.filter(key="pruned").update(sent_at=long_ago)
    OutboxMessage.objects.filter(key="unsent").update(created_at=long_ago)

    assert prune_sent(older_than_days=7) == 2
    assert [(row.key, row.value["max_speed"]) for row in OutboxMessage.objects.all()] == [
        ("pruned", 30.0), ("unsent", 10.0)]
    assert Customer.objects.get(user_id="pruned").sync_state == Customer.SyncState.SYNCED


def test_a_scoring_policy_change_is_audited_and_queues_every_active_customer(admin_client, admin_user):
    from users.models import ScoringPolicy

    active = [Customer.objects.create(user_id=unique("sc"), first_name="A", last_name="B", max_speed=10)
              for _ in range(3)]
    inactive = Customer.objects.create(user_id=unique("sc"), first_name="A", last_name="B", max_speed=10, active=False)
    policy = ScoringPolicy.current()
    policy.save()  # (a flush between transactional tests removes the row the migration made)
    before = OutboxMessage.objects.latest("id").id
    form = {**policy.published_fields(), "weight_unusual_hour": 25, "decline_from": 70}
    response = admin_client.post(reverse("admin:users_scoringpolicy_change", args=[policy.pk]), form)
    assert response.status_code == 302
    queued = OutboxMessage.objects.filter(id__gt=before)
    assert {row.key for row in queued} == {c.user_id for c in active}
    assert {(row.value["weight_unusual_hour"], row.value["decline_from"]) for row in queued} == {(25.0, 70.0)}
    assert ScoringPolicy.current().history.latest().history_user == admin_user
    assert not queued.filter(key=inactive.user_id).exists()

    refused = admin_client.post(reverse("admin:users_scoringpolicy_change", args=[policy.pk]),
                                {**form, "review_from": 80})
    assert refused.status_code == 200 and "at least the review threshold" in refused.content.decode()
    assert ScoringPolicy.current().review_from == policy.review_from
