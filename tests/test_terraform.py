"""terraform/ checked offline where Terraform itself cannot (`make cloud-check` runs terraform fmt,
validate and test: parsing, references, the plan): Confluent Cloud cannot be reached.

Every file it reads exists; the topics, configs and schemas it creates are
the Django settings' and the apps' own; the Flink statements it deploys are exactly the rendered
Confluent Cloud SQL, in order; its outputs become a working .env; checkov finds nothing.
"""

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess

import environ
import hcl2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from cloud import terraform
from fraudsite import detection_sql
from fraudsite.topics import topic_configs

TF_DIR = terraform.TERRAFORM_DIR
TF_FILES = sorted(TF_DIR.rglob("*.tf"))
SAMPLE_OUTPUTS = settings.BASE_DIR / "tests" / "data" / "terraform-output.json"
CHECKOV = settings.BASE_DIR / ".venv-checkov" / "bin" / "checkov"
MUTATIONS_SCRIPT = settings.BASE_DIR / "scripts" / "terraform-mutations.py"


def unquote(value):
    return value[1:-1] if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' else value


def blocks(kind, path=TF_DIR / "main.tf"):
    """{name: body} of the top-level blocks of one kind ('module', 'output', ...) in a .tf file."""
    found = {}
    for entry in hcl2.load(path.open()).get(kind, []):
        for name, body in entry.items():
            found[unquote(name)] = body
    return found


def resources(path=TF_DIR / "main.tf"):
    """{(type, name): body} of the resources in a .tf file."""
    found = {}
    for entry in hcl2.load(path.open()).get("resource", []):
        for kind, named in entry.items():
            for name, body in named.items():
                found[(unquote(kind), unquote(name))] = body
    return found


