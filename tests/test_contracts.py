"""The topic registry's contracts: the verdict columns the SQL writes and the worker stores follow
the verdict schema, so a field added, removed or reordered in one place fails here."""

import json
import re

import pytest

from fraudsite import detection_sql
from fraudsite.detection_sql import FRAUD_REASONS, OTHER_REASONS, SUPPRESSED_REASONS
from fraudsite.topics import TOPICS, VERDICTS, topic_names
from transactions.models import Verdict
from transactions.verdicts import ROW_FIELDS, TEXT_FIELDS, TEXT_LIMITS, TIME_FIELDS, parse_verdict


def top_level_items(select_list):
    """The items of a SELECT list, split at the commas outside parentheses and CASE ... END."""
    items, depth, current = [], 0, []
    for token in re.findall(r"\(|\)|,|\bCASE\b|\bEND\b|[^(),]+?(?=\(|\)|,|\bCASE\b|\bEND\b|$)", select_list, re.S):
        if token in ("(", "CASE"):
            depth += 1
        elif token in (")", "END"):
            depth -= 1
        if token == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(token)
    return items + ["".join(current).strip()]


def output_names(query):
    """The column names of the detection query's final SELECT, in order."""
    select_list = re.search(r"\nSELECT\n(.*?)\nFROM classified_transactions", query, re.S).group(1)
    select_list = "\n".join(line for line in select_list.splitlines() if not line.strip().startswith("--"))
    return [re.search(r"(?:\bAS\s+)?`?(\w+)`?\s*$", item).group(1) for item in top_level_items(select_list)]


@pytest.mark.parametrize("variant, key_columns", [("local", []), ("cloud", ["customer_key"])])
def test_the_detection_query_writes_the_verdict_schema_fields_in_order(variant, key_columns):
    query = detection_sql.render(variant)
    assert output_names(query) == key_columns + VERDICTS.field_names


def test_a_replay_runs_the_local_detection_statement_over_its_own_bounded_topics():
    topics = {"card_transactions": "replay-t", "users_config": "replay-u", "card_transactions_enriched": "replay-v",
              "list_memberships": "replay-l"}
    local, replay = detection_sql.render("local"), detection_sql.render("replay", topics=topics, runtime_mode="streaming")
    insert = lambda script: script[script.index("INSERT INTO"):]  # noqa: E731
    assert insert(replay) == insert(local)  # the same statement, rendered from the one sql/detection.sql
    tables = replay[:replay.index("INSERT INTO")]
    assert all(f"'topic' = '{name}'" in tables for name in topics.values())
    assert tables.count("'scan.bounded.mode' = 'latest-offset'") == 3  # each input: transactions, users, lists
    assert "group-offsets" not in tables and "SET 'execution.runtime-mode' = 'streaming'" in tables


def test_the_drift_check_notices_two_columns_swapped():
    query = detection_sql.render("local").replace("prev_lat, prev_lng,", "prev_lng, prev_lat,", 1)
    assert output_names(query) != VERDICTS.field_names


def test_the_worker_stores_every_verdict_field_in_a_column_of_its_own():
    columns = {field.attname for field in Verdict._meta.get_fields() if hasattr(field, "attname")}
    assert set(ROW_FIELDS) <= columns
    assert set(TIME_FIELDS + TEXT_FIELDS) <= set(VERDICTS.field_names)


def test_a_parsed_verdict_has_exactly_the_stored_columns():
    from tests.support.kafka import unique

    class Message:
        def key(self):
            return b"u1"

        def value(self):
            return VERDICTS.codec().encode({name: None for name in VERDICTS.field_names} | {
                "user_id": "u1", "transaction_id": unique("tx"), "timestamp": 0, "lat": 0.0, "lng": 0.0,
                "amount": 1.0, "received_at": 0, "is_fraud": False, "status": "VALID", "reason": "no_history",
                "reasons": "no_history", "outcome": "approve"})

        def topic(self):
            return VERDICTS.name

        def partition(self):
            return 0

        def offset(self):
            return 7

    assert list(parse_verdict(Message(), VERDICTS.codec())) == ROW_FIELDS


def test_every_topic_has_a_role_the_sql_templates_name_and_a_schema():
    assert set(topic_names()) == set(detection_sql.VARIANTS["local"]["names"])
    for topic in TOPICS:
        assert topic.value_schema["type"] == "record" and topic.field_names, topic.role


def test_every_reason_fits_the_stored_verdict():
    # reason holds any one code, suppressed or not; reasons every fraud reason at once, each in its
    # longer, suppressed form (a superset of what can fire together).
    assert max(map(len, FRAUD_REASONS + SUPPRESSED_REASONS + OTHER_REASONS)) <= TEXT_LIMITS["reason"]
    assert len(",".join(SUPPRESSED_REASONS)) <= TEXT_LIMITS["reasons"]


def test_the_scoring_policy_has_a_weight_per_fraud_reason_and_every_record_carries_them():
    from fraudsite.detection_sql import FRAUD_REASONS, SCORING_FIELDS
    from fraudsite.topics import USERS_CONFIG
    from users.models import ScoringPolicy

    policy_fields = {field.name for field in ScoringPolicy._meta.fields} - {"id"}
    assert policy_fields == set(SCORING_FIELDS) >= {f"weight_{reason}" for reason in FRAUD_REASONS}
    assert set(SCORING_FIELDS) <= {field["name"] for field in USERS_CONFIG.value_schema["fields"]}


def test_the_decision_api_webhooks_and_the_operator_page_carry_the_measurements_the_schema_marks():
    from api.views import Measurements
    from tests.support.records import verdict_record
    from transactions import broadcast, decisions
    from webhooks.events import verdict_events

    marked = [field for field in json.loads(VERDICTS.value_schema_path.read_text())["fields"]
              if field.get("measurement")]
    assert {"speed_kmh", "distance_km", "prev_transaction_id"} <= {field["name"] for field in marked}
    example = {"string": "tx-0", "double": 2.5, "int": 4}  # a value of its type for each, none null
    measured = {field["name"]: example[field["type"][1]] for field in marked}
    record = verdict_record("u1", "tx-1", **measured)

    assert decisions.answer(record)["measurements"] == measured
    ((_, _, event),) = verdict_events([record])
    assert event["measurements"] == measured
    message = broadcast.message_of(broadcast.verdict_values(record))
    assert {name: message[name] for name in measured} == measured
    assert list(Measurements().fields) == list(measured)
