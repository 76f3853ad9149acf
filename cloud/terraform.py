"""The bridge between the Django project and terraform/.

* generated_files(): what Terraform reads from the project, rendered from the one place each fact
  lives (topic names, configs and schemas in the topic registry fraudsite.topics, the
  Confluent Cloud SQL in sql/). `manage.py cloud_render` writes them to terraform/generated/, and
  a test fails when the committed copies drift from a fresh rendering.
* env_from_outputs(): `terraform output -json` turned into the settings of the project's .env,
  so the web server, the worker and the simulator run against the cloud with no code change.
"""

import json
import os
import re
from pathlib import Path

from django.conf import settings

from fraudsite import detection_sql
from fraudsite.topics import CARD_TRANSACTIONS, REPLAY_TOPIC_PREFIX, TOPICS

TERRAFORM_DIR = settings.BASE_DIR / "terraform"
GENERATED_DIR = TERRAFORM_DIR / "generated"
STATEMENTS_DIR = GENERATED_DIR / "statements"
TOPICS_FILE = GENERATED_DIR / "topics.json"
APP_FILE = GENERATED_DIR / "app.json"

def topics_document():
    """Per topic: its name, partitions, Kafka config and value schema file (relative to terraform/)."""
    return {
        topic.role: {
            "name": topic.name,
            "partitions": settings.TOPIC_PARTITIONS,
            "config": topic.config,
            "value_schema": os.path.relpath(topic.value_schema_path, TERRAFORM_DIR),
        }
        for topic in TOPICS
    }


def app_document():
    """The app's own Kafka names that its role bindings name: the event clock's transactional id
    (transactions/clock.py) and the replays' topic prefix (proposals/replay.py)."""
    from transactions.clock import transactional_id

    return {"event_clock_transactional_id": transactional_id(CARD_TRANSACTIONS.name),
            "replay_prefix": REPLAY_TOPIC_PREFIX}


def generated_files():
    """{path: content} of everything under terraform/generated/."""
    files = {TOPICS_FILE: json.dumps(topics_document(), indent=2, sort_keys=True) + "\n",
             APP_FILE: json.dumps(app_document(), indent=2, sort_keys=True) + "\n"}
    for name, sql in detection_sql.statements("cloud"):
        files[STATEMENTS_DIR / f"{name}.sql"] = sql
    return files


def write_generated_files():
    """Replace terraform/generated/ with a fresh rendering; returns the paths written."""
    files = generated_files()
    for stale in STATEMENTS_DIR.glob("*.sql"):
        if stale not in files:
            stale.unlink()
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return sorted(files)


# --- terraform output -json -> .env -----------------------------------------------------------

class OutputsError(ValueError):
    """The Terraform outputs lack something the project needs, or are not Terraform's JSON."""


# .env setting -> Terraform output it comes from (outputs.tf declares each of these).
ENV_FROM_OUTPUT = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
    "KAFKA_SASL_USERNAME": "app_kafka_api_key",
    "KAFKA_SASL_PASSWORD": "app_kafka_api_secret",
    "SCHEMA_REGISTRY_URL": "schema_registry_url",
    "SCHEMA_REGISTRY_API_KEY": "app_schema_registry_api_key",
    "SCHEMA_REGISTRY_API_SECRET": "app_schema_registry_api_secret",
    "TOPIC_CARD_TRANSACTIONS": "topic_card_transactions",
    "TOPIC_USERS_CONFIG": "topic_users_config",
    "TOPIC_CARD_TRANSACTIONS_ENRICHED": "topic_card_transactions_enriched",
    "TOPIC_LIST_MEMBERSHIPS": "topic_list_memberships",
    "TOPIC_PARTITIONS": "topic_partitions",
    "VERDICT_WORKER_GROUP": "verdict_consumer_group",
    # Replays of proposals, through Confluent Cloud's Flink statement API (fraudsite/flink_client.py).
    "CONFLUENT_FLINK_REST_ENDPOINT": "flink_rest_endpoint",
    "CONFLUENT_ORGANIZATION_ID": "organization_id",
    "CONFLUENT_ENVIRONMENT_ID": "environment_id",
    "CONFLUENT_FLINK_COMPUTE_POOL_ID": "flink_compute_pool_id",
    "CONFLUENT_FLINK_PRINCIPAL_ID": "app_principal_id",
    "CONFLUENT_FLINK_API_KEY": "app_flink_api_key",
    "CONFLUENT_FLINK_API_SECRET": "app_flink_api_secret",
    "CONFLUENT_FLINK_CATALOG": "flink_catalog",
    "CONFLUENT_FLINK_DATABASE": "flink_database",
}
FIXED_CLOUD_SETTINGS = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "PLAIN",
    # Terraform registered the schemas; the app's key may only read them.
    "SCHEMA_REGISTRY_AUTO_REGISTER": "False",
    # The detection job runs in Confluent Cloud, not behind the local stack's Flink REST API.
    "HEALTH_CHECKS_FLINK": "False",
}
ISOLATION_LEVELS = ("read_committed", "read_uncommitted")


