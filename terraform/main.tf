# fraudsite on Confluent Cloud: Kafka, Schema Registry and Flink, with the topics, schemas and
# Flink statements rendered from the project (terraform/generated/, see `manage.py cloud_render`).

locals {
  # Topic names, partitions, configs and value schema files, from fraudsite/topics.py and the apps.
  topics = jsondecode(file("${path.module}/generated/topics.json"))

  # Flink statements, from sql/ (cloud variant). Each runs once, in file-name order.
  statements_dir = "${path.module}/generated/statements"

  # The app's own Kafka names: the event clock's transactional id and the replays' topic prefix.
  app = jsondecode(file("${path.module}/generated/app.json"))
}

data "confluent_organization" "main" {}

resource "confluent_environment" "main" {
  display_name = "${var.name_prefix}-env"

  stream_governance {
    package = var.stream_governance_package
  }
}

resource "confluent_kafka_cluster" "main" {
  display_name = "${var.name_prefix}-cluster"
  availability = "SINGLE_ZONE"
  cloud        = var.cloud
  region       = var.region
  # Standard, not Basic: role bindings on single topics, consumer groups and transactional ids
  # (least privilege, and the only authorization Confluent Cloud Flink has: it does not use ACLs)
  # exist only on Standard, Enterprise, Dedicated and Freight clusters.
  standard {}

  environment {
    id = confluent_environment.main.id
  }
}

data "confluent_schema_registry_cluster" "main" {
  environment {
    id = confluent_environment.main.id
  }
  # The registry exists once the environment's first cluster does.
  depends_on = [confluent_kafka_cluster.main]
}

# --- service accounts and their least-privilege roles -----------------------------------------

# Creates the topics and registers the schemas (this Terraform run only).
resource "confluent_service_account" "topic_manager" {
  display_name = "${var.name_prefix}-topic-manager"
  description  = "Creates fraudsite's topics and registers their schemas (Terraform)"
}

# Runs the Flink statements: reads the inputs, writes the verdicts, shapes the inferred tables.
resource "confluent_service_account" "flink" {
  display_name = "${var.name_prefix}-flink"
  description  = "Principal of fraudsite's Flink statements"
}

# Django, the verdict worker and the simulator.
resource "confluent_service_account" "app" {
  display_name = "${var.name_prefix}-app"
  description  = "fraudsite web app, verdict worker and simulator"
}

resource "confluent_role_binding" "topic_manager_cluster" {
  principal   = "User:${confluent_service_account.topic_manager.id}"
  role_name   = "CloudClusterAdmin"
  crn_pattern = confluent_kafka_cluster.main.rbac_crn
}

# ResourceOwner, not DeveloperWrite: `terraform destroy` deletes the subjects it registered.
resource "confluent_role_binding" "topic_manager_subjects" {
  for_each    = local.topics
  principal   = "User:${confluent_service_account.topic_manager.id}"
  role_name   = "ResourceOwner"
  crn_pattern = "${data.confluent_schema_registry_cluster.main.resource_name}/subject=${each.value.name}-value"
}

# FlinkDeveloper on the environment lets the Flink API key's owner manage statements there.
resource "confluent_role_binding" "flink_developer" {
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = "FlinkDeveloper"
  crn_pattern = confluent_environment.main.resource_name
}

# ALTER TABLE changes a table's metadata (DeveloperManage); the INSERT reads and writes topics.
resource "confluent_role_binding" "flink_topics_manage" {
  for_each    = local.topics
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = "DeveloperManage"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/topic=${each.value.name}"
}

resource "confluent_role_binding" "flink_topics_read" {
  for_each    = { for key, topic in local.topics : key => topic if key != "card_transactions_enriched" }
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = "DeveloperRead"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/topic=${each.value.name}"
}

resource "confluent_role_binding" "flink_verdicts_write" {
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = "DeveloperWrite"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/topic=${local.topics.card_transactions_enriched.name}"
}

