"""The detection job on the real local stack: Avro in, Flink SQL, Avro verdicts out."""

import re
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from fraudsite import detection_sql, flink_client
from fraudsite.avro import load_schema
from fraudsite.topics import CARD_TRANSACTIONS, LIST_MEMBERSHIPS, TICK_USER_ID, USERS_CONFIG, VERDICTS, ensure_topics
from localstack import flink
from tests.support import wait_until
from tests.support.kafka import unique
from tests.support.pipeline import HOUR_MS, Pipeline, great_circle_km
from transactions import clock as event_clock
from transactions.models import Verdict
from transactions.worker import Options, Worker

TRANSACTION_SCHEMA = CARD_TRANSACTIONS.value_schema_path
USERS_CONFIG_SCHEMA = USERS_CONFIG.value_schema_path
VERDICT_SCHEMA = VERDICTS.value_schema_path
LIST_SCHEMA = LIST_MEMBERSHIPS.value_schema_path

LONDON, PARIS, NEW_YORK, SYDNEY = (51.5074, -0.1278), (48.8566, 2.3522), (40.7128, -74.0060), (-33.8688, 151.2093)

pytestmark = pytest.mark.stack


@pytest.fixture
def pipeline(stack):
    pipeline = Pipeline()
    yield pipeline
    pipeline.close()


def test_speeds_match_an_independent_great_circle_computation(pipeline):
    user = pipeline.customer(max_speed=99999)
    route = [LONDON, PARIS, NEW_YORK, SYDNEY, (0.0, 179.9), (0.0, -179.9), (89.9, 0.0), (89.9, 180.0)]
    ids = [pipeline.transaction(user, *point, offset_ms=i * HOUR_MS) for i, point in enumerate(route)]

    verdicts = pipeline.verdicts(ids)

    assert verdicts[0]["reason"] == "no_history"
    for (previous, current), verdict in zip(zip(route, route[1:]), verdicts[1:]):
        expected_km = great_circle_km(*previous, *current)
        assert verdict["distance_km"] == pytest.approx(expected_km, rel=1e-3)
        assert verdict["elapsed_seconds"] == 3600
        assert verdict["speed_kmh"] == pytest.approx(expected_km, rel=1e-3)  # one hour apart
    antimeridian = verdicts[5]
    assert antimeridian["distance_km"] == pytest.approx(22.24, rel=1e-3)  # not ~40,000 km the long way


@pytest.mark.parametrize(
    "name, max_speed, second_status",
    [("Lena", 10, "FRAUD"), ("Elias", 100, "FRAUD"), ("Nina", 1000, "VALID"), ("Jordan", 99999, "VALID")],
)
def test_demo_customers_london_to_paris_in_one_hour(pipeline, name, max_speed, second_status):
    user = pipeline.customer(max_speed=max_speed, first_name=name)
    first, second = pipeline.transaction(user, *LONDON), pipeline.transaction(user, *PARIS, offset_ms=HOUR_MS)

    first_verdict, second_verdict = pipeline.verdicts([first, second])

    assert (first_verdict["status"], first_verdict["reason"], first_verdict["is_fraud"]) == ("VALID", "no_history", False)
    assert first_verdict["prev_transaction_id"] is None and first_verdict["speed_kmh"] is None
    assert second_verdict["prev_transaction_id"] == first
    assert second_verdict["speed_kmh"] == pytest.approx(343.5, rel=1e-2)
    assert (second_verdict["first_name"], second_verdict["max_speed"]) == (name, max_speed)
    assert second_verdict["status"] == second_status
    assert second_verdict["is_fraud"] is (second_status == "FRAUD")
    assert second_verdict["reason"] == ("speed_above_limit" if second_status == "FRAUD" else "within_limit")


