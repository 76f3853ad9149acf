#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis the tests use (idempotent), and creates the database role.
# Usage: scripts/services.sh start
set -euo pipefail

as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }

cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  echo "no PostgreSQL cluster found: is the postgresql package installed?" >&2
  exit 1
fi
pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online || pg_ctlcluster $cluster start
as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='fraudsite'\" | grep -q 1 || psql -qc \"CREATE ROLE fraudsite LOGIN CREATEDB PASSWORD 'fraudsite'\""
as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='fraudsite'\" | grep -q 1 || createdb -O fraudsite fraudsite"

redis-cli ping >/dev/null 2>&1 || redis-server --daemonize yes --save '' --appendonly no --bind 127.0.0.1 -::1 >/dev/null
for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli ping >/dev/null
echo "PostgreSQL and Redis are up"