def cloud_settings(outputs_json, isolation_level="read_committed"):
    """The .env settings for the cloud, from the text of `terraform output -json`."""
    if isolation_level not in ISOLATION_LEVELS:
        raise OutputsError(f"isolation level must be one of {', '.join(ISOLATION_LEVELS)}, not {isolation_level!r}")
    try:
        outputs = json.loads(outputs_json)
    except json.JSONDecodeError as error:
        raise OutputsError(f"not the JSON of `terraform output -json`: {error}") from None
    if not isinstance(outputs, dict):
        raise OutputsError("not the JSON of `terraform output -json`: expected an object of outputs")
    missing = [name for name in ENV_FROM_OUTPUT.values() if not isinstance(outputs.get(name), dict)
               or outputs[name].get("value") in (None, "")]
    if missing:
        raise OutputsError(f"missing Terraform outputs: {', '.join(missing)} (did `terraform apply` finish?)")
    values = {setting: str(outputs[output]["value"]) for setting, output in ENV_FROM_OUTPUT.items()}
    # The provider reports the endpoint as SASL_SSL://host:port; librdkafka wants host:port.
    values["KAFKA_BOOTSTRAP_SERVERS"] = re.sub(r"^[A-Z_]+://", "", values["KAFKA_BOOTSTRAP_SERVERS"])
    return {**values, **FIXED_CLOUD_SETTINGS, "KAFKA_ISOLATION_LEVEL": isolation_level}


def _quoted(name, value):
    # django-environ takes a single-quoted value literally; a value it cannot hold is refused, not mangled.
    if re.fullmatch(r"[\w.:/@+=-]*", value):
        return value
    if "'" in value or "\n" in value:
        raise OutputsError(f"{name}: the value has a quote or a line break, which a .env line cannot hold")
    return f"'{value}'"


def merged_env(existing_text, new_settings):
    """existing .env text with new_settings replacing their lines (in place) or appended; the rest kept."""
    pending = dict(new_settings)
    lines = []
    for line in existing_text.splitlines():
        name = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if name in pending:
            lines.append(f"{name}={_quoted(name, pending.pop(name))}")
        else:
            lines.append(line)
    if pending:
        lines.append("# Confluent Cloud, from `terraform output -json` (manage.py cloud_env)")
        lines.extend(f"{name}={_quoted(name, value)}" for name, value in pending.items())
    return "\n".join(lines) + "\n"


def write_env(env_path, outputs_json, isolation_level="read_committed"):
    """Update env_path (created with owner-only permissions if new); returns the names written."""
    new_settings = cloud_settings(outputs_json, isolation_level)
    env_path = Path(env_path)
    existing = env_path.read_text() if env_path.exists() else ""
    text = merged_env(existing, new_settings)
    descriptor = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing .env now holds secrets too
        handle.write(text)
    return sorted(new_settings)