# Flink's own transactional producers and consumer groups are named `_confluent-flink_...`
# (Confluent's "Grant Role-Based Access in Confluent Cloud for Apache Flink").
resource "confluent_role_binding" "flink_transactional_ids" {
  for_each    = toset(["DeveloperRead", "DeveloperWrite"])
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = each.key
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/transactional-id=_confluent-flink_*"
}

resource "confluent_role_binding" "flink_consumer_groups" {
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = "DeveloperManage"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/group=_confluent-flink_*"
}

# The statements read the inputs' schemas and write the verdicts' (the sink may register a
# version of its own).
resource "confluent_role_binding" "flink_subjects" {
  for_each    = local.topics
  principal   = "User:${confluent_service_account.flink.id}"
  role_name   = each.key == "card_transactions_enriched" ? "DeveloperWrite" : "DeveloperRead"
  crn_pattern = "${data.confluent_schema_registry_cluster.main.resource_name}/subject=${each.value.name}-value"
}

# The app writes transactions and customer settings, reads verdicts in its own consumer group.
resource "confluent_role_binding" "app_writes" {
  for_each    = { for key, topic in local.topics : key => topic if key != "card_transactions_enriched" }
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = "DeveloperWrite"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/topic=${each.value.name}"
}

resource "confluent_role_binding" "app_reads_verdicts" {
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = "DeveloperRead"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/topic=${local.topics.card_transactions_enriched.name}"
}

resource "confluent_role_binding" "app_consumer_group" {
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = "DeveloperRead"
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/group=${var.verdict_consumer_group}"
}

# Read only: the app looks up the ids of the schemas registered below (no auto-registration).
resource "confluent_role_binding" "app_subjects" {
  for_each    = local.topics
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = "DeveloperRead"
  crn_pattern = "${data.confluent_schema_registry_cluster.main.resource_name}/subject=${each.value.name}-value"
}

# The event clock (transactions/clock.py): each tick is a transaction of the deployment's one
# transactional id; a starting clock first reads the end of card-transactions (in a consumer group
# of the same name, committing nothing) for another clock's ticks.
resource "confluent_role_binding" "app_event_clock" {
  for_each = {
    transactional_id = ["DeveloperWrite", "transactional-id=${local.app.event_clock_transactional_id}"]
    group            = ["DeveloperRead", "group=${local.app.event_clock_transactional_id}"]
    topic            = ["DeveloperRead", "topic=${local.topics.card_transactions.name}"]
  }
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = each.value[0]
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/${each.value[1]}"
}

# Replays of proposals (users/replay.py): topics of their own, created, written, read (in groups
# of the same prefix) and deleted by the app; Flink statements over them run as the app, with
# Flink's own transactional ids and groups (as for the flink account).
resource "confluent_role_binding" "app_replay_kafka" {
  for_each = {
    manage_topics           = ["DeveloperManage", "topic=${local.app.replay_prefix}*"]
    read_topics             = ["DeveloperRead", "topic=${local.app.replay_prefix}*"]
    write_topics            = ["DeveloperWrite", "topic=${local.app.replay_prefix}*"]
    read_groups             = ["DeveloperRead", "group=${local.app.replay_prefix}*"]
    read_flink_transactions = ["DeveloperRead", "transactional-id=_confluent-flink_*"]
    flink_transactions      = ["DeveloperWrite", "transactional-id=_confluent-flink_*"]
    flink_groups            = ["DeveloperManage", "group=_confluent-flink_*"]
  }
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = each.value[0]
  crn_pattern = "${confluent_kafka_cluster.main.rbac_crn}/kafka=${confluent_kafka_cluster.main.id}/${each.value[1]}"
}

# The replays register their topics' value schemas and delete them afterwards.
resource "confluent_role_binding" "app_replay_subjects" {
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = "ResourceOwner"
  crn_pattern = "${data.confluent_schema_registry_cluster.main.resource_name}/subject=${local.app.replay_prefix}*"
}

