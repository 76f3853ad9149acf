# The flink-statement module alone, against a mock of the Confluent provider: what replaces a
# statement and what changes it in place. The mock gives a resource a new id when it is created
# and keeps it through an update in place, so comparing ids across runs shows which one happened.

mock_provider "confluent" {}

variables {
  name      = "fraudsite-statement"
  statement = "INSERT INTO `verdicts` SELECT * FROM `transactions` -- scan start\n;"
  flink = {
    organization_id = "org-mock"
    environment_id  = "env-mock"
    compute_pool_id = "lfcp-mock"
    principal_id    = "sa-flink"
    rest_endpoint   = "https://flink.us-east-2.aws.confluent.cloud"
    api_key         = "mock"
    api_secret      = "mock"
    properties      = { "sql.tables.scan.idle-timeout" = "1 s" }
  }
}

run "created" {
  module {
    source = "./modules/flink-statement"
  }
}

# A redeploy's first step stops the statement where it is, and later applies that do not repeat
# where it started leave it alone (docs/confluent-cloud.md, Redeploying the detection statement).
run "a_stop_or_another_start_changes_the_statement_in_place" {
  module {
    source = "./modules/flink-statement"
  }
  variables {
    scan_start = "/*+ OPTIONS('scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0,offset:42') */"
    stopped    = true
  }

  assert {
    condition     = output.id == run.created.id && output.stopped
    error_message = "Stopping a statement, or a start given after it was created, must not replace it."
  }
}

# Each run below changes one thing from the file's variables (a run starts from them, not from the
# run before); the runs above showed that going back to a running statement is no replacement.
run "a_changed_sql_replaces_the_statement" {
  module {
    source = "./modules/flink-statement"
  }
  variables {
    statement = "INSERT INTO `verdicts` SELECT * FROM `transactions` -- scan start\nWHERE amount > 0;"
  }

  assert {
    condition     = output.id != run.a_stop_or_another_start_changes_the_statement_in_place.id
    error_message = "A changed SQL must replace the statement: Confluent Cloud changes only `stopped` in place."
  }
}

run "the_original_sql_again" {
  module {
    source = "./modules/flink-statement"
  }
}

run "changed_properties_replace_the_statement" {
  module {
    source = "./modules/flink-statement"
  }
  variables {
    flink = merge(var.flink, { properties = { "sql.tables.scan.idle-timeout" = "5 s" } })
  }

  assert {
    condition     = output.id != run.the_original_sql_again.id
    error_message = "Changed properties must replace the statement: Confluent Cloud changes only `stopped` in place."
  }
}
