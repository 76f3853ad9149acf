#!/usr/bin/env bash
# `make cloud-check`: the Confluent Cloud Terraform checked offline with real Terraform: formatting,
# `terraform validate`, `terraform test` (mock provider) whose assertions read the plan, and the
# mutation check (scripts/terraform-mutations.py): each listed mutation must make `terraform test` fail.
# The Confluent provider comes from ../shared/tools (a build from its public source; the Terraform
# registry cannot be reached here) or from TF_CONFLUENT_PROVIDER_XZ.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v terraform >/dev/null || {
  echo "terraform is not installed (Debian does not package it): see https://developer.hashicorp.com/terraform/install" >&2
  exit 1
}
archive=${TF_CONFLUENT_PROVIDER_XZ:-../shared/tools/terraform-provider-confluent/terraform-provider-confluent.xz}
[ -f "$archive" ] || { echo "no Confluent provider build at $archive (set TF_CONFLUENT_PROVIDER_XZ)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
xz -dc "$archive" > "$work/terraform-provider-confluent"
chmod +x "$work/terraform-provider-confluent"
printf 'provider_installation {\n  dev_overrides { "confluentinc/confluent" = "%s" }\n  direct {}\n}\n' "$work" > "$work/terraformrc"
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

cd terraform
echo "terraform fmt -check"
terraform fmt -check -recursive -diff
echo "terraform get"
terraform get >/dev/null
echo "terraform validate (a warning that the provider is overridden is expected)"
terraform validate -no-color
echo "terraform test (one run applies only the detection statement: the warnings about -target are expected)"
terraform test -no-color
cd ..
python3 scripts/terraform-mutations.py