def test_the_provider_version_is_pinned():
    versions = hcl2.load((TF_DIR / "versions.tf").open())
    version = unquote(versions["terraform"][0]["required_providers"][0]["confluent"]["version"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version


def test_every_file_terraform_reads_exists():
    replacements = {"${path.module}": str(TF_DIR), "${local.statements_dir}": str(terraform.STATEMENTS_DIR)}
    referenced = []
    for path in TF_FILES:
        for argument in re.findall(r'file\("([^"]*(?:\$\{[^}]*\}[^"]*)*)"\)', path.read_text()):
            for placeholder, value in replacements.items():
                argument = argument.replace(placeholder, value)
            if "${each.value.value_schema}" in argument:
                referenced += [TF_DIR / topic["value_schema"] for topic in terraform.topics_document().values()]
            else:
                assert "${" not in argument, f"{path.name}: cannot resolve file({argument})"
                referenced.append(argument)
    for module in blocks("module").values():
        referenced.append(TF_DIR / unquote(module["source"]) / "main.tf")
    assert len(referenced) >= 9  # topics.json, 3 schemas, 5 statements (x2 for the name hash), module
    missing = [str(path) for path in referenced if not os.path.isfile(path)]
    assert not missing


def test_generated_files_are_a_fresh_rendering_of_the_project():
    expected = terraform.generated_files()
    on_disk = {path: path.read_text() for path in terraform.GENERATED_DIR.rglob("*") if path.is_file()}
    assert set(on_disk) == set(expected), "run `python manage.py cloud_render`"
    stale = [str(path) for path, content in expected.items() if on_disk[path] != content]
    assert not stale, f"out of date, run `python manage.py cloud_render`: {stale}"


def test_topics_and_configs_are_the_django_settings():
    topics = json.loads(terraform.TOPICS_FILE.read_text())
    assert {topic["name"] for topic in topics.values()} == {
        settings.TOPIC_CARD_TRANSACTIONS, settings.TOPIC_USERS_CONFIG, settings.TOPIC_CARD_TRANSACTIONS_ENRICHED,
        settings.TOPIC_LIST_MEMBERSHIPS}
    assert {topic["name"]: topic["config"] for topic in topics.values()} == topic_configs()
    assert {topic["partitions"] for topic in topics.values()} == {settings.TOPIC_PARTITIONS}

    topic_resource = resources()[("confluent_kafka_topic", "topics")]
    assert topic_resource["for_each"] == "${local.topics}"
    assert topic_resource["topic_name"] == "${each.value.name}"
    assert topic_resource["config"] == "${each.value.config}"
    assert topic_resource["partitions_count"] == "${each.value.partitions}"
    schema_resource = resources()[("confluent_schema", "values")]
    assert unquote(schema_resource["subject_name"]) == "${each.value.name}-value"  # TopicNameStrategy
    assert unquote(schema_resource["format"]) == "AVRO"


def _deployment_order():
    """Module names in the order their depends_on chain runs them."""
    modules = blocks("module")
    chain = {}
    for name, body in modules.items():
        previous = [re.fullmatch(r"\$\{module\.(\w+)\}", ref) for ref in body.get("depends_on", [])]
        previous = [match.group(1) for match in previous if match]
        assert len(previous) <= 1, f"{name} waits for several statements"
        chain[name] = previous[0] if previous else None
    (first,) = [name for name, before in chain.items() if before is None]
    order = [first]
    while len(order) < len(chain):
        (following,) = [name for name, before in chain.items() if before == order[-1]]
        order.append(following)
    return order


def test_terraform_deploys_exactly_the_rendered_cloud_statements_in_order():
    modules = blocks("module")
    deployed = []
    for name in _deployment_order():
        match = re.fullmatch(r'\$\{file\("\$\{local\.statements_dir\}/([\w.-]+)"\)\}', modules[name]["statement"])
        assert match, f"module {name} does not deploy a generated statement file"
        deployed.append(match.group(1))
    rendered = detection_sql.statements("cloud")
    assert deployed == [f"{name}.sql" for name, _ in rendered]
    for file_name, (_, sql) in zip(deployed, rendered):
        assert (terraform.STATEMENTS_DIR / file_name).read_text() == sql


def test_the_cloud_statements_shape_the_inferred_tables_then_insert_once():
    rendered = [sql for _, sql in detection_sql.statements("cloud")]
    code = [re.sub(r"--.*", "", sql).strip() for sql in rendered]
    assert all(sql.startswith("ALTER TABLE") for sql in code[:-1])
    assert code[-1].startswith("INSERT INTO `card-transactions-enriched`")
    assert [sql.count(";") for sql in code] == [1] * len(rendered)  # one statement each
    assert not [sql for sql in code if "&#" in sql or "&quot;" in sql or "&lt;" in sql]  # nothing HTML-escaped
    # Confluent Cloud infers users-config (compacted) as an upsert table keyed by `key`: a statement
    # adding the key again would be refused, one setting upsert mode does nothing.
    assert not [sql for sql in code if "PRIMARY KEY" in sql or "changelog.mode" in sql]
    assert [re.search(r"MODIFY WATERMARK FOR `\$rowtime` AS `\$rowtime` - INTERVAL '0.001' SECOND", sql) is not None
            for sql in code[:-1]] == [True, True, True]  # the timing model's watermark on each input


def test_the_role_bindings_output_lists_every_binding():
    # `terraform test` checks each account's roles through this output: a binding missing from it
    # would go unchecked.
    (listed,) = [body["role_bindings"] for body in hcl2.load((TF_DIR / "main.tf").open())["locals"] if "role_bindings" in body]
    assert sorted(set(re.findall(r"confluent_role_binding\.(\w+)", listed))) == sorted(
        name for kind, name in resources() if kind == "confluent_role_binding")


def test_each_mutation_of_the_mutation_check_applies_exactly_once():
    # `make cloud-check` runs terraform test on each (scripts/terraform-mutations.py); this catches
    # a stale list without Terraform.
    spec = importlib.util.spec_from_file_location("terraform_mutations", MUTATIONS_SCRIPT)
    mutations = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutations)
    assert len(mutations.MUTATIONS) >= 23
    assert mutations.unfound(TF_DIR) == []


def test_outputs_cover_every_setting_the_env_needs_and_hide_secrets():
    outputs = blocks("output", TF_DIR / "outputs.tf")
    assert set(terraform.ENV_FROM_OUTPUT.values()) <= set(outputs)
    for name, body in outputs.items():
        assert body.get("sensitive") is (True if "secret" in name else None), name
    assert set(json.loads(SAMPLE_OUTPUTS.read_text())) == set(outputs)  # the sample is of these outputs


def test_no_credential_is_a_variable_or_written_in_terraform():
    # The Cloud API key comes from CONFLUENT_CLOUD_API_KEY / _SECRET in the environment.
    (provider,) = hcl2.load((TF_DIR / "versions.tf").open())["provider"]
    assert not [argument for body in provider.values() for argument in body if not argument.startswith("__")]
    variables = blocks("variable", TF_DIR / "variables.tf")
    assert not [name for name in variables if "key" in name or "secret" in name]


# --- terraform output -json -> .env ------------------------------------------------------------

def test_cloud_env_turns_recorded_outputs_into_a_working_env(tmp_path, capsys):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=False\nSECRET_KEY=keep-me\n# KAFKA_BOOTSTRAP_SERVERS=commented\nKAFKA_BOOTSTRAP_SERVERS=localhost:9092\n")
    call_command("cloud_env", outputs=str(SAMPLE_OUTPUTS), env_file=str(env_file))

    sample = {name: output["value"] for name, output in json.loads(SAMPLE_OUTPUTS.read_text()).items()}
    printed = capsys.readouterr().out
    assert sample["app_kafka_api_secret"] not in printed and sample["app_schema_registry_api_secret"] not in printed
    assert "KAFKA_SASL_PASSWORD" in printed  # names only

    env = environ.Env()
    saved = dict(os.environ)
    try:
        environ.Env.read_env(env_file, overwrite=True)
        values = {name: env(name) for name in [*terraform.ENV_FROM_OUTPUT, *terraform.FIXED_CLOUD_SETTINGS,
                                                "KAFKA_ISOLATION_LEVEL", "SECRET_KEY", "DEBUG"]}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert values["KAFKA_BOOTSTRAP_SERVERS"] == "pkc-12345.us-east-2.aws.confluent.cloud:9092"
    assert values["KAFKA_SASL_USERNAME"] == sample["app_kafka_api_key"]
    assert values["KAFKA_SASL_PASSWORD"] == sample["app_kafka_api_secret"]
    assert values["SCHEMA_REGISTRY_URL"] == sample["schema_registry_url"]
    assert values["SCHEMA_REGISTRY_API_SECRET"] == sample["app_schema_registry_api_secret"]
    assert values["TOPIC_PARTITIONS"] == "1"
    assert (values["KAFKA_SECURITY_PROTOCOL"], values["SCHEMA_REGISTRY_AUTO_REGISTER"]) == ("SASL_SSL", "False")
    assert values["KAFKA_ISOLATION_LEVEL"] == "read_committed"
    assert values["HEALTH_CHECKS_FLINK"] == "False"  # the job runs in Confluent Cloud, not the local stack
    assert values["VERDICT_WORKER_GROUP"] == "fraudsite-verdicts"  # the group the app account may read in
    assert (values["SECRET_KEY"], values["DEBUG"]) == ("keep-me", "False")  # other lines kept
    text = env_file.read_text()
    assert text.count("KAFKA_BOOTSTRAP_SERVERS=") == 2 and "# KAFKA_BOOTSTRAP_SERVERS=commented" in text
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("option, worker_level", [({}, "read_committed"),
                                                  ({"isolation_level": "read_uncommitted"}, "read_uncommitted")])
def test_the_env_from_cloud_env_configures_django_for_the_cloud(tmp_path, option, worker_level):
    env_file = tmp_path / ".env"
    call_command("cloud_env", outputs=str(SAMPLE_OUTPUTS), env_file=str(env_file), **option)
    # A fresh interpreter reading only that file, as the web server and the worker would.
    script = ("import environ, os; environ.Env.read_env(os.environ['ENV_FILE']);"
              "import django; os.environ['DJANGO_SETTINGS_MODULE'] = 'fraudsite.settings'; django.setup();"
              "from django.conf import settings as s; from fraudsite.kafka import client_config;"
              "c = client_config(); print(c['bootstrap.servers'], c['security.protocol'], s.KAFKA_ISOLATION_LEVEL,"
              " s.DECISION_ISOLATION_LEVEL, s.SCHEMA_REGISTRY_AUTO_REGISTER)")
    clean_env = {key: value for key, value in os.environ.items()
                 if not key.startswith(("KAFKA_", "DECISION_", "SCHEMA_REGISTRY_", "TOPIC_"))}
    result = subprocess.run([str(settings.BASE_DIR / ".venv/bin/python"), "-c", script], cwd=tmp_path,
                            env={**clean_env, "ENV_FILE": str(env_file), "PYTHONPATH": str(settings.BASE_DIR)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # The option sets the worker's level; the decision API answers from uncommitted verdicts either way.
    assert result.stdout.split() == ["pkc-12345.us-east-2.aws.confluent.cloud:9092", "SASL_SSL", worker_level,
                                     "read_uncommitted", "False"]


@pytest.mark.parametrize("broken, message", [
    ("not json", "not the JSON"),
    ("[]", "expected an object"),
    ('{"kafka_bootstrap_servers": {"value": "x:9092"}}', "missing Terraform outputs: app_kafka_api_key"),
])
def test_cloud_env_refuses_bad_outputs_and_leaves_the_env_alone(tmp_path, broken, message):
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=keep-me\n")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(broken)
    with pytest.raises(CommandError, match=message):
        call_command("cloud_env", outputs=str(outputs), env_file=str(env_file))
    assert env_file.read_text() == "SECRET_KEY=keep-me\n"


def test_cloud_env_refuses_a_value_a_env_line_cannot_hold(tmp_path):
    sample = json.loads(SAMPLE_OUTPUTS.read_text())
    sample["app_kafka_api_secret"]["value"] = "it's"
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(sample))
    with pytest.raises(CommandError, match="KAFKA_SASL_PASSWORD"):
        call_command("cloud_env", outputs=str(outputs), env_file=str(tmp_path / ".env"))
    assert not (tmp_path / ".env").exists()


# --- checkov ---------------------------------------------------------------------------------

def run_checkov(directory):
    result = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "terraform", "secrets", "--skip-download",
         "--output", "json", "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_checkov_finds_nothing():
    assert CHECKOV.exists(), "checkov is installed by `make setup` into .venv-checkov"
    for report in run_checkov(TF_DIR):
        summary = report.get("summary", report)
        assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report


def test_checkov_catches_a_credential_written_into_terraform(tmp_path):
    copy = tmp_path / "terraform"
    shutil.copytree(TF_DIR, copy)
    with (copy / "main.tf").open("a") as handle:
        handle.write('\nlocals {\n  leaked = "AKIAIOSFODNN7EXAMPLE"\n  leaked_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n}\n')
    failed = sum(report.get("summary", report)["failed"] for report in run_checkov(copy))
    assert failed >= 1