def test_a_transaction_id_with_the_jobs_own_separators_is_paired_like_any_other(pipeline):
    # The job keeps each customer's recent transactions as one string, entries split by ',' and
    # fields by '|'. A producer other than this site may write any id: it must come back whole.
    user = pipeline.customer(max_speed=10)
    odd_id = unique("a,b|c,") + "|1.5|é"
    first = pipeline.transaction(user, *LONDON, transaction_id=odd_id)
    second = pipeline.transaction(user, *PARIS, offset_ms=HOUR_MS)
    third = pipeline.transaction(user, *PARIS, offset_ms=2 * HOUR_MS)

    first_verdict, second_verdict, third_verdict = pipeline.verdicts([first, second, third])

    assert first_verdict["transaction_id"] == odd_id
    assert (second_verdict["prev_transaction_id"], second_verdict["status"]) == (odd_id, "FRAUD")
    assert second_verdict["speed_kmh"] == pytest.approx(343.5, rel=1e-2)
    assert (third_verdict["prev_transaction_id"], third_verdict["speed_kmh"]) == (second, 0.0)


def test_a_verdict_follows_its_transaction_within_seconds(pipeline):
    user = pipeline.customer(max_speed=100)
    (verdict,) = pipeline.verdicts([pipeline.transaction(user, *LONDON)], timeout=3)  # a bound, not a benchmark
    assert verdict["status"] == "VALID"


def test_zero_and_negative_elapsed_time(pipeline):
    user = pipeline.customer(max_speed=1000)
    start = pipeline.transaction(user, *LONDON)
    same_place_same_time = pipeline.transaction(user, *LONDON)
    elsewhere_same_time = pipeline.transaction(user, *PARIS)
    elsewhere_earlier = pipeline.transaction(user, *LONDON, offset_ms=-60_000)

    _, same, elsewhere, earlier = pipeline.verdicts([start, same_place_same_time, elsewhere_same_time, elsewhere_earlier])

    assert (same["speed_kmh"], same["status"], same["reason"]) == (0.0, "VALID", "within_limit")
    for verdict in (elsewhere, earlier):
        assert verdict["speed_kmh"] is None  # JSON and Avro both hold it; no infinity, no division error
        assert (verdict["status"], verdict["reason"], verdict["is_fraud"]) == ("FRAUD", "non_positive_elapsed_time", True)
    assert earlier["elapsed_seconds"] == -60


def test_unknown_customer_gets_its_own_verdict(pipeline):
    user = "never_configured_" + str(pipeline.base_time)
    first = pipeline.transaction(user, *LONDON)
    second = pipeline.transaction(user, *SYDNEY, offset_ms=1000)

    for verdict in pipeline.verdicts([first, second]):
        assert (verdict["status"], verdict["reason"], verdict["is_fraud"]) == ("UNKNOWN_CUSTOMER", "unknown_customer", False)
        assert verdict["max_speed"] is None and verdict["first_name"] is None


def test_a_limit_change_applies_to_later_transactions_only(pipeline):
    user = pipeline.customer(max_speed=10)
    before = [pipeline.transaction(user, *LONDON), pipeline.transaction(user, *PARIS, offset_ms=HOUR_MS)]
    old_verdicts = pipeline.verdicts(before)
    assert old_verdicts[1]["status"] == "FRAUD"

    pipeline.customer(max_speed=1000, user_id=user)
    after = pipeline.transaction(user, *LONDON, offset_ms=2 * HOUR_MS)
    (new_verdict,) = pipeline.verdicts([after])

    assert (new_verdict["max_speed"], new_verdict["status"]) == (1000.0, "VALID")
    # The earlier verdicts were not re-emitted with the new limit.
    assert [pipeline.verdict_count(transaction_id) for transaction_id in before] == [1, 1]
    assert all(verdict["max_speed"] == 10.0 for verdict in old_verdicts)