resource "confluent_role_binding" "app_flink_developer" {
  principal   = "User:${confluent_service_account.app.id}"
  role_name   = "FlinkDeveloper"
  crn_pattern = confluent_environment.main.resource_name
}

# Every role binding above, for the role_bindings output (and the tests that read it).
locals {
  role_bindings = concat(
    [confluent_role_binding.topic_manager_cluster, confluent_role_binding.flink_developer, confluent_role_binding.flink_verdicts_write,
      confluent_role_binding.flink_consumer_groups, confluent_role_binding.app_reads_verdicts, confluent_role_binding.app_consumer_group,
    confluent_role_binding.app_replay_subjects, confluent_role_binding.app_flink_developer],
    values(confluent_role_binding.app_event_clock), values(confluent_role_binding.app_replay_kafka),
    values(confluent_role_binding.topic_manager_subjects), values(confluent_role_binding.flink_topics_manage),
    values(confluent_role_binding.flink_topics_read), values(confluent_role_binding.flink_transactional_ids),
    values(confluent_role_binding.flink_subjects), values(confluent_role_binding.app_writes), values(confluent_role_binding.app_subjects),
  )
}

# --- API keys -----------------------------------------------------------------------------------

data "confluent_flink_region" "main" {
  cloud  = var.cloud
  region = var.region
}

locals {
  # key name -> (owner, managed resource); plain strings so that one resource block makes them all.
  api_keys = {
    for name, key in {
      topic_manager_kafka    = [confluent_service_account.topic_manager, confluent_kafka_cluster.main]
      topic_manager_registry = [confluent_service_account.topic_manager, data.confluent_schema_registry_cluster.main]
      app_kafka              = [confluent_service_account.app, confluent_kafka_cluster.main]
      app_registry           = [confluent_service_account.app, data.confluent_schema_registry_cluster.main]
      flink                  = [confluent_service_account.flink, data.confluent_flink_region.main]
      app_flink              = [confluent_service_account.app, data.confluent_flink_region.main]
      } : name => {
      owner_id             = key[0].id
      owner_api_version    = key[0].api_version
      owner_kind           = key[0].kind
      resource_id          = key[1].id
      resource_api_version = key[1].api_version
      resource_kind        = key[1].kind
    }
  }
}

resource "confluent_api_key" "keys" {
  for_each     = local.api_keys
  display_name = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  owner {
    id          = each.value.owner_id
    api_version = each.value.owner_api_version
    kind        = each.value.owner_kind
  }
  managed_resource {
    id          = each.value.resource_id
    api_version = each.value.resource_api_version
    kind        = each.value.resource_kind
    environment {
      id = confluent_environment.main.id
    }
  }
  # A key works once its owner's roles exist.
  depends_on = [
    confluent_role_binding.topic_manager_cluster, confluent_role_binding.topic_manager_subjects,
    confluent_role_binding.app_writes, confluent_role_binding.app_reads_verdicts,
    confluent_role_binding.app_consumer_group, confluent_role_binding.app_subjects,
    confluent_role_binding.flink_developer, confluent_role_binding.app_event_clock,
    confluent_role_binding.app_replay_kafka, confluent_role_binding.app_replay_subjects,
    confluent_role_binding.app_flink_developer,
  ]
}

# --- topics and value schemas -------------------------------------------------------------------

resource "confluent_kafka_topic" "topics" {
  for_each = local.topics
  kafka_cluster {
    id = confluent_kafka_cluster.main.id
  }
  topic_name       = each.value.name
  partitions_count = each.value.partitions
  config           = each.value.config
  rest_endpoint    = confluent_kafka_cluster.main.rest_endpoint
  credentials {
    key    = confluent_api_key.keys["topic_manager_kafka"].id
    secret = confluent_api_key.keys["topic_manager_kafka"].secret
  }
}

