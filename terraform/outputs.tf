# Everything the project's .env needs: `terraform output -json | python manage.py cloud_env`.
# cloud/terraform.py (ENV_FROM_OUTPUT) maps each output to its setting.

output "kafka_bootstrap_servers" {
  description = "Bootstrap endpoint of the Kafka cluster."
  value       = confluent_kafka_cluster.main.bootstrap_endpoint
}

output "app_kafka_api_key" {
  description = "Kafka API key of the app's service account."
  value       = confluent_api_key.keys["app_kafka"].id
}

output "app_kafka_api_secret" {
  description = "Kafka API secret of the app's service account."
  value       = confluent_api_key.keys["app_kafka"].secret
  sensitive   = true
}

output "schema_registry_url" {
  description = "REST endpoint of the environment's Schema Registry."
  value       = data.confluent_schema_registry_cluster.main.rest_endpoint
}

output "app_schema_registry_api_key" {
  description = "Schema Registry API key of the app's service account."
  value       = confluent_api_key.keys["app_registry"].id
}

output "app_schema_registry_api_secret" {
  description = "Schema Registry API secret of the app's service account."
  value       = confluent_api_key.keys["app_registry"].secret
  sensitive   = true
}

output "flink_rest_endpoint" {
  description = "The Flink statement API of the region (replays of proposals, make cloud-smoke)."
  value       = data.confluent_flink_region.main.rest_endpoint
}

output "organization_id" {
  value = data.confluent_organization.main.id
}

output "environment_id" {
  value = confluent_environment.main.id
}

output "flink_compute_pool_id" {
  value = confluent_flink_compute_pool.main.id
}

output "app_principal_id" {
  description = "The app's service account: the principal of the replays' Flink statements."
  value       = confluent_service_account.app.id
}

output "app_flink_api_key" {
  description = "Flink API key of the app's service account (replays of proposals)."
  value       = confluent_api_key.keys["app_flink"].id
}

output "app_flink_api_secret" {
  description = "Flink API secret of the app's service account."
  value       = confluent_api_key.keys["app_flink"].secret
  sensitive   = true
}

output "flink_catalog" {
  description = "The statements' catalog: the environment's display name."
  value       = confluent_environment.main.display_name
}

output "flink_database" {
  description = "The statements' database: the Kafka cluster's display name."
  value       = confluent_kafka_cluster.main.display_name
}

output "topic_card_transactions" {
  value = confluent_kafka_topic.topics["card_transactions"].topic_name
}

output "topic_users_config" {
  value = confluent_kafka_topic.topics["users_config"].topic_name
}

output "topic_list_memberships" {
  value = confluent_kafka_topic.topics["list_memberships"].topic_name
}

output "topic_card_transactions_enriched" {
  value = confluent_kafka_topic.topics["card_transactions_enriched"].topic_name
}

output "topic_partitions" {
  value = local.topics.card_transactions.partitions
}

output "flink_detection_statement" {
  description = "Name of the running detection statement (Cloud Console > Flink > Statements)."
  value       = module.detection.name
}

output "verdict_consumer_group" {
  description = "Consumer group of the verdict workers, the one the app account may read in."
  value       = var.verdict_consumer_group
}

output "detection_stopped_at" {
  description = "Where the stopped detection statement stopped reading card-transactions (after `-var detection_stopped=true`): pass it as detection_start_offsets to the statement that replaces it. Empty while it runs."
  value       = lookup(module.detection.latest_offsets, confluent_kafka_topic.topics["card_transactions"].topic_name, "")
}

output "flink_statements" {
  description = "Names of the Flink statements, in the order they run."
  value = [module.alter_card_transactions_watermark.name, module.alter_users_config_watermark.name,
  module.alter_list_memberships_watermark.name, module.detection.name]
}

output "role_bindings" {
  description = "What each service account may do: principal => its roles, as 'role CRN pattern'."
  value = { for principal, roles in { for binding in local.role_bindings : binding.principal => "${binding.role_name} ${binding.crn_pattern}"... } :
  principal => sort(roles) }
}
