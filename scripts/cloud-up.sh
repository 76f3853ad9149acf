#!/usr/bin/env bash
# `make cloud-up`: the product on Confluent Cloud from this machine, in one command. terraform apply,
# .env from its outputs (manage.py cloud_env), then the Django side against the cloud: the verdict
# worker, the web server, the outbox publisher, the webhook deliverer and the event clock (under
# its restarting supervisor, fraudsite/supervisor.py), supervised as `make run` supervises its
# processes: Ctrl-C, or one of them stopping, stops them all. "running" is printed only once a probe
# transaction has its verdict. `make cloud-down` stops them and, after a confirmation, destroys.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}

usage() {
  cat >&2 <<'USAGE'
usage: scripts/cloud-up.sh [--no-apply] [--auto-approve] [--isolation-level read_committed|read_uncommitted]
  --no-apply         use the deployment Terraform applied before (its outputs), apply nothing
  --auto-approve     apply without Terraform's own confirmation
  --isolation-level  the verdict worker's (default read_committed; see docs/confluent-cloud.md)
Needs CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET in the environment (never in a file).
USAGE
  exit 2
}
apply=yes approve=() isolation=read_committed
while [ $# -gt 0 ]; do
  case $1 in
    --no-apply) apply=no ;;
    --auto-approve) approve=(-auto-approve) ;;
    --isolation-level) [ $# -ge 2 ] || usage; isolation=$2; shift ;;
    -h|--help) usage ;;
    *) echo "cloud-up: unknown argument: $1" >&2; usage ;;
  esac
  shift
done
case $isolation in read_committed|read_uncommitted) ;; *) echo "cloud-up: --isolation-level must be read_committed or read_uncommitted" >&2; exit 2 ;; esac
command -v terraform >/dev/null || { echo "cloud-up: terraform is not installed (see docs/confluent-cloud.md)" >&2; exit 1; }
if [ "$apply" = yes ] && { [ -z "${CONFLUENT_CLOUD_API_KEY:-}" ] || [ -z "${CONFLUENT_CLOUD_API_SECRET:-}" ]; }; then
  echo "cloud-up: set CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET (a Cloud resource management key) in the environment" >&2
  exit 1
fi

if [ "$apply" = yes ]; then
  terraform -chdir=terraform init -input=false
  terraform -chdir=terraform apply -input=false "${approve[@]}"
fi
terraform -chdir=terraform output -json | $PY manage.py cloud_env --isolation-level "$isolation"

mkdir -p .run
echo $$ > .run/cloud-up.pid
pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "stopping ..."
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -f .run/cloud-up.pid
}
trap stop_all INT TERM EXIT

export WEB_PROCESSES=${WEB_PROCESSES:-$(nproc)}
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/.run/metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0

names=("verdict worker" "web server" "outbox publisher" "webhook deliverer")
$PY manage.py consume_verdicts & pids+=($!)
$PY -m fraudsite.server --processes "$WEB_PROCESSES" --port "$PORT" & pids+=($!)
$PY manage.py publish_outbox & pids+=($!)
$PY manage.py deliver_webhooks & pids+=($!)
if [ "$($PY manage.py shell -c 'from django.conf import settings; print(settings.CLOUD_IDLE_PARTITION_FORWARDING)')" = True ]; then
  echo "no event clock: CLOUD_IDLE_PARTITION_FORWARDING is on (unsettled; see docs/confluent-cloud.md)"
else
  $PY fraudsite/supervisor.py --name event-clock -- $PY manage.py event_clock & pids+=($!)
  names+=("event clock")
fi
# "running" only once a probe transaction has its verdict (the whole path: API, Kafka, the Flink
# statement, the worker, the database), checking meanwhile that every process still runs.
$PY manage.py cloud_probe --timeout "${CLOUD_PROBE_SECONDS:-300}" & probe=$!
while kill -0 $probe 2>/dev/null; do
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "the ${names[$i]} stopped; see its output above" >&2; kill $probe; exit 1; }
  done
  sleep 0.5
done
wait $probe || { echo "cloud-up: no verdict for the probe transaction; see above" >&2; exit 1; }
echo
echo "fraudsite is running on Confluent Cloud: http://localhost:$PORT/  (admin: http://localhost:$PORT/admin/)"
echo "Ctrl-C (or make cloud-down) stops the processes here; the deployment keeps running (and costing) until make cloud-down destroys it."
wait -n "${pids[@]}"
