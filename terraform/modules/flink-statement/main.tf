# One Confluent Cloud Flink statement, run as the given principal in the given compute pool.

terraform {
  required_providers {
    confluent = {
      source = "confluentinc/confluent"
    }
  }
}

variable "name" {
  description = "Statement name: unique in the environment, lowercase letters, digits and hyphens."
  type        = string
}

variable "statement" {
  description = "The SQL of the statement."
  type        = string
}

variable "scan_start" {
  description = "Replaces the SQL comment `-- scan start` in the statement (an OPTIONS hint saying where to start reading); not part of the SQL's version."
  type        = string
  default     = ""
}

variable "stopped" {
  description = "Stop the statement where it is; Confluent Cloud then reports its latest offsets (output latest_offsets)."
  type        = bool
  default     = false
}

variable "flink" {
  description = "Where and as whom to run: organization, environment, pool, principal, endpoint, key, properties."
  type = object({
    organization_id = string
    environment_id  = string
    compute_pool_id = string
    principal_id    = string
    rest_endpoint   = string
    api_key         = string
    api_secret      = string
    properties      = map(string)
  })
  sensitive = true
}

# A statement's SQL and properties cannot change in place (the provider updates only `stopped`):
# a change of either replaces the statement, through this. Where it starts reading (scan_start) is
# not part of it: it matters only when the statement is created, so a later apply that does not
# repeat it leaves the running statement alone.
resource "terraform_data" "definition" {
  input = sha256(jsonencode([var.statement, var.flink.properties]))
}

resource "confluent_flink_statement" "this" {
  statement_name = var.name
  statement      = replace(var.statement, "-- scan start", var.scan_start)
  properties     = var.flink.properties
  rest_endpoint  = var.flink.rest_endpoint
  stopped        = var.stopped

  organization {
    id = var.flink.organization_id
  }
  environment {
    id = var.flink.environment_id
  }
  compute_pool {
    id = var.flink.compute_pool_id
  }
  principal {
    id = var.flink.principal_id
  }
  credentials {
    key    = var.flink.api_key
    secret = var.flink.api_secret
  }

  lifecycle {
    replace_triggered_by = [terraform_data.definition]
    ignore_changes       = [statement]
  }
}

output "name" {
  value = confluent_flink_statement.this.statement_name
}

output "id" {
  description = "Terraform's id of the statement: a new one when the statement was replaced, the same after an update in place."
  value       = confluent_flink_statement.this.id
}

output "principal" {
  description = "The service account the statement runs as."
  value       = one(confluent_flink_statement.this.principal).id
  sensitive   = true # part of var.flink, sensitive for its secret
}

output "properties" {
  value     = confluent_flink_statement.this.properties
  sensitive = true # part of var.flink, sensitive for its secret
}

output "latest_offsets" {
  description = "Where the statement stopped, per topic ('partition:0,offset:42;...'); empty while it runs."
  value       = confluent_flink_statement.this.latest_offsets
}

output "statement" {
  description = "The SQL the statement runs (with its start)."
  value       = confluent_flink_statement.this.statement
}

output "stopped" {
  value = confluent_flink_statement.this.stopped
}