def test_a_skewed_client_clock_hurts_nobody_else_and_loses_nothing(pipeline):
    year_ms = 365 * 24 * HOUR_MS
    skewed, bystander = pipeline.customer(max_speed=1000), pipeline.customer(max_speed=1000)

    future = pipeline.transaction(skewed, *LONDON, offset_ms=year_ms)
    past = pipeline.transaction(skewed, *LONDON, offset_ms=-year_ms)
    bystander_ids = [pipeline.transaction(bystander, *LONDON), pipeline.transaction(bystander, *PARIS, offset_ms=HOUR_MS)]
    back_to_normal = pipeline.transaction(skewed, *PARIS, offset_ms=HOUR_MS)

    # Nothing is dropped as late, and the bystander is judged on its own transactions.
    verdicts = pipeline.verdicts([future, past, *bystander_ids, back_to_normal], timeout=15)
    future_v, past_v, first_b, second_b, normal_v = verdicts
    assert future_v["reason"] == "no_history"
    assert (past_v["speed_kmh"], past_v["status"]) == (0.0, "VALID")  # same place, time went backwards
    assert (second_b["status"], second_b["prev_transaction_id"]) == ("VALID", bystander_ids[0])
    assert normal_v["prev_transaction_id"] == past
    assert normal_v["received_at"] >= future_v["received_at"]  # event time is the broker's clock


def test_the_running_job_is_the_rendered_local_sql(stack):
    (job,) = [job for job in flink_client.detection_jobs() if job["state"] == "RUNNING"]
    assert job["name"] == flink.JOB_NAME_PREFIX + detection_sql.fingerprint(detection_sql.render("local"))
    submitted = (settings.STACK_DIR / "flink" / "detection.sql").read_text()
    assert submitted.endswith(detection_sql.render("local"))


# --- further signals: velocity, spend deviation, unusual hour ---------------------------------

MINUTE_MS = 60 * 1000
# 2026-01-15 10:00 UTC (London in winter: UTC) and 2026-07-15 10:00 UTC (London in summer: UTC+1).
WINTER_10_UTC, SUMMER_10_UTC = 1768471200000, 1784109600000


def judged(pipeline, user, steps):
    """Send (offset_ms, amount) transactions at one place; returns their verdicts, in order."""
    ids = [pipeline.transaction(user, *LONDON, offset_ms=offset, amount=amount) for offset, amount in steps]
    return pipeline.verdicts(ids)


def test_velocity_fires_on_more_than_n_transactions_within_m_minutes(pipeline):
    user = pipeline.customer(max_speed=1000, velocity_max_transactions=2, velocity_window_minutes=10)
    # Three within two minutes: the third is the one too many.
    burst = judged(pipeline, user, [(0, 10), (MINUTE_MS, 10), (2 * MINUTE_MS, 10)])
    assert [(v["status"], v["reasons"]) for v in burst] == [
        ("VALID", "no_history"), ("VALID", "within_limit"), ("FRAUD", "velocity_exceeded")]
    assert (burst[2]["velocity_max_transactions"], burst[2]["velocity_window_minutes"]) == (2, 10)

    calm = pipeline.customer(max_speed=1000, velocity_max_transactions=2, velocity_window_minutes=10)
    # 0, 6, 12 min + 1 ms: no three within ten minutes. Then 16 min: 6, 12, 16 are (exactly ten counts).
    spread = judged(pipeline, calm, [(0, 10), (6 * MINUTE_MS, 10), (12 * MINUTE_MS + 1, 10), (16 * MINUTE_MS, 10)])
    assert [v["status"] for v in spread] == ["VALID", "VALID", "VALID", "FRAUD"]
    assert spread[3]["reasons"] == "velocity_exceeded"


def test_spend_deviation_fires_above_k_times_the_average_after_three_transactions(pipeline):
    user = pipeline.customer(max_speed=1000, spend_factor=3.0)
    verdicts = judged(pipeline, user, [(0, 10), (HOUR_MS, 100), (2 * HOUR_MS, 10), (3 * HOUR_MS, 10),
                                       (4 * HOUR_MS, 130), (5 * HOUR_MS, 120)])
    # The second (10x the first) is not judged: fewer than three previous transactions.
    assert [v["status"] for v in verdicts] == ["VALID", "VALID", "VALID", "VALID", "FRAUD", "VALID"]
    assert verdicts[3]["average_amount"] == pytest.approx(40.0)  # (10 + 100 + 10) / 3
    assert (verdicts[4]["reasons"], verdicts[4]["average_amount"]) == ("spend_deviation", pytest.approx(32.5))
    assert verdicts[5]["average_amount"] == pytest.approx(52.0)  # 120 <= 3 x 52: the fraud raised the bar


