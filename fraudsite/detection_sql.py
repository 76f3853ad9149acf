"""Renders the Flink SQL in sql/ into its two variants: local open-source Flink and Confluent Cloud.

The detection query (sql/detection.sql) is written once; each variant supplies its table
statements and the names of its key and time columns.
"""

import hashlib
import re

from django.conf import settings
from django.template import Context, Engine

from . import detection_counters, detection_lists, detection_signals
from .detection_signals import HISTORY_ROWS, SPEND_MIN_HISTORY
from .topics import CARD_TRANSACTIONS, TICK_USER_ID, TOPICS, VERDICTS, topic_names

SQL_DIR = settings.BASE_DIR / "sql"

VARIANTS = {
    "local": {
        "tables": "local/tables.sql",
        "names": {
            "card_transactions": "card_transactions",
            "users_config": "users_config",
            "card_transactions_enriched": "card_transactions_enriched",
            "list_memberships": "list_memberships",
        },
        "customer_key": "user_id",
        "list_key": "list_key",
        "bytes_key": False,
        "user_id": "user_id",
        "record_time": "received_at",
        "processing_time": "arrival",
        "enriched_key": False,
    },
    "cloud": {
        "tables": "cloud/tables.sql",
        "names": None,  # Confluent Cloud names tables after their topics
        # Inferred tables expose a raw key as `key` BYTES; it is also the users-config table's
        # primary key, so the temporal join matches on it.
        "customer_key": "`key`",
        "user_id": "DECODE(`key`, 'UTF-8')",
        "list_key": "`key`",
        "bytes_key": True,  # so a list entry's key is looked up as bytes
        "record_time": "`$rowtime`",
        "processing_time": None,  # Confluent Cloud has no processing time: pair by `$rowtime`
        "enriched_key": True,
        # Where terraform/main.tf puts the statement's start (an OPTIONS hint on card-transactions):
        # a line comment until then, so the file stays valid SQL (not /* */: Terraform reads a string
        # between slashes as a regular expression).
        "scan_start_marker": "-- scan start",
    },
}
# The local query over a replay's own bounded topics (proposals/replay.py): the same statement and
# columns, only how the tables are read differs.
VARIANTS["replay"] = {**VARIANTS["local"], "tables": "replay/tables.sql"}
# The cloud statement over a replay's topics on Confluent Cloud (fraudsite/flink_client.py): the
# tables read from the start up to the end they had, without the live statement's scan start.
VARIANTS["cloud-replay"] = {**VARIANTS["cloud"], "tables": "replay/cloud-tables.sql", "scan_start_marker": None}

# Reason codes of sql/detection.sql: any fraud reason makes a verdict FRAUD, unless a travel notice
# suppresses it, when it is reported as SUPPRESSED_PREFIX + the code instead. The fraud reasons are
# the signals' (fraudsite/detection_signals.py).
FRAUD_REASONS = detection_signals.fraud_reasons()
OTHER_REASONS = ["no_history", "within_limit", "unknown_customer"]
SUPPRESSED_PREFIX = "suppressed:"
SUPPRESSED_REASONS = [SUPPRESSED_PREFIX + reason for reason in FRAUD_REASONS]
# What each customer's record carries of the scoring policy (users.models.ScoringPolicy): a weight
# per fraud reason and the two outcome thresholds.
SCORING_FIELDS = list(detection_signals.scoring_defaults())
# The query checks this many travel notices of a customer's record (a Flink SQL array has no
# filter or loop without a UDF, so each slot is a check of its own): at most this many may be in
# force (not yet ended) at once.
MAX_TRAVEL_NOTICES = 10

# In the suppressed codes of a transaction (sql/detection.sql): a travel notice of every signal,
# and an allow list of every reason (detection_lists.EVERY_REASON, as its entries are published).
EVERY_SIGNAL = "*signal"

# What a transaction may say beyond its customer, amount, place and time (transactions/context.py):
# its schema's optional fields, which the job passes on to the verdict as they came.
CONTEXT_COLUMNS = [field["name"] for field in CARD_TRANSACTIONS.optional_fields()]

# The local job's Kafka consumer group: where a redeployed job takes over (localstack/handover.py).
DETECTION_GROUP = "fraudsite-detection"
# The periodic watermark of users_config (card_transactions emits one per record).
WATERMARK_INTERVAL_MS = 10
# How long a network buffer between the job's operators waits to fill (see sql/local/tables.sql).
BUFFER_TIMEOUT_MS = 5

_engine = Engine(dirs=[str(SQL_DIR)], autoescape=False)


def _epoch_millis(column):
    # Flink SQL has no cast from TIMESTAMP_LTZ to a number.
    return (
        f"CAST(TIMESTAMPDIFF(SECOND, TO_TIMESTAMP_LTZ(0, 3), {column}) AS BIGINT) * 1000"
        f" + EXTRACT(MILLISECOND FROM {column})"
    )


