"""Renders the Flink SQL in sql/ into its two variants: local open-source Flink and Confluent Cloud.

The detection query (sql/detection.sql) is written once; each variant supplies its table DDL
and the names of its time columns.
"""

import hashlib

from django.conf import settings
from django.template import Context, Engine

SQL_DIR = settings.BASE_DIR / "sql"

VARIANTS = {
    "local": {
        "tables": "local/tables.sql",
        "names": {
            "card_transactions": "card_transactions",
            "users_config": "users_config",
            "card_transactions_enriched": "card_transactions_enriched",
        },
        "record_time": "received_at",
        "processing_time": "arrival",
    },
    "cloud": {
        "tables": "cloud/tables.sql",
        "names": None,  # Confluent Cloud names tables after their topics
        "record_time": "`$rowtime`",
        "processing_time": "`$rowtime`",
    },
}

_engine = Engine(dirs=[str(SQL_DIR)], autoescape=False)


def _epoch_millis(column):
    # Flink SQL has no cast from TIMESTAMP_LTZ to a number.
    return (
        f"CAST(TIMESTAMPDIFF(SECOND, TO_TIMESTAMP_LTZ(0, 3), {column}) AS BIGINT) * 1000"
        f" + EXTRACT(MILLISECOND FROM {column})"
    )


def render(variant, bootstrap_servers=None, partitions=None):
    """The complete SQL script (DDL, then the INSERT) of one variant."""
    spec = VARIANTS[variant]
    topics = {
        "card_transactions": settings.TOPIC_CARD_TRANSACTIONS,
        "users_config": settings.TOPIC_USERS_CONFIG,
        "card_transactions_enriched": settings.TOPIC_CARD_TRANSACTIONS_ENRICHED,
    }
    tables = spec["names"] or {key: f"`{topic}`" for key, topic in topics.items()}
    context = Context(
        {
            "topics": topics,
            "tables": tables,
            "bootstrap_servers": bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
            "partitions": partitions or settings.TOPIC_PARTITIONS,
            "record_time": spec["record_time"],
            "processing_time": spec["processing_time"],
            "epoch_millis_of_received_at": _epoch_millis("received_at"),
        }
    )
    ddl = _engine.get_template(spec["tables"]).render(context)
    query = _engine.get_template("detection.sql").render(context)
    return ddl.strip() + "\n\n" + query.strip() + "\n"


def fingerprint(sql):
    """A short hash naming the job, so a test can tell which SQL is running."""
    return hashlib.sha256(sql.encode()).hexdigest()[:12]