def test_unusual_hour_uses_the_customers_time_zone_and_wraps_midnight(pipeline):
    london = pipeline.customer(max_speed=1000, usual_hour_start=9, usual_hour_end=17, time_zone="Europe/London")
    stamps = [WINTER_10_UTC, WINTER_10_UTC + 7 * HOUR_MS - 1, WINTER_10_UTC + 7 * HOUR_MS,  # 10:00, 16:59, 17:00
              SUMMER_10_UTC + 6 * HOUR_MS + 30 * MINUTE_MS]  # 16:30 UTC = 17:30 in London in July
    ids = [pipeline.transaction(london, *LONDON, timestamp=stamp) for stamp in stamps]
    verdicts = pipeline.verdicts(ids)
    assert [(v["local_hour"], v["status"]) for v in verdicts] == [(10, "VALID"), (16, "VALID"), (17, "FRAUD"), (17, "FRAUD")]
    assert {v["reasons"] for v in verdicts[2:]} == {"unusual_hour"}

    night_owl = pipeline.customer(max_speed=1000, usual_hour_start=22, usual_hour_end=6, time_zone="Asia/Tokyo")
    stamps = [WINTER_10_UTC + 14 * HOUR_MS, WINTER_10_UTC - 8 * HOUR_MS, WINTER_10_UTC]  # Tokyo 09:00 next day, 11:00, 19:00
    ids = [pipeline.transaction(night_owl, *LONDON, timestamp=stamp) for stamp in stamps]
    verdicts = pipeline.verdicts(ids)
    assert [(v["local_hour"], v["status"]) for v in verdicts] == [(9, "FRAUD"), (11, "FRAUD"), (19, "FRAUD")]
    late = pipeline.transaction(night_owl, *LONDON, timestamp=WINTER_10_UTC + 4 * HOUR_MS)  # Tokyo 23:00
    early = pipeline.transaction(night_owl, *LONDON, timestamp=WINTER_10_UTC + 10 * HOUR_MS)  # Tokyo 05:00
    assert [(v["local_hour"], v["status"]) for v in pipeline.verdicts([late, early])] == [(23, "VALID"), (5, "VALID")]


def test_every_signal_that_fires_is_a_reason(pipeline):
    user = pipeline.customer(max_speed=100, velocity_max_transactions=3, velocity_window_minutes=60, spend_factor=2.0,
                             usual_hour_start=8, usual_hour_end=20, time_zone="UTC")
    base = WINTER_10_UTC
    ids = [pipeline.transaction(user, *LONDON, timestamp=base + i * MINUTE_MS, amount=10) for i in range(3)]
    # Four minutes later in Paris (far above 100 km/h), the fourth within the hour, 50x the average.
    fourth = pipeline.transaction(user, *PARIS, timestamp=base + 4 * MINUTE_MS, amount=500)
    *_, verdict = pipeline.verdicts([*ids, fourth])
    assert verdict["status"] == "FRAUD" and verdict["is_fraud"]
    assert verdict["reasons"] == "speed_above_limit,velocity_exceeded,spend_deviation"
    assert verdict["reason"] == "speed_above_limit"

    night = pipeline.transaction(user, *PARIS, timestamp=base + 12 * HOUR_MS, amount=10)  # 22:00 UTC, alone
    (night_verdict,) = pipeline.verdicts([night])
    assert (night_verdict["status"], night_verdict["reasons"]) == ("FRAUD", "unusual_hour")


def test_signals_without_thresholds_stay_quiet(pipeline):
    user = pipeline.customer(max_speed=1000)
    steps = [(i * 1000, 10 if i < 4 else 10_000) for i in range(8)]  # a burst, then huge amounts
    verdicts = judged(pipeline, user, steps)
    assert {v["status"] for v in verdicts} == {"VALID"}
    assert {v["local_hour"] for v in verdicts} == {None}
    assert verdicts[-1]["average_amount"] is not None  # measured, but no factor to compare with


