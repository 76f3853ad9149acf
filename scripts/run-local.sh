#!/usr/bin/env bash
# `make run`: everything on one machine. The local Kafka + Flink stack, PostgreSQL and Redis,
# migrations, demo customers, the verdict worker, the outbox publisher, the webhook deliverer, the replay
# server (proposals' replays) and the web server (uvicorn, WEB_PROCESSES processes: one per core by
# default). Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}
# The database and Redis: from .env (written once here), which every process reads itself.
scripts/local-env.sh

# One instance per stack directory: a second `make run` says which one runs (pid, since when, how
# to stop it) and exits here, before it has started, stopped or deleted anything.
$PY manage.py stack claim --owner $$ --as "make run" --stop-hint "Ctrl-C in its terminal, or kill $$"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "stopping ..."
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  # Only what this run started: a stack that was already running (make stack-up) stays up.
  $PY manage.py stack down --owner $$
}
trap stop_all INT TERM EXIT

export WEB_PROCESSES=${WEB_PROCESSES:-$(nproc)}
# The web processes' Prometheus samples (fraudsite/metrics.py), fresh at every start.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/.run/metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

scripts/services.sh start
$PY manage.py stack up --owner $$
$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
$PY manage.py create_demo_data
# The stack may be new (a fresh clone, or .stack deleted) while PostgreSQL keeps the customers:
# the job gives a customer it has never read UNKNOWN_CUSTOMER, so each start sends them all again
# (users-config keeps the latest per customer; the outbox publisher below sends them).
$PY manage.py republish_customers

$PY manage.py consume_verdicts & pids+=($!)
$PY -m fraudsite.server --processes "$WEB_PROCESSES" --port "$PORT" & pids+=($!)
$PY manage.py publish_outbox & pids+=($!)
$PY manage.py deliver_webhooks & pids+=($!)
$PY manage.py replay_proposal --serve & pids+=($!)
# "running" only once the web server answers.
answers() { $PY -c "import urllib.request; urllib.request.urlopen('http://localhost:$PORT/accounts/login/', timeout=1)" 2>/dev/null; }
deadline=$((SECONDS + 30))
until answers; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the verdict worker stopped; see its output above" >&2; exit 1; }
  kill -0 "${pids[1]}" 2>/dev/null || { echo "the web server did not start (port $PORT taken? set PORT=...)" >&2; exit 1; }
  kill -0 "${pids[2]}" 2>/dev/null || { echo "the outbox publisher stopped; see its output above" >&2; exit 1; }
  kill -0 "${pids[3]}" 2>/dev/null || { echo "the webhook deliverer stopped; see its output above" >&2; exit 1; }
  kill -0 "${pids[4]}" 2>/dev/null || { echo "the replay server stopped; see its output above" >&2; exit 1; }
  [ $SECONDS -lt $deadline ] || { echo "the web server did not answer within 30 s" >&2; exit 1; }
  sleep 0.3
done
echo
echo "fraudsite is running after $SECONDS s with $WEB_PROCESSES web processes: http://localhost:$PORT/  (admin: http://localhost:$PORT/admin/)"
echo "Beside it: the verdict worker, the outbox publisher, the webhook deliverer and the replay server (proposals' replays)."
echo "Flink web UI: http://localhost:${STACK_FLINK_REST_PORT:-8081}   Ctrl-C stops everything."
wait -n "${pids[@]}"
