# `terraform test` (make cloud-check): the deployment planned and applied against a mock of the
# Confluent provider, and the result read: cluster type, each account's roles and keys, the
# statements, who runs them and in what order, and a redeploy (what replaces a statement:
# statement.tftest.hcl). scripts/terraform-mutations.py checks that these fail when they should.
# What only a real Confluent Cloud account can show is listed in docs/confluent-cloud.md.

mock_provider "confluent" {
  mock_data "confluent_organization" {
    defaults = { id = "org-mock" }
  }
  mock_data "confluent_schema_registry_cluster" {
    defaults = {
      id            = "lsrc-mock"
      resource_name = "crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock"
      rest_endpoint = "https://psrc-mock.confluent.cloud"
      api_version   = "srcm/v3"
      kind          = "Cluster"
    }
  }
  mock_data "confluent_flink_region" {
    defaults = {
      id            = "aws.us-east-2"
      rest_endpoint = "https://flink.us-east-2.aws.confluent.cloud"
      api_version   = "fcpm/v2"
      kind          = "Region"
    }
  }
  mock_resource "confluent_environment" {
    defaults = { id = "env-mock", resource_name = "crn://confluent.cloud/organization=org-mock/environment=env-mock" }
  }
  mock_resource "confluent_kafka_cluster" {
    defaults = {
      id                 = "lkc-mock"
      rbac_crn           = "crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock"
      rest_endpoint      = "https://pkc-mock.us-east-2.aws.confluent.cloud:443"
      bootstrap_endpoint = "SASL_SSL://pkc-mock.us-east-2.aws.confluent.cloud:9092"
      api_version        = "cmk/v2"
      kind               = "Cluster"
    }
  }
  mock_resource "confluent_service_account" {
    defaults = { api_version = "iam/v2", kind = "ServiceAccount" }
  }
}


override_resource {
  target = confluent_service_account.topic_manager
  values = { id = "sa-topic-manager", api_version = "iam/v2", kind = "ServiceAccount" }
}

override_resource {
  target = confluent_service_account.flink
  values = { id = "sa-flink", api_version = "iam/v2", kind = "ServiceAccount" }
}

override_resource {
  target = confluent_service_account.app
  values = { id = "sa-app", api_version = "iam/v2", kind = "ServiceAccount" }
}

run "deployment" {
  command = apply

  # Topic-, group- and transactional-id-scoped roles exist only from Standard up.
  assert {
    condition     = length(confluent_kafka_cluster.main.standard) == 1 && length(confluent_kafka_cluster.main.basic) == 0
    error_message = "The cluster must be Standard: Basic clusters have no topic- or group-scoped role bindings."
  }

  # Every role binding, whole: a wrong principal, role or CRN, a missing or an extra one fails here.
  assert {
    condition     = toset(keys(output.role_bindings)) == toset(["User:sa-flink", "User:sa-topic-manager", "User:sa-app"])
    error_message = "Roles are bound to the three service accounts only."
  }
  # What Confluent's Flink RBAC page asks for the statements' principal:
  assert {
    condition = toset(output.role_bindings["User:sa-flink"]) == toset([
      "FlinkDeveloper crn://confluent.cloud/organization=org-mock/environment=env-mock",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=users-config",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions-enriched",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=list-memberships",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=users-config",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=list-memberships",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions-enriched",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/transactional-id=_confluent-flink_*",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/transactional-id=_confluent-flink_*",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/group=_confluent-flink_*",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=card-transactions-value",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=users-config-value",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=list-memberships-value",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=card-transactions-enriched-value",
    ])
    error_message = "The flink account: runs statements in the environment, alters the tables, reads the inputs, writes the verdicts, and Flink's own transactional ids, groups and subjects."
  }
  # `terraform destroy` deletes the subjects the topic manager registered: ResourceOwner.
  assert {
    condition = toset(output.role_bindings["User:sa-topic-manager"]) == toset([
      "CloudClusterAdmin crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock",
      "ResourceOwner crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=card-transactions-value",
      "ResourceOwner crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=users-config-value",
      "ResourceOwner crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=card-transactions-enriched-value",
      "ResourceOwner crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=list-memberships-value",
    ])
    error_message = "The topic-manager account: creates the topics in the cluster, owns the subjects it registers."
  }
  assert {
    condition = toset(output.role_bindings["User:sa-app"]) == toset([
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=users-config",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=list-memberships",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions-enriched",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/group=fraudsite-verdicts",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=card-transactions-value",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=users-config-value",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=card-transactions-enriched-value",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=list-memberships-value",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/transactional-id=fraudsite-event-clock-card-transactions",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/group=fraudsite-event-clock-card-transactions",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=card-transactions",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=fraudsite-replay-*",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=fraudsite-replay-*",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/topic=fraudsite-replay-*",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/group=fraudsite-replay-*",
      "DeveloperRead crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/transactional-id=_confluent-flink_*",
      "DeveloperWrite crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/transactional-id=_confluent-flink_*",
      "DeveloperManage crn://confluent.cloud/organization=org-mock/environment=env-mock/cloud-cluster=lkc-mock/kafka=lkc-mock/group=_confluent-flink_*",
      "ResourceOwner crn://confluent.cloud/organization=org-mock/environment=env-mock/schema-registry=lsrc-mock/subject=fraudsite-replay-*",
      "FlinkDeveloper crn://confluent.cloud/organization=org-mock/environment=env-mock",
    ])
    error_message = "The app account: writes transactions and customers, reads verdicts in its consumer group, reads the schemas; the event clock's transactional id (and a look at card-transactions); replays' own topics, subjects and Flink statements."
  }

  # Each key belongs to the account that uses it, for the resource it uses.
  assert {
    condition = { for name, key in confluent_api_key.keys : name => "${one(key.owner).id} ${one(key.managed_resource).id}" } == {
      topic_manager_kafka    = "sa-topic-manager lkc-mock"
      topic_manager_registry = "sa-topic-manager lsrc-mock"
      app_kafka              = "sa-app lkc-mock"
      app_registry           = "sa-app lsrc-mock"
      flink                  = "sa-flink aws.us-east-2"
      app_flink              = "sa-app aws.us-east-2"
    }
    error_message = "API keys: topic-manager and app for Kafka and the registry, flink and app (replays) for Flink, nothing else."
  }

  # Nothing sets what Confluent Cloud infers for users-config; the detection runs last, and every
  # statement runs as the flink account (the app's could not write the verdicts).
  assert {
    condition = (output.flink_statements[0] == "fraudsite-01-card-transactions-watermark"
      && output.flink_statements[1] == "fraudsite-02-users-config-watermark"
      && output.flink_statements[2] == "fraudsite-03-list-memberships-watermark"
    && startswith(output.flink_statements[3], "fraudsite-detection-") && length(output.flink_statements) == 4)
    error_message = "Three watermark statements, then the detection statement."
  }
  assert {
    condition = [for statement in [module.alter_card_transactions_watermark, module.alter_users_config_watermark,
    module.alter_list_memberships_watermark, module.detection] : statement.principal] == ["sa-flink", "sa-flink", "sa-flink", "sa-flink"]
    error_message = "Every statement runs as the flink account."
  }
  assert {
    condition = module.detection.properties == tomap({ "sql.current-catalog" = "fraudsite-env", "sql.current-database" = "fraudsite-cluster",
    "sql.local-time-zone" = "UTC", "sql.tables.scan.idle-timeout" = "1 s" })
    error_message = "The statements run in the environment's catalog and the cluster's database, in UTC, with the idle timeout."
  }
}

