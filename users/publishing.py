"""What the users-config topic says about customers, and how a change gets there.

Every change of a customer writes its users-config record to the outbox in the same database
transaction (Customer.save/delete and the customer QuerySet's bulk methods call this module);
the outbox publisher (`manage.py publish_outbox`) produces it. A customer's publication state is
read from its latest outbox row, so it is never out of step with what was sent.
"""

import json

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery

from counterrules.services import published_rules
from fraudsite import detection_signals
from fraudsite.detection_sql import MAX_TRAVEL_NOTICES
from fraudsite.topics import USERS_CONFIG
from outbox.models import OutboxMessage
from outbox.publisher import enqueue

# The further signals' thresholds, as published to users-config (after the name and max_speed).
SIGNAL_FIELDS = [threshold.name for signal in detection_signals.further_signals() for threshold in signal.thresholds]


def _millis(moment):
    return round(moment.timestamp() * 1000)


def notice_value(notice):
    """A travel notice as users-config carries it (times as epoch milliseconds; signal "" = every signal)."""
    return {"starts_at": _millis(notice.starts_at), "ends_at": _millis(notice.ends_at), "signal": notice.signal,
            "center_lat": notice.center_lat, "center_lng": notice.center_lng, "radius_km": notice.radius_km}


def users_config_value(customer, notices, scoring, rules):
    """The users-config record of an active customer, with its travel notices that have not ended,
    the scoring policy's fields (ScoringPolicy.published_fields) and the counter rules in force
    (counterrules.services.published_rules)."""
    if len(notices) > MAX_TRAVEL_NOTICES:  # the detection job checks no more: refuse rather than drop one
        raise ValidationError(f"{customer.user_id} would have {len(notices)} travel notices in force; the "
                              f"detection job applies at most {MAX_TRAVEL_NOTICES}.")
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "max_speed": float(customer.max_speed),
        **{name: getattr(customer, name) for name in SIGNAL_FIELDS},
        "travel_notices": [notice_value(notice) for notice in notices],
        **scoring,
        "counter_rules": rules,
    }


# --- the users-config schema ---------------------------------------------------------------

AVRO_TYPES = {"FloatField": "double", "IntegerField": "int", "PositiveIntegerField": "int",
              "PositiveSmallIntegerField": "int", "CharField": "string"}

TRAVEL_NOTICES_FIELD = {
    "name": "travel_notices", "default": [],
    "doc": "The customer's travel notices that had not ended when the record was written: a fraud reason "
           "they cover, fired by a transaction inside one, is reported as suppressed:<reason> instead.",
    "type": {"type": "array", "items": {
        "type": "record", "name": "TravelNotice",
        "fields": [
            {"name": "starts_at", "type": "long",
             "doc": "Epoch milliseconds; applies to transactions with record time >= starts_at."},
            {"name": "ends_at", "type": "long", "doc": "Epoch milliseconds; applies to record times < ends_at."},
            {"name": "signal", "type": "string", "doc": "The fraud reason code suppressed; empty: every fraud reason."},
            {"name": "center_lat", "type": ["null", "double"], "default": None,
             "doc": "Region: null for everywhere, else a circle around (center_lat, center_lng)."},
            {"name": "center_lng", "type": ["null", "double"], "default": None},
            {"name": "radius_km", "type": ["null", "double"], "default": None},
        ]}},
}
COUNTER_RULES_FIELD = {
    "name": "counter_rules", "default": [],
    "doc": "The counter rules in force (the same in every customer's record): each fires rule:<name>, adding its "
           "weight to the score, when its counter over the transaction's key compares with its threshold.",
    "type": {"type": "array", "items": {
        "type": "record", "name": "CounterRule",
        "fields": [
            {"name": "name", "type": "string"},
            {"name": "counter", "type": "string",
             "doc": "key:window:aggregate, one of the counters the job keeps (fraudsite/detection_counters.py)."},
            {"name": "comparison", "type": "string", "doc": "'>' or '>='."},
            {"name": "threshold", "type": "double"},
            {"name": "weight", "type": "double"},
        ]}},
}
SCORING_DOCS = {
    "weight_speed_above_limit": "Scoring: what each fraud reason that fired (and was not suppressed) adds to the "
                                "verdict's score. The defaults are the scoring policy's (fraudsite/detection_signals.py).",
    "review_from": "Scoring: a score at least this is outcome review (below: approve).",
    "decline_from": "Scoring: a score at least this is outcome decline.",
}


def threshold_schema_field(threshold):
    """A threshold's users-config field: its Customer field's type, nullable with it (null: signal off)."""
    avro_type = AVRO_TYPES[threshold.field.get_internal_type()]
    if threshold.field.null:
        schema_field = {"name": threshold.name, "type": ["null", avro_type], "default": None}
    elif threshold.field.has_default():
        schema_field = {"name": threshold.name, "type": avro_type, "default": threshold.field.default}
    else:
        schema_field = {"name": threshold.name, "type": avro_type}
    return schema_field | ({"doc": threshold.doc} if threshold.doc else {})


def users_config_schema():
    """The users-config value schema, from the signals' declarations: what `manage.py
    users_config_schema` writes to users/schemas/users-config.avsc (the file that Flink's tables,
    the codecs and Terraform read; a test fails when it drifts from this)."""
    scoring = [{"name": name, "type": "double", "default": default}
               | ({"doc": SCORING_DOCS[name]} if name in SCORING_DOCS else {})
               for name, default in detection_signals.scoring_defaults().items()]
    return {
        "type": "record",
        "name": "UserConfig",
        "namespace": "fraudsite",
        "doc": "A customer's detection settings. Key: user_id (UTF-8). A null value (tombstone) removes the customer. "
               "Generated from fraudsite/detection_signals.py by `manage.py users_config_schema`: do not edit.",
        "fields": [
            {"name": "first_name", "type": "string"},
            {"name": "last_name", "type": "string"},
            *(threshold_schema_field(threshold) for threshold in detection_signals.thresholds()),
            TRAVEL_NOTICES_FIELD,
            *scoring,
            COUNTER_RULES_FIELD,
        ],
    }


def users_config_schema_text():
    return json.dumps(users_config_schema(), indent=2) + "\n"


def publish_customers(customers):
    """Queue each customer's current state (an inactive one as a tombstone) in the caller's transaction."""
    from .models import ScoringPolicy, notices_in_effect  # (the models module imports this one)

    customers = list(customers)
    scoring = ScoringPolicy.current().published_fields()
    rules = published_rules()
    notices = {}
    for notice in notices_in_effect([c.pk for c in customers]):
        notices.setdefault(notice.customer_id, []).append(notice)
    enqueue(USERS_CONFIG, {c.user_id: users_config_value(c, notices.get(c.pk, []), scoring, rules) if c.active else None
                           for c in customers})


def publish_tombstones(user_ids):
    """Queue the removal of customers from users-config."""
    enqueue(USERS_CONFIG, dict.fromkeys(user_ids))


def publications():
    """The users-config outbox rows, newest first per customer."""
    return OutboxMessage.objects.filter(topic=USERS_CONFIG.role).order_by("-id")


def latest_publication(user_id):
    return publications().filter(key=user_id).first()


def with_publication_state(customers):
    """The customers annotated with their latest publication's sent_at, attempts and error."""
    latest = publications().filter(key=OuterRef("user_id"))
    return customers.annotate(
        publication_id=Subquery(latest.values("id")[:1]),
        publication_sent_at=Subquery(latest.values("sent_at")[:1]),
        publication_attempts=Subquery(latest.values("attempts")[:1]),
        publication_error=Subquery(latest.values("last_error")[:1]),
    )