def test_a_threshold_change_applies_to_later_transactions_only(pipeline):
    user = pipeline.customer(max_speed=1000, velocity_max_transactions=5, velocity_window_minutes=10)
    before = judged(pipeline, user, [(0, 10), (MINUTE_MS, 10), (2 * MINUTE_MS, 10)])
    assert {v["status"] for v in before} == {"VALID"}

    pipeline.customer(max_speed=1000, user_id=user, velocity_max_transactions=2, velocity_window_minutes=10)
    (after,) = judged(pipeline, user, [(3 * MINUTE_MS, 10)])

    assert (after["status"], after["reasons"], after["velocity_max_transactions"]) == ("FRAUD", "velocity_exceeded", 2)
    assert [pipeline.verdict_count(v["transaction_id"]) for v in before] == [1, 1, 1]  # not re-judged
    assert {v["velocity_max_transactions"] for v in before} == {5}


# --- the Flink tables and the .avsc files agree field by field (no stack needed) ---------

FLINK_TO_AVRO = {"STRING": "string", "BIGINT": "long", "INT": "int", "DOUBLE": "double", "BOOLEAN": "boolean"}


def flink_shape(flink_type):
    """The Avro shape of a Flink column type: an Avro type name, or ("array", fields) for an
    ARRAY<ROW<...>> (fields as avro_fields gives them)."""
    row = re.fullmatch(r"ARRAY<ROW<(.*)> NOT NULL>", flink_type)
    if row:  # the row's fields are scalars: no comma inside a field's type
        return ("array", [column_shape(field) for field in row.group(1).split(", ")])
    return FLINK_TO_AVRO[flink_type]


def column_shape(column):
    """(name, Avro shape, nullable) of one column definition."""
    name, flink_type, not_null = re.fullmatch(r"`?(\w+)`? (.+?)( NOT NULL)?", column.strip()).groups()
    return name, flink_shape(flink_type), not not_null


def physical_columns(sql, table):
    """(name, avro type, nullable) of a CREATE TABLE's physical columns, in order."""
    body = re.search(rf"CREATE TABLE {table} \((.*?)\n\) WITH", sql, re.S).group(1)
    return [column_shape(line.rstrip(",")) for line in body.splitlines()
            if re.match(r"\s*`?\w+`? (STRING|BIGINT|INT|DOUBLE|BOOLEAN|ARRAY<)", line)]


def avro_fields(schema_path_or_fields):
    fields = []
    for field in (load_schema(schema_path_or_fields)["fields"] if isinstance(schema_path_or_fields, Path)
                  else schema_path_or_fields):
        kind = field["type"]
        nullable = isinstance(kind, list)
        kind = [t for t in kind if t != "null"][0] if nullable else kind
        if isinstance(kind, dict):  # an array of records
            kind = ("array", avro_fields(kind["items"]["fields"]))
        fields.append((field["name"], kind, nullable))
    return fields


@pytest.mark.parametrize(
    "table, schema_path, key_fields",
    [
        ("card_transactions", TRANSACTION_SCHEMA, ["user_id"]),
        ("users_config", USERS_CONFIG_SCHEMA, ["user_id"]),
        ("card_transactions_enriched", VERDICT_SCHEMA, []),  # value.fields-include = ALL
        ("list_memberships", LIST_SCHEMA, ["list_key"]),
    ],
)
def test_flink_tables_match_the_avsc_files(table, schema_path, key_fields):
    columns = [c for c in physical_columns(detection_sql.render("local"), table) if c[0] not in key_fields]
    # Flink's plain avro format derives its reader and writer schema from these columns.
    assert columns == avro_fields(schema_path)