resource "confluent_schema" "values" {
  for_each = local.topics
  schema_registry_cluster {
    id = data.confluent_schema_registry_cluster.main.id
  }
  rest_endpoint = data.confluent_schema_registry_cluster.main.rest_endpoint
  subject_name  = "${each.value.name}-value"
  format        = "AVRO"
  schema        = file("${path.module}/${each.value.value_schema}")
  credentials {
    key    = confluent_api_key.keys["topic_manager_registry"].id
    secret = confluent_api_key.keys["topic_manager_registry"].secret
  }
}

# --- Flink ----------------------------------------------------------------------------------------

resource "confluent_flink_compute_pool" "main" {
  display_name = "${var.name_prefix}-pool"
  cloud        = var.cloud
  region       = var.region
  max_cfu      = var.flink_max_cfu
  environment {
    id = confluent_environment.main.id
  }
}

locals {
  flink = {
    organization_id = data.confluent_organization.main.id
    environment_id  = confluent_environment.main.id
    compute_pool_id = confluent_flink_compute_pool.main.id
    principal_id    = confluent_service_account.flink.id
    rest_endpoint   = data.confluent_flink_region.main.rest_endpoint
    api_key         = confluent_api_key.keys["flink"].id
    api_secret      = confluent_api_key.keys["flink"].secret
    properties = {
      "sql.current-catalog"  = confluent_environment.main.display_name
      "sql.current-database" = confluent_kafka_cluster.main.display_name
      "sql.local-time-zone"  = "UTC"
      # The quiet users-config and list-memberships stop holding the watermark back (card-transactions never idles:
      # the event-time clock ticks every partition). Per statement: Confluent Cloud has no
      # per-table idle timeout.
      "sql.tables.scan.idle-timeout" = var.flink_idle_timeout
    }
  }
}

# Tables are inferred from the topics once their schemas exist (users-config and list-memberships,
# compacted, as the versioned upsert tables the temporal joins need); the ALTERs set the watermarks
# of the timing model (docs/timing.md), and the detection INSERT runs last.
module "alter_card_transactions_watermark" {
  source     = "./modules/flink-statement"
  name       = "${var.name_prefix}-01-card-transactions-watermark"
  statement  = file("${local.statements_dir}/01-alter-card-transactions-modify-watermark.sql")
  flink      = local.flink
  depends_on = [confluent_schema.values, confluent_kafka_topic.topics, confluent_role_binding.flink_topics_manage]
}

module "alter_users_config_watermark" {
  source     = "./modules/flink-statement"
  name       = "${var.name_prefix}-02-users-config-watermark"
  statement  = file("${local.statements_dir}/02-alter-users-config-modify-watermark.sql")
  flink      = local.flink
  depends_on = [module.alter_card_transactions_watermark]
}

module "alter_list_memberships_watermark" {
  source     = "./modules/flink-statement"
  name       = "${var.name_prefix}-03-list-memberships-watermark"
  statement  = file("${local.statements_dir}/03-alter-list-memberships-modify-watermark.sql")
  flink      = local.flink
  depends_on = [module.alter_users_config_watermark]
}

module "detection" {
  source = "./modules/flink-statement"
  # A new name per SQL version, so that the replaced statement's name is not reused.
  name      = "${var.name_prefix}-detection-${substr(sha256(file("${local.statements_dir}/04-insert-into-card-transactions-enriched.sql")), 0, 12)}"
  statement = file("${local.statements_dir}/04-insert-into-card-transactions-enriched.sql")
  # From the beginning on the first deployment; on a redeploy, exactly where the statement it
  # replaces stopped (docs/confluent-cloud.md, Redeploying the detection statement).
  scan_start = (var.detection_start_offsets == ""
    ? "/*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */"
  : "/*+ OPTIONS('scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = '${var.detection_start_offsets}') */")
  stopped = var.detection_stopped
  flink   = local.flink
  depends_on = [
    module.alter_list_memberships_watermark, confluent_role_binding.flink_verdicts_write, confluent_role_binding.flink_topics_read,
    confluent_role_binding.flink_subjects, confluent_role_binding.flink_transactional_ids,
    confluent_role_binding.flink_consumer_groups,
  ]
}
