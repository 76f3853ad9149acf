terraform {
  required_version = ">= 1.5.0"

  required_providers {
    confluent = {
      source  = "confluentinc/confluent"
      version = "2.86.0"
    }
  }
}

# The Cloud API key that provisions everything comes from the environment, never from a file:
# CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET.
provider "confluent" {}