def test_a_redeploy_and_its_rollback_each_take_over_where_the_old_job_stopped(pipeline, stack, monkeypatch):
    """A redeploy (issue 28): transactions stream while the job is replaced by one of other SQL,
    straight away; then, the SQL changed back, the rollback after `stack down` saved that job.
    Each transaction gets exactly one verdict (none judged twice, none skipped), and each
    customer's first transaction read by each new job is judged without history, as
    docs/timing.md says. One test for both, so that the session's job is handed over three times
    (each a run of the SQL client), not five."""
    users = [pipeline.customer(max_speed=1000) for _ in range(3)]
    sent = {user: [pipeline.transaction(user, *LONDON)] for user in users}
    pipeline.verdicts([ids[0] for ids in sent.values()])
    session_job = flink.expected_job_name()
    step = 0

    def stream_while(redeploy_job):
        nonlocal step
        redeploy = threading.Thread(target=redeploy_job)
        redeploy.start()
        streamed = 0
        while redeploy.is_alive() or streamed < 30:  # some before, some during, some after the cut-over
            step, streamed = step + 1, streamed + 1
            user = users[step % len(users)]
            sent[user].append(pipeline.transaction(user, *LONDON, offset_ms=step * 1000))
            time.sleep(0.05)
        redeploy.join()

    def assert_each_judged_once_and_paired(running_job, cut_overs):
        assert [job["name"] for job in flink_client.detection_jobs() if job["state"] == "RUNNING"] == [running_job]
        every = [transaction_id for ids in sent.values() for transaction_id in ids]
        verdicts = {verdict["transaction_id"]: verdict for verdict in pipeline.verdicts(every, timeout=90)}
        pipeline.reader.collect_until(lambda records: False, 3)  # a second verdict would come in this time
        assert {transaction_id: pipeline.verdict_count(transaction_id) for transaction_id in every} == \
            {transaction_id: 1 for transaction_id in every}
        for user, ids in sent.items():
            previous = [verdicts[transaction_id]["prev_transaction_id"] for transaction_id in ids]
            without_history = [index for index, prev in enumerate(previous) if prev is None]
            assert len(without_history) == 1 + cut_overs and without_history[0] == 0, (user, previous)  # first ever; first after each
            assert all(prev == ids[index - 1] for index, prev in enumerate(previous) if index not in without_history)

    try:
        monkeypatch.setattr(detection_sql, "BUFFER_TIMEOUT_MS", detection_sql.BUFFER_TIMEOUT_MS + 1)  # harmless
        changed_job = flink.expected_job_name()
        assert changed_job != session_job
        stream_while(flink.submit_detection_job)
        assert_each_judged_once_and_paired(changed_job, cut_overs=1)

        monkeypatch.undo()  # the SQL changed back, after `stack down` saved the changed job

        def rollback():
            flink.suspend_detection_job()
            flink.submit_detection_job()  # resumes the saved job, stops it drained, starts the session's

        stream_while(rollback)
        assert_each_judged_once_and_paired(session_job, cut_overs=2)
    finally:
        monkeypatch.undo()
        flink.submit_detection_job()  # the session's job again, if a step above failed
    assert [job["name"] for job in flink_client.detection_jobs() if job["state"] == "RUNNING"] == [session_job]


# --- the Confluent Cloud variant, planned by open-source Flink -----------------------------

AVRO_TO_FLINK = {avro: flink for flink, avro in FLINK_TO_AVRO.items()}


def inferred_type(shape, nullable):
    """The Flink type Confluent Cloud infers for an Avro shape (array -> ARRAY, record -> ROW)."""
    if isinstance(shape, tuple):
        fields = ", ".join(f"`{name}` {inferred_type(kind, null)}" for name, kind, null in shape[1])
        flink_type = f"ARRAY<ROW<{fields}> NOT NULL>"
    else:
        flink_type = AVRO_TO_FLINK[shape]
    return flink_type + ("" if nullable else " NOT NULL")


def inferred_columns(schema_path):
    """Columns Confluent Cloud infers from a registered value schema (non-null fields NOT NULL)."""
    return [f"`{name}` {inferred_type(kind, nullable)}" for name, kind, nullable in avro_fields(schema_path)]


