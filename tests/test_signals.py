"""Adding a signal is one declaration (fraudsite/detection_signals.py) plus its SQL: given a toy
signal declared next to the real ones, every piece derived from the declarations carries it, and
the pieces of the real signals stay as they were."""

import fastavro
import pytest
from django.db import models

from fraudsite import detection_signals, detection_sql
from fraudsite.detection_signals import Signal, Threshold
from fraudsite.topics import USERS_CONFIG
from users import publishing

TOY = Signal(
    name="toy",
    reasons={"toy_exceeded": 7},
    thresholds=[Threshold("toy_limit", models.FloatField("toy: limit", null=True, blank=True),
                          doc="Toy: an amount above this is fraud. Null: signal off.")],
    verdict_fields={"toy_measure": models.FloatField(null=True, blank=True)},
)


@pytest.fixture
def toy_signal(monkeypatch):
    monkeypatch.setattr(detection_signals, "FURTHER_SIGNALS", [*detection_signals.FURTHER_SIGNALS, TOY])
    return TOY


def test_the_committed_users_config_schema_is_the_one_the_declarations_make():
    assert USERS_CONFIG.value_schema_path.read_text() == publishing.users_config_schema_text(), (
        "run `python manage.py users_config_schema`")


def test_a_declared_signal_gets_its_threshold_weight_reason_and_verdict_field(toy_signal):
    assert list(detection_signals.threshold_fields())[-2:] == ["time_zone", "toy_limit"]  # the Customer's fields
    assert detection_signals.threshold_fields()["toy_limit"].null
    assert detection_signals.scoring_policy_fields()["weight_toy_exceeded"].default == 7
    assert list(detection_signals.scoring_defaults())[-3:] == ["weight_toy_exceeded", "review_from", "decline_from"]
    assert detection_signals.fraud_reasons()[-1] == "toy_exceeded"  # travel notices, analytics, the admin
    assert list(detection_signals.verdict_fields())[-1] == "toy_measure"


def test_a_declared_signal_gets_its_users_config_fields(toy_signal):
    schema = publishing.users_config_schema()
    fastavro.parse_schema(schema)
    fields = {field["name"]: field for field in schema["fields"]}
    assert fields["toy_limit"] == {"name": "toy_limit", "type": ["null", "double"], "default": None,
                                   "doc": "Toy: an amount above this is fraud. Null: signal off."}
    assert fields["weight_toy_exceeded"] == {"name": "weight_toy_exceeded", "type": "double", "default": 7}
    names = list(fields)
    assert names.index("time_zone") < names.index("toy_limit") < names.index("travel_notices")
    assert publishing.users_config_schema_text() != USERS_CONFIG.value_schema_path.read_text()  # the drift check sees it


def test_a_declared_signal_adds_exactly_its_suppression_reasons_and_score_to_the_detection_sql(monkeypatch):
    real = detection_sql.render("local")
    monkeypatch.setattr(detection_signals, "FURTHER_SIGNALS", [*detection_signals.FURTHER_SIGNALS, TOY])
    with_toy = detection_sql.render("local")
    prefix = detection_sql.SUPPRESSED_PREFIX
    added = [
        "c.weight_toy_exceeded, ",  # its weight, read from the customer's record
        "m.weight_toy_exceeded, ",  # and carried past the lists' joins
        "\n      OR s.toy_reason IS NOT NULL",  # a reason fired: the travel notices are checked
        ",\n    p.toy_reason IS NOT NULL AND (p.every_signal_suppressed\n"
        "      OR LOCATE(',' || p.toy_reason || ',', p.suppressing) > 0) AS toy_suppressed",
        ",\n      CASE WHEN x.toy_suppressed THEN NULL ELSE x.toy_reason END",  # fraud_reasons
        f",\n      CASE WHEN x.toy_suppressed THEN '{prefix}' || x.toy_reason END",  # suppressed_reasons
        "    + CASE WHEN x.toy_reason IS NOT NULL AND x.toy_suppressed IS NOT TRUE THEN x.weight_toy_exceeded "
        "ELSE 0 END\n",  # the score
    ]
    for part in added:
        assert with_toy.count(part) == 1, part
        with_toy = with_toy.replace(part, "")
    assert with_toy == real  # and the SQL of the other signals is as it was, to the byte
