"""Replay and approval on Confluent Cloud, through its Flink statement API (fraudsite/flink_client.py),
against an HTTP fake of that API (tests/support/flink_statements.py) and the real local broker for
the replay's topics. The fake stands in for Flink with a toy rule (a transaction whose amount is
above the candidate max_speed is fraud): what is tested is the path, from the stored history
through the statements to the comparison and the approval; the statements' SQL runs in the real
Flink in tests/test_detection.py."""

import re
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.utils import timezone

from fraudsite import detection_sql, flink_client
from fraudsite.kafka import client_config
from fraudsite.topics import CARD_TRANSACTIONS, REPLAY_TOPIC_PREFIX, TOPICS, USERS_CONFIG, VERDICTS
from proposals.models import Proposal
from proposals.replay_queue import replay_proposal
from proposals.services import ProposalRefused, approve, propose_for
from tests.support.flink_statements import FakeStatementApi, is_insert
from tests.support.kafka import unique
from tests.support.records import verdict_record
from tests.support.reviews import user_with
from transactions.models import Verdict
from users.models import Customer
from users.thresholds import InvalidThresholds

pytestmark = pytest.mark.django_db(transaction=True)

CLOUD = {"CONFLUENT_ORGANIZATION_ID": "7c60d51f-b44e-4682-87d6-449835ea4de6", "CONFLUENT_ENVIRONMENT_ID": "env-abc12",
         "CONFLUENT_FLINK_COMPUTE_POOL_ID": "lfcp-xyz34", "CONFLUENT_FLINK_PRINCIPAL_ID": "sa-app01",
         "CONFLUENT_FLINK_API_KEY": "FLINKKEY", "CONFLUENT_FLINK_API_SECRET": "flink-secret",
         "CONFLUENT_FLINK_CATALOG": "fraudsite-env", "CONFLUENT_FLINK_DATABASE": "fraudsite-cluster"}


def read_all(topic):
    consumer = Consumer(client_config(**{"group.id": unique("fake-flink"), "enable.auto.commit": False}))
    try:
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, 0)])
        messages = []
        while len(messages) < end:
            messages.extend(m for m in consumer.consume(1000, timeout=1) if not m.error())
        return messages
    finally:
        consumer.close()


def toy_flink(sql):
    """What the INSERT would write: a verdict per replayed transaction, fraud above the candidate max_speed."""
    transactions, users_config, verdicts = (
        next(name for name in re.findall(r"`(" + REPLAY_TOPIC_PREFIX + r"[^`]+)`", sql) if name.endswith(suffix))
        for suffix in ("-card-transactions", "-users-config", "-card-transactions-enriched"))
    limits = {m.key().decode(): USERS_CONFIG.codec(users_config).decode(m.value())["max_speed"]
              for m in read_all(users_config)}
    producer = Producer(client_config())
    for message in read_all(transactions):
        record = CARD_TRANSACTIONS.codec(transactions).decode(message.value())
        user_id = message.key().decode()
        fraud = record["amount"] > limits[user_id]
        verdict = verdict_record(user_id, record["transaction_id"], status="FRAUD" if fraud else "VALID",
                                 reasons="speed_above_limit" if fraud else "within_limit")
        producer.produce(verdicts, key=message.key(), value=VERDICTS.codec(verdicts).encode(verdict))
    assert producer.flush(30) == 0


@pytest.fixture
def cloud_flink(settings):
    fake = FakeStatementApi(CLOUD["CONFLUENT_ORGANIZATION_ID"], CLOUD["CONFLUENT_ENVIRONMENT_ID"],
                            CLOUD["CONFLUENT_FLINK_API_KEY"], CLOUD["CONFLUENT_FLINK_API_SECRET"], run_insert=toy_flink)
    for name, value in {**CLOUD, "CONFLUENT_FLINK_REST_ENDPOINT": fake.url}.items():
        setattr(settings, name, value)
    original = flink_client.CloudStatements.from_settings

    def no_waiting():
        client = original()
        client.poll_seconds = 0
        return client

    flink_client.CloudStatements.from_settings = staticmethod(no_waiting)
    yield fake
    flink_client.CloudStatements.from_settings = original
    fake.close()


@pytest.fixture
def history():
    """A customer (max_speed 500) with three stored verdicts of the last hour, all valid."""
    customer = Customer.objects.create(user_id=unique("cloud"), first_name="Lena", last_name="W", max_speed=500)
    now = timezone.now()
    for number, amount in enumerate((50, 150, 300)):
        moment = now - timedelta(minutes=30 - number)
        Verdict.objects.create(
            transaction_id=f"{customer.user_id}-{number}", user_id=customer.user_id, timestamp=moment, received_at=moment,
            lat=51.5, lng=-0.12, amount=amount, first_name="Lena", last_name="W", max_speed=500, is_fraud=False,
            status="VALID", reason="within_limit", reasons="within_limit", kafka_topic="t", kafka_partition=0,
            kafka_offset=number)
    return customer