def emulated_inferred_tables():
    """Confluent Cloud's inferred tables as open-source Flink DDL, after sql/cloud/tables.sql ran:
    a raw key as `key` BYTES, the value's fields, `$rowtime` with its watermark; the compacted
    users-config and list-memberships upsert."""
    tables = []
    for topic, schema_path, extra, connector in [
        (settings.TOPIC_CARD_TRANSACTIONS, TRANSACTION_SCHEMA, [], "'connector' = 'kafka', 'scan.startup.mode' = 'earliest-offset'"),
        (settings.TOPIC_USERS_CONFIG, USERS_CONFIG_SCHEMA, ["PRIMARY KEY (`key`) NOT ENFORCED"], "'connector' = 'upsert-kafka'"),
        (settings.TOPIC_CARD_TRANSACTIONS_ENRICHED, VERDICT_SCHEMA, [], "'connector' = 'kafka'"),
        (settings.TOPIC_LIST_MEMBERSHIPS, LIST_SCHEMA, ["PRIMARY KEY (`key`) NOT ENFORCED"], "'connector' = 'upsert-kafka'"),
    ]:
        columns = ["`key` BYTES" + (" NOT NULL" if extra else ""), *inferred_columns(schema_path),
                   "`$rowtime` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL",
                   "WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND", *extra]
        key_fields = "" if extra else ", 'key.fields' = 'key'"
        tables.append(
            f"CREATE TEMPORARY TABLE `{topic}` (\n  " + ",\n  ".join(columns) + f"\n) WITH ({connector}, "
            f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{settings.KAFKA_BOOTSTRAP_SERVERS}', "
            f"'key.format' = 'raw'{key_fields}, 'value.format' = 'avro', 'value.fields-include' = 'EXCEPT_KEY');"
        )
    return "\n\n".join(tables)


@pytest.fixture
def cloud_emulation(stack, settings, tmp_path):
    """The cloud detection statement running in the local Flink, over tables shaped as Confluent
    Cloud infers them, on topics of its own; yields the job's id. Cancelled at the end.

    Confluent Cloud cannot be reached from here; its INSERT is planned and run by the same Flink
    instead, so a type error or an invalid temporal join (say, not on the versioned table's primary
    key) fails here. It starts as terraform/main.tf starts a redeployed statement, with the
    scan-start hint where the marker is (at offset 0 of its new topics: from their start)."""
    suffix = unique("cloudsim")
    settings.TOPIC_CARD_TRANSACTIONS = f"{suffix}-card-transactions"
    settings.TOPIC_USERS_CONFIG = f"{suffix}-users-config"
    settings.TOPIC_CARD_TRANSACTIONS_ENRICHED = f"{suffix}-card-transactions-enriched"
    settings.TOPIC_LIST_MEMBERSHIPS = f"{suffix}-list-memberships"
    ensure_topics()
    (*_, (_, insert)) = detection_sql.statements("cloud")
    from_the_start = ";".join(f"partition:{partition},offset:0" for partition in range(settings.TOPIC_PARTITIONS))
    insert = insert.replace(detection_sql.VARIANTS["cloud"]["scan_start_marker"], "/*+ OPTIONS("
                            f"'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = '{from_the_start}') */")
    assert "specific-offsets" in insert
    name = f"cloud-emulation-{suffix}"
    script = tmp_path / "cloud-emulation.sql"
    # The idle timeout stands in for the statement property sql.tables.scan.idle-timeout (terraform/main.tf).
    script.write_text(f"SET 'pipeline.name' = '{name}';\nSET 'table.local-time-zone' = 'UTC';\n"
                      f"SET 'table.exec.source.idle-timeout' = '1 s';\n\n{emulated_inferred_tables()}\n\n{insert}")
    flink.run_sql_script(script, "the emulated cloud detection job")
    (job_id,) = [job["jid"] for job in flink_client.flink_rest("/jobs/overview")["jobs"] if job["name"] == name]
    clock = event_clock.run_in_thread(topic=settings.TOPIC_CARD_TRANSACTIONS)  # as deployed beside the cloud job
    try:
        yield job_id
    finally:
        clock.stop()
        for job in flink_client.flink_rest("/jobs/overview")["jobs"]:
            if job["name"] == name and job["state"] not in ("CANCELED", "FAILED", "FINISHED"):
                flink_client.flink_rest(f"/jobs/{job['jid']}?mode=cancel", method="PATCH")