def _list_kinds(spec):
    """Per kind of list: its name, the expression of a transaction's key on list-memberships, and a
    slot per entry the query checks (the value's first MAX_LIST_MEMBERSHIPS; arrays count from 1)."""
    kinds = []
    for kind in detection_lists.KINDS:
        value = f"p.`{kind.column}`"
        if kind.prefix:
            value = f"SUBSTRING({value} FROM 1 FOR {detection_lists.BIN_KEY_DIGITS})"
        lookup = f"'{kind.name}:' || {value}"
        prefix = f"{kind.name}:"
        key = f"DECODE({spec['list_key']}, 'UTF-8')" if spec["bytes_key"] else spec["list_key"]
        slots = [{"memberships": f"{kind.name}_memberships", "index": index, "entry": f"{kind.name}_memberships[{index}]",
                  "prefix": kind.prefix, "column": f"`{kind.column}`"}
                 for index in range(1, detection_lists.MAX_LIST_MEMBERSHIPS + 1)]
        kinds.append({"name": kind.name, "lookup": f"ENCODE({lookup}, 'UTF-8')" if spec["bytes_key"] else lookup,
                      "entries_filter": f"SUBSTRING({key} FROM 1 FOR {len(prefix)}) = '{prefix}'", "slots": slots})
    return kinds


def _counter_windows():
    """Per (key, window) pair the job keeps: its CTE's input and its aggregates, chained in order
    on the transactions as they came; and the name of the last CTE (the transactions with every counter)."""
    windows, source = [], "transactions"
    for pair in detection_counters.counter_windows():
        windows.append({"name": pair.name, "source": source, "column": pair.key.column, "interval": pair.interval,
                        "aggregates": [{"name": a.name, "expression": a.expression} for a in pair.aggregates]})
        source = f"{pair.name}_counted"
    return windows, source


def _context(variant, bootstrap_servers, partitions, topics=None, runtime_mode=None):
    spec = VARIANTS[variant]
    topics = {**topic_names(), **(topics or {})}
    tables = spec["names"] or {key: f"`{topic}`" for key, topic in topics.items()}
    columns = (["key"] if spec["enriched_key"] else []) + VERDICTS.field_names
    counter_windows, counted_transactions = _counter_windows()
    return Context(
        {
            **spec,
            "topics": topics,
            "tables": tables,
            "bootstrap_servers": bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
            "partitions": partitions or settings.TOPIC_PARTITIONS,
            "enriched_columns": ", ".join(f"`{name}`" for name in columns),
            "columns": {topic.role: topic.flink_columns() for topic in TOPICS},
            "epoch_millis_of_received_at": _epoch_millis("received_at"),
            "history_rows": HISTORY_ROWS,
            "spend_min_history": SPEND_MIN_HISTORY,
            "notice_slots": range(1, MAX_TRAVEL_NOTICES + 1),  # Flink arrays count from 1
            "suppressed_prefix": SUPPRESSED_PREFIX,
            "scoring_fields": list(detection_signals.scoring_defaults()),
            "further_signals": detection_signals.further_signals(),
            "tick_user_id": TICK_USER_ID,
            "context_columns": CONTEXT_COLUMNS,
            "list_kinds": _list_kinds(spec),
            "max_list_memberships": detection_lists.MAX_LIST_MEMBERSHIPS,
            "list_reason_prefix": detection_lists.LIST_REASON_PREFIX,
            "every_reason": detection_lists.EVERY_REASON,
            "every_list": detection_lists.EVERY_LIST,
            "every_signal": EVERY_SIGNAL,
            "counter_windows": counter_windows,
            "counted_transactions": counted_transactions,
            "counters": [{"name": name, "column": f"{pair.name}_{aggregate.name}"}
                         for name, (pair, aggregate) in detection_counters.counters().items()],
            "rule_slots": range(1, detection_counters.MAX_COUNTER_RULES + 1),
            "rule_reason_prefix": detection_counters.RULE_REASON_PREFIX,
            "every_rule": detection_counters.EVERY_RULE,
            "detection_group": DETECTION_GROUP,
            "watermark_interval_ms": WATERMARK_INTERVAL_MS,
            "buffer_timeout_ms": BUFFER_TIMEOUT_MS,
            "runtime_mode": runtime_mode,
        },
        autoescape=False,  # SQL, not HTML: quotes stay quotes
    )


def _parts(variant, bootstrap_servers=None, partitions=None, topics=None, runtime_mode=None):
    context = _context(variant, bootstrap_servers, partitions, topics, runtime_mode)
    tables = _engine.get_template(VARIANTS[variant]["tables"]).render(context)
    query = _engine.get_template("detection.sql").render(context)
    return tables.strip(), query.strip()


def render(variant, bootstrap_servers=None, partitions=None, topics=None, runtime_mode=None):
    """The complete SQL script of one variant: table statements, then the INSERT. topics: {role:
    topic name} in place of the configured topics (a replay's); runtime_mode: the replay's."""
    tables, query = _parts(variant, bootstrap_servers, partitions, topics, runtime_mode)
    return tables + "\n\n" + query + "\n"


def _without_comment_lines(sql):
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()


def statements(variant, bootstrap_servers=None, partitions=None, topics=None, runtime_mode=None):
    """The script as separate statements, [(name, sql)], in order: what Terraform deploys one by one
    (and a replay on Confluent Cloud submits one by one). The arguments are render()'s."""
    tables, query = _parts(variant, bootstrap_servers, partitions, topics, runtime_mode)
    ddl = [_without_comment_lines(part) for part in re.split(r";\s*\n", tables + "\n")]
    result = []
    for number, sql in enumerate([*filter(None, ddl), query.rstrip(";")], start=1):
        words = [w for w in re.findall(r"[a-z0-9]+", _without_comment_lines(sql).lower()) if w != "table"]
        result.append((f"{number:02d}-{'-'.join(words[:5])}", sql.rstrip(";") + ";\n"))
    return result


def fingerprint(sql):
    """A short hash naming the job, so a test can tell which SQL is running."""
    return hashlib.sha256(sql.encode()).hexdigest()[:12]