def test_a_replay_and_its_approval_on_confluent_cloud(broker, cloud_flink, history, django_user_model):
    author = user_with(django_user_model, "add_proposal", staff=True)
    checker = user_with(django_user_model, "approve_proposal", "view_proposal", staff=True)
    proposal = propose_for(Customer.objects.filter(pk=history.pk), {"max_speed": 100}, author=author,
                           reason="lower the limit")

    proposal = replay_proposal(proposal.pk)

    result = proposal.replay_result
    assert (proposal.status, result["transactions"], result["alerts_before"], result["alerts_after"]) == (
        "replayed", 3, 0, 2)
    assert sorted(a["transaction_id"] for a in result["affected"]) == [f"{history.user_id}-1", f"{history.user_id}-2"]
    # The statements: the cloud replay SQL, one by one, as the app's principal in the pool, each deleted after.
    created = cloud_flink.created
    topics = sorted(set(re.findall(r"`(" + REPLAY_TOPIC_PREFIX + r"[^`]+)`", created[-1]["spec"]["statement"])))
    expected = [sql for _, sql in detection_sql.statements("cloud-replay", topics={
        role: next(t for t in topics if t.endswith("-" + role.replace("_", "-")))
        for role in (topic.role for topic in TOPICS)}, partitions=1)]
    assert [body["spec"]["statement"] for body in created] == expected
    assert {(body["spec"]["principal"], body["spec"]["compute_pool_id"]) for body in created} == {("sa-app01", "lfcp-xyz34")}
    assert created[0]["spec"]["properties"]["sql.current-database"] == "fraudsite-cluster"
    name = created[-1]["name"]
    assert [body["name"] for body in created] == [f"{name}-{n}" for n in range(1, len(created))] + [name]
    assert sorted(cloud_flink.deleted) == sorted(body["name"] for body in created) and not cloud_flink.statements

    approve(proposal, user=checker)
    history.refresh_from_db()
    assert (Proposal.objects.get(pk=proposal.pk).status, history.max_speed) == ("published", 100)


def test_a_failed_statement_fails_the_replay_with_confluents_detail_and_leaves_nothing(
        broker, cloud_flink, history, django_user_model):
    author = user_with(django_user_model, "add_proposal", staff=True)
    proposal = propose_for(Customer.objects.filter(pk=history.pk), {"max_speed": 100}, author=author, reason="x")
    cloud_flink.fail = lambda statement: ("Table 'users-config' has no watermark"
                                          if is_insert(statement["spec"]["statement"]) else None)
    with pytest.raises(flink_client.FlinkJobFailed, match="failed: Table 'users-config' has no watermark"):
        replay_proposal(proposal.pk)
    proposal.refresh_from_db()
    assert proposal.status == "replay_failed" and "Replay failed: statement replay-" in proposal.replay_message
    assert not cloud_flink.statements  # deleted after its failure


def test_statement_results_are_read_page_by_page(cloud_flink):
    cloud_flink.results = {"show-users-config": [[["CREATE TABLE `users-config` ("]], [[") WITH ("]]]}
    client = flink_client.flink_client()
    client.run("show-users-config", "SHOW CREATE TABLE `users-config`;", timeout=10, keep=True)
    assert client.results("show-users-config") == [["CREATE TABLE `users-config` ("], [") WITH ("]]
    client.delete("show-users-config")
    with pytest.raises(flink_client.StatementApiError, match="HTTP 404: statement show-users-config not found"):
        client.get("show-users-config")


def test_a_wrong_key_is_refused_with_confluents_message_and_never_shown(cloud_flink, settings):
    settings.CONFLUENT_FLINK_API_SECRET = "wrong-secret"
    with pytest.raises(flink_client.StatementApiError) as refused:
        flink_client.flink_client().get("anything")
    assert "HTTP 401: The API Key is invalid" in str(refused.value)
    assert "wrong-secret" not in str(refused.value) and "FLINKKEY" not in str(refused.value)


def test_without_the_statement_api_on_cloud_the_admin_says_so_before_a_draft(client, settings, django_user_model):
    settings.SCHEMA_REGISTRY_URL = "https://psrc-mock.confluent.cloud"
    settings.CONFLUENT_FLINK_REST_ENDPOINT = ""
    customer = Customer.objects.create(user_id=unique("cloud"), first_name="A", last_name="B", max_speed=500)
    author = user_with(django_user_model, "add_proposal", "view_proposal", "view_customer", staff=True)
    client.force_login(author)

    page = client.get("/admin/proposals/proposal/upload/")
    assert "No proposal can be replayed here, so none can be approved" in page.content.decode()
    with pytest.raises(InvalidThresholds) as refused:
        propose_for(Customer.objects.filter(pk=customer.pk), {"max_speed": 100}, author=author, reason="x")
    assert "CONFLUENT_FLINK_" in str(refused.value.errors)
    assert not Proposal.objects.exists()


def test_a_half_configured_statement_api_names_what_is_missing(settings):
    settings.CONFLUENT_FLINK_REST_ENDPOINT = "https://flink.us-east-2.aws.confluent.cloud"
    for name in CLOUD:
        setattr(settings, name, "x")
    settings.CONFLUENT_FLINK_API_SECRET = ""
    assert flink_client.unavailable() == ("Replays run on Confluent Cloud's Flink, but CONFLUENT_FLINK_API_SECRET is "
                                          "not set (manage.py cloud_env writes them from Terraform).")


def test_a_replay_cannot_start_where_it_cannot_run(settings, history, django_user_model):
    from proposals.replay_queue import queue_replay

    author = user_with(django_user_model, "add_proposal", staff=True)
    proposal = propose_for(Customer.objects.filter(pk=history.pk), {"max_speed": 100}, author=author, reason="x")
    settings.SCHEMA_REGISTRY_URL = "https://psrc-mock.confluent.cloud"
    with pytest.raises(ProposalRefused, match="No proposal can be replayed here"):
        queue_replay(proposal, user=author)
