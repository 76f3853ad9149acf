#!/usr/bin/env python3
"""The mutation check of `make cloud-check`: each mutation below breaks terraform/ in a way that
matters on Confluent Cloud, and `terraform test` must fail on it. Each is applied alone to a copy of
terraform/ in a temporary directory, where `terraform test` runs; the check fails if one still
passes, or if a mutation's original text is not in its file exactly once (the list cannot rot).

Run by scripts/cloud-check.sh, which sets up the Confluent provider (TF_CLI_CONFIG_FILE) and runs
`terraform get` in terraform/ first. Usage: terraform-mutations.py [REPO_DIR]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple


class Mutation(NamedTuple):
    file: str  # relative to terraform/
    original: str  # must occur in the file exactly once
    replacement: str
    breaks: str


CLUSTER_CRN = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}"
REGISTRY_CRN = "${data.confluent_schema_registry_cluster.main.resource_name}"
STATEMENT = "modules/flink-statement/main.tf"
DEFINITION = "sha256(jsonencode([var.statement, var.flink.properties]))"

MUTATIONS = [
    # What replaces a statement (Confluent Cloud changes only `stopped` in place).
    Mutation(STATEMENT, "    replace_triggered_by = [terraform_data.definition]\n", "",
             "a changed SQL or property would update the statement in place"),
    Mutation(STATEMENT, DEFINITION, "sha256(jsonencode([var.statement]))",
             "changed properties would not replace the statement"),
    Mutation(STATEMENT, DEFINITION, "sha256(jsonencode([var.flink.properties]))",
             "a changed SQL would not replace the statement"),
    Mutation(STATEMENT, DEFINITION, "sha256(jsonencode([var.statement, var.flink.properties, var.scan_start]))",
             "an apply without the start would replace the running statement, from the earliest offset"),
    Mutation(STATEMENT, "    ignore_changes       = [statement]\n", "",
             "an apply without the start would change the running statement's SQL"),
    # The order of the statements.
    Mutation("main.tf", "  depends_on = [module.alter_card_transactions_watermark]\n", "",
             "the users-config watermark would not wait for the card-transactions one"),
    Mutation("main.tf", "    module.alter_list_memberships_watermark, confluent_role_binding.flink_verdicts_write,",
             "    confluent_role_binding.flink_verdicts_write,",
             "the detection statement would not wait for the watermarks"),
    # Who does what.
    Mutation("main.tf", """  # A key works once its owner's roles exist.
  depends_on = [
    confluent_role_binding.topic_manager_cluster, confluent_role_binding.topic_manager_subjects,
    confluent_role_binding.app_writes, confluent_role_binding.app_reads_verdicts,
    confluent_role_binding.app_consumer_group, confluent_role_binding.app_subjects,
    confluent_role_binding.flink_developer, confluent_role_binding.app_event_clock,
    confluent_role_binding.app_replay_kafka, confluent_role_binding.app_replay_subjects,
    confluent_role_binding.app_flink_developer,
  ]
