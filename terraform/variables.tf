variable "name_prefix" {
  description = "Prefix of every display name created here (environment, cluster, accounts, pool)."
  type        = string
  default     = "fraudsite"
}

variable "cloud" {
  description = "Cloud provider of the Kafka cluster and the Flink compute pool: AWS, GCP or AZURE."
  type        = string
  default     = "AWS"

  validation {
    condition     = contains(["AWS", "GCP", "AZURE"], var.cloud)
    error_message = "cloud must be AWS, GCP or AZURE."
  }
}

variable "region" {
  description = "Region of the Kafka cluster and the Flink compute pool (one that offers Flink)."
  type        = string
  default     = "us-east-2"
}

variable "stream_governance_package" {
  description = "Stream Governance package of the environment (Schema Registry): ESSENTIALS or ADVANCED."
  type        = string
  default     = "ESSENTIALS"
}

variable "flink_max_cfu" {
  description = "Upper bound of the Flink compute pool, in Confluent Flink Units."
  type        = number
  default     = 5

  validation {
    condition     = contains([5, 10, 20, 30, 40, 50], var.flink_max_cfu)
    error_message = "flink_max_cfu must be one of 5, 10, 20, 30, 40, 50."
  }
}

variable "verdict_consumer_group" {
  description = "Consumer group of the verdict workers: the app account's read role, and VERDICT_WORKER_GROUP in the .env that cloud_env writes."
  type        = string
  default     = "fraudsite-verdicts"
}

variable "flink_idle_timeout" {
  description = "sql.tables.scan.idle-timeout of the statements: after this long without a record, an input stops holding the watermark back."
  type        = string
  default     = "1 s"
}

variable "detection_stopped" {
  description = "Stop the detection statement where it is, the first step of a redeploy: output detection_stopped_at then says where it stopped."
  type        = bool
  default     = false
}

variable "detection_start_offsets" {
  description = "Where a newly created detection statement starts reading card-transactions: empty on the first deployment (from the beginning); on a redeploy, the detection_stopped_at output of the statement it replaces ('partition:0,offset:42;partition:1,offset:300')."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(partition:[0-9]+,offset:[0-9]+(;partition:[0-9]+,offset:[0-9]+)*)?$", var.detection_start_offsets))
    error_message = "detection_start_offsets is 'partition:P,offset:O' for each partition, separated by ';' (the detection_stopped_at output), or empty."
  }
}