# Terraform creates a resource after everything it depends on, and `-target` applies exactly a
# resource and its dependencies. So, on a fresh state, applying only the detection statement must
# apply the three watermark statements before it and every role binding before the keys and the
# statements that use them; an output that reads one left out is null.
run "the_statements_and_the_keys_wait_for_what_they_need" {
  state_key = "targeted"
  plan_options {
    target = [module.detection]
  }

  assert {
    condition     = output.flink_statements != null
    error_message = "The detection statement must wait for the watermark statements, each for the one before it (depends_on)."
  }
  assert {
    condition     = output.role_bindings != null
    error_message = "API keys (and the statements) must wait for their owner's role bindings (depends_on): a key used before its roles exist fails."
  }
}

# Issue 28: a redeploy never judges the past again. The first deployment reads card-transactions
# from the beginning; a redeploy stops the statement, reads where it stopped, and starts the new
# SQL exactly there; an apply that does not repeat the start leaves the running statement alone.
run "the_first_deployment_reads_from_the_beginning" {
  command = apply

  assert {
    condition = (strcontains(module.detection.statement, "FROM `card-transactions` /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */")
    && !strcontains(module.detection.statement, "-- scan start") && !module.detection.stopped)
    error_message = "The first detection statement reads card-transactions from its earliest offset."
  }
}

run "a_redeploy_first_stops_the_statement_where_it_is" {
  command = apply

  variables {
    detection_stopped = true
  }

  assert {
    condition     = module.detection.stopped && module.detection.name == run.the_first_deployment_reads_from_the_beginning.flink_detection_statement
    error_message = "Stopping the detection statement stops it in place (its latest offsets are then known)."
  }
}

run "an_apply_that_does_not_repeat_the_start_leaves_the_statement_alone" {
  command = apply

  variables {
    detection_start_offsets = "partition:0,offset:42"
  }

  assert {
    condition     = strcontains(module.detection.statement, "'scan.startup.mode' = 'earliest-offset'") && !module.detection.stopped
    error_message = "Where a statement starts matters only when it is created: the same SQL is not replaced for it."
  }
}

run "the_new_sql_starts_where_the_old_statement_stopped" {
  command = apply

  variables {
    flink_idle_timeout      = "2 s" # a changed statement: replaced
    detection_start_offsets = "partition:0,offset:42;partition:1,offset:300"
  }

  assert {
    condition = strcontains(module.detection.statement,
    "FROM `card-transactions` /*+ OPTIONS('scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0,offset:42;partition:1,offset:300') */")
    error_message = "The replacing statement starts at the offsets where the replaced one stopped."
  }
}

run "malformed_start_offsets_are_refused" {
  command = plan

  variables {
    detection_start_offsets = "0:42"
  }

  expect_failures = [var.detection_start_offsets]
}