""", "", "an API key would be used before its owner's roles exist"),
    Mutation("main.tf", "principal_id    = confluent_service_account.flink.id",
             "principal_id    = confluent_service_account.app.id",
             "the statements would run as the app's account"),
    Mutation("main.tf", "flink                  = [confluent_service_account.flink, data.confluent_flink_region.main]",
             "flink                  = [confluent_service_account.app, data.confluent_flink_region.main]",
             "the app would own the Flink key"),
    # A wrong CRN on each role binding (in main.tf's order).
    Mutation("main.tf", "crn_pattern = confluent_kafka_cluster.main.rbac_crn\n",
             "crn_pattern = confluent_environment.main.resource_name\n",
             "topic_manager_cluster: the whole environment instead of the cluster"),
    Mutation("main.tf", f'"ResourceOwner"\n  crn_pattern = "{REGISTRY_CRN}/subject=${{each.value.name}}-value"',
             f'"ResourceOwner"\n  crn_pattern = "{REGISTRY_CRN}/subject=*"',
             "topic_manager_subjects: every subject"),
    Mutation("main.tf", 'flink.id}"\n  role_name   = "FlinkDeveloper"\n  crn_pattern = confluent_environment.main.resource_name',
             'flink.id}"\n  role_name   = "FlinkDeveloper"\n  crn_pattern = confluent_kafka_cluster.main.rbac_crn',
             "flink_developer: the cluster instead of the environment"),
    Mutation("main.tf", f'"DeveloperManage"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{each.value.name}}"',
             f'"DeveloperManage"\n  crn_pattern = "{CLUSTER_CRN}/topic=*"',
             "flink_topics_manage: every topic"),
    Mutation("main.tf", f'"DeveloperRead"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{each.value.name}}"',
             f'"DeveloperRead"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{each.key}}"',
             "flink_topics_read: the map key (card_transactions) instead of the topic name"),
    Mutation("main.tf", f'"DeveloperWrite"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{local.topics.card_transactions_enriched.name}}"',
             f'"DeveloperWrite"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{local.topics.card_transactions.name}}"',
             "flink_verdicts_write: the transactions topic instead of the verdicts"),
    Mutation("main.tf", "/transactional-id=_confluent-flink_*", "/transactional-id=*",
             "flink_transactional_ids: every transactional id"),
    Mutation("main.tf", "/group=_confluent-flink_*", "/group=*", "flink_consumer_groups: every consumer group"),
    Mutation("main.tf", f'"DeveloperWrite" : "DeveloperRead"\n  crn_pattern = "{REGISTRY_CRN}/subject=${{each.value.name}}-value"',
             f'"DeveloperWrite" : "DeveloperRead"\n  crn_pattern = "{REGISTRY_CRN}/subject=${{each.value.name}}"',
             "flink_subjects: the topic name without -value"),
    Mutation("main.tf", f'"DeveloperWrite"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{each.value.name}}"',
             f'"DeveloperWrite"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{each.key}}"',
             "app_writes: the map key instead of the topic name"),
    Mutation("main.tf", f'"DeveloperRead"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{local.topics.card_transactions_enriched.name}}"',
             f'"DeveloperRead"\n  crn_pattern = "{CLUSTER_CRN}/topic=${{local.topics.card_transactions.name}}"',
             "app_reads_verdicts: the transactions topic instead of the verdicts"),
    Mutation("main.tf", "/group=${var.verdict_consumer_group}", "/group=*", "app_consumer_group: every consumer group"),
    Mutation("main.tf", f'app.id}}"\n  role_name   = "DeveloperRead"\n  crn_pattern = "{REGISTRY_CRN}/subject=${{each.value.name}}-value"',
             f'app.id}}"\n  role_name   = "DeveloperRead"\n  crn_pattern = "{REGISTRY_CRN}/subject=*"',
             "app_subjects: every subject"),
    Mutation("main.tf", '"transactional-id=${local.app.event_clock_transactional_id}"', '"transactional-id=*"',
             "app_event_clock: every transactional id"),
    Mutation("main.tf", '["DeveloperManage", "topic=${local.app.replay_prefix}*"]', '["DeveloperManage", "topic=*"]',
             "app_replay_kafka: every topic"),
    Mutation("main.tf", 'ResourceOwner"\n  crn_pattern = "' + REGISTRY_CRN + '/subject=${local.app.replay_prefix}*"',
             'ResourceOwner"\n  crn_pattern = "' + REGISTRY_CRN + '/subject=*"',
             "app_replay_subjects: every subject"),
    Mutation("main.tf", 'app.id}"\n  role_name   = "FlinkDeveloper"\n  crn_pattern = confluent_environment.main.resource_name',
             'app.id}"\n  role_name   = "FlinkDeveloper"\n  crn_pattern = confluent_kafka_cluster.main.rbac_crn',
             "app_flink_developer: the cluster instead of the environment"),
]


def unfound(terraform_dir):
    """Mutations whose original text is not exactly once in its file, as messages."""
    return [f"{mutation.file}: found {(terraform_dir / mutation.file).read_text().count(mutation.original)} times, "
            f"not once: {mutation.original!r}"
            for mutation in MUTATIONS if (terraform_dir / mutation.file).read_text().count(mutation.original) != 1]


def copy_configuration(terraform_dir, destination):
    """terraform/ (with .terraform/, the installed modules) and the schema files it reads from
    beside it (../sql/..., ../users/...), at the same relative places."""
    shutil.copytree(terraform_dir, destination / "terraform", ignore=shutil.ignore_patterns("*.tfstate*"))
    topics = json.loads((terraform_dir / "generated" / "topics.json").read_text())
    for topic in topics.values():
        schema = Path(os.path.normpath(Path("terraform") / topic["value_schema"]))
        (destination / schema).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(terraform_dir.parent / schema, destination / schema)
    return destination / "terraform"


def run_tests(terraform_dir, mutation):
    """The failed runs of `terraform test` on a copy with the mutation applied (none: it passed).
    One test file at a time, stopping at the first that fails: most mutations fail the first."""
    with tempfile.TemporaryDirectory(prefix="tf-mutation-") as scratch:
        copy = copy_configuration(terraform_dir, Path(scratch))
        path = copy / mutation.file
        path.write_text(path.read_text().replace(mutation.original, mutation.replacement))
        for test_file in sorted((copy / "tests").glob("*.tftest.hcl")):
            result = subprocess.run(["terraform", "test", "-no-color", f"-filter=tests/{test_file.name}"],
                                    cwd=copy, capture_output=True, text=True)
            if result.returncode != 0:
                return re.findall(r'run "([^"]+)"\.\.\. fail', result.stdout) or [
                    f"{test_file.name} (an error before any run)"]
    return []


def main(repo_dir):
    terraform_dir = Path(repo_dir).resolve() / "terraform"
    problems = unfound(terraform_dir)
    if problems:
        print("mutation check: original texts not found exactly once (update scripts/terraform-mutations.py):",
              *problems, sep="\n  ")
        return 1
    print(f"mutation check: {len(MUTATIONS)} mutations, each must make `terraform test` fail")
    survivors = 0
    # Two at a time: terraform test is mostly CPU, and the machines running it are small.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda mutation: run_tests(terraform_dir, mutation), MUTATIONS)
        for number, (mutation, failed) in enumerate(zip(MUTATIONS, results), start=1):
            verdict = f"caught by {', '.join(failed)}" if failed else "SURVIVED: terraform test passes"
            print(f"[{number}/{len(MUTATIONS)}] {mutation.file}: {mutation.breaks}: {verdict}", flush=True)
            survivors += not failed
    if survivors:
        print(f"mutation check failed: {survivors} mutation(s) survived; add a test that fails on each")
        return 1
    print("mutation check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent))