@pytest.mark.django_db(transaction=True)
def test_the_cloud_detection_statement_judges_like_the_local_one(cloud_emulation):
    plan = flink_client.flink_rest(f"/jobs/{cloud_emulation}/plan")["plan"]
    assert any("TemporalJoin" in node["description"] for node in plan["nodes"]), plan  # the users' limits as of each transaction
    pipeline = Pipeline()
    try:
        lena = pipeline.customer(max_speed=10, velocity_max_transactions=2, velocity_window_minutes=90)
        lee = pipeline.customer(max_speed=1000)
        # A block list's entry for a device, as the watchlists app publishes it (the key is looked up as bytes).
        pipeline.producer.produce(settings.TOPIC_LIST_MEMBERSHIPS, key=b"device:dev-cloud", value=LIST_MEMBERSHIPS.codec().encode(
            {"memberships": [{"list": "cloud-blocked", "effect": "block", "weight": 55.0, "suppresses": "*",
                              "value": "dev-cloud", "starts_at": 0, "ends_at": None}]}))
        pipeline.producer.flush(10)
        pipeline.wait_until_lists_read()
        ids = [pipeline.transaction(lena, *LONDON), pipeline.transaction(lena, *PARIS, offset_ms=HOUR_MS),
               pipeline.transaction(lena, *PARIS, offset_ms=HOUR_MS + MINUTE_MS)]
        stranger = pipeline.transaction(unique("nobody"), *LONDON)
        blocked = pipeline.transaction(lee, *LONDON, device_id="dev-cloud")
    finally:
        pipeline.close()

    # The cloud job pairs by record time too: the clock's ticks release the last transaction.
    worker = Worker(Options(group_id=unique("g")))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_until(Verdict.objects.filter(transaction_id__in=[*ids, stranger, blocked]).count, 60, "all 5 verdicts stored",
                   until=lambda count: count == 5, interval=0.5)
    finally:
        worker.stop()
        thread.join(30)

    verdicts = {v.transaction_id: v for v in Verdict.objects.filter(transaction_id__in=[*ids, stranger, blocked])}
    assert len(verdicts) == 5, "not every transaction was judged within 60 s"
    first, paris, again, unknown, listed = (verdicts[transaction_id] for transaction_id in [*ids, stranger, blocked])
    assert (first.user_id, first.status, first.reasons) == (lena, "VALID", "no_history")
    assert (paris.status, paris.reasons, paris.prev_transaction_id) == ("FRAUD", "speed_above_limit", ids[0])
    assert paris.speed_kmh == pytest.approx(great_circle_km(*LONDON, *PARIS), rel=1e-3)
    assert (again.status, again.reasons) == ("FRAUD", "velocity_exceeded")  # three within 61 minutes
    assert (unknown.status, unknown.reasons) == ("UNKNOWN_CUSTOMER", "unknown_customer")
    assert (listed.status, listed.reasons, listed.score) == ("FRAUD", "list:cloud-blocked", 55.0)  # the lists' joins
    assert not Verdict.objects.filter(user_id=TICK_USER_ID).exists()


def test_the_score_adds_the_weights_of_the_reasons_and_the_outcome_is_its_band(pipeline):
    user = pipeline.customer(max_speed=10, spend_factor=2.0, weight_speed_above_limit=35.0,
                             weight_spend_deviation=20.0, review_from=30.0, decline_from=50.0)
    hops = [(LONDON, 10.0), (PARIS, 10.0), (PARIS, 10.0), (LONDON, 100.0)]  # the last: too fast and too big
    ids = [pipeline.transaction(user, *point, amount=amount, offset_ms=i * HOUR_MS)
           for i, (point, amount) in enumerate(hops)]
    stranger = pipeline.transaction(unique("nobody"), *LONDON)

    verdicts = pipeline.verdicts([*ids, stranger])

    assert [(v["reasons"], v["score"], v["outcome"]) for v in verdicts] == [
        ("no_history", 0.0, "approve"),
        ("speed_above_limit", 35.0, "review"),  # 35 >= review_from 30
        ("within_limit", 0.0, "approve"),
        ("speed_above_limit,spend_deviation", 55.0, "decline"),  # 35 + 20 >= decline_from 50
        ("unknown_customer", None, "review"),  # nobody to score: a person looks
    ]
