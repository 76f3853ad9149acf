#!/usr/bin/env bash
# `make cloud-smoke`, for an account holder: a deployment of its own, from nothing to a verdict and
# back. terraform apply in a Terraform workspace of its own (fraudsite-smoke, so an existing
# deployment is never touched), SHOW CREATE TABLE of each inferred table compared with what the
# statements expect and one transaction to its verdict, timed (manage.py cloud_smoke), then
# terraform destroy, whatever happened. Needs CONFLUENT_CLOUD_API_KEY and _SECRET in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
command -v terraform >/dev/null || { echo "cloud-smoke: terraform is not installed (see docs/confluent-cloud.md)" >&2; exit 1; }
if [ -z "${CONFLUENT_CLOUD_API_KEY:-}" ] || [ -z "${CONFLUENT_CLOUD_API_SECRET:-}" ]; then
  echo "cloud-smoke: set CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET in the environment" >&2
  exit 1
fi
export TF_VAR_name_prefix=fraudsite-smoke
settings=$(mktemp)  # the smoke deployment's settings: not the project's .env
terraform -chdir=terraform init -input=false >/dev/null
terraform -chdir=terraform workspace select -or-create fraudsite-smoke
destroy() {
  echo "cloud-smoke: destroying the smoke deployment"
  terraform -chdir=terraform destroy -input=false -auto-approve
  terraform -chdir=terraform workspace select default && terraform -chdir=terraform workspace delete fraudsite-smoke
  rm -f "$settings"
}
trap destroy EXIT
started=$SECONDS
terraform -chdir=terraform apply -input=false -auto-approve
echo "cloud-smoke: applied in $((SECONDS - started)) s"
terraform -chdir=terraform output -json | $PY manage.py cloud_env --env-file "$settings"
set -a; . "$settings"; set +a  # the environment wins over .env
$PY manage.py migrate --noinput -v0
$PY manage.py cloud_smoke
