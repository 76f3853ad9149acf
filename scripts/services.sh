#!/usr/bin/env bash
# The local PostgreSQL and Redis the site and the tests use.
#   scripts/services.sh start        start both (idempotent), and create the database role
#   scripts/services.sh redis-url N  print the URL of Redis database N, with its password
#
# Redis gets a password, generated once: Redis listens on loopback only, but without a password
# any local process could read and write the channel layer, the cache and the API keys' rate
# counts. The password belongs to the Redis on a port, which every checkout of this user on the
# machine shares (a second clone, the tests' fresh clones), so it is kept per user and port, in
# ~/.config/fraudsite/redis-PORT.password (owner-only), not in the checkout. It is handed to
# redis-server on standard input, never on a command line (which every local user can read in the
# process list). A Redis already running without a password (started before passwords) keeps
# running as it is and is used without one, with a warning: the password applies from the next
# start. REDIS_PORT and REDIS_PASSWORD_FILE change the port and the file.
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/fraudsite/redis-$REDIS_PORT.password}

redis_password() {
  if [ ! -s "$REDIS_PASSWORD_FILE" ]; then
    (umask 077 && mkdir -p "$(dirname "$REDIS_PASSWORD_FILE")")
    # A checkout of before passwords moved here keeps the Redis it started usable.
    if [ -s .redis-password ] && [ "$REDIS_PORT" = 6379 ]; then
      (umask 077 && cp .redis-password "$REDIS_PASSWORD_FILE")
    else
      (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$REDIS_PASSWORD_FILE")
    fi
  fi
  cat "$REDIS_PASSWORD_FILE"
}

# What the Redis on REDIS_PORT answers: "open" (no password), "ours" (our password), "other"
# (another password) or "down".
redis_state() {
  local answer
  answer=$(redis-cli -p "$REDIS_PORT" ping 2>&1) || true
  case "$answer" in
    PONG) echo open ;;
    NOAUTH*) [ "$(REDISCLI_AUTH=$(redis_password) redis-cli --no-auth-warning -p "$REDIS_PORT" ping 2>&1)" = PONG ] \
               && echo ours || echo other ;;
    *) echo down ;;
  esac
}

start_redis() {
  case "$(redis_state)" in
    ours) return ;;
    open) echo "warning: the Redis on port $REDIS_PORT has no password (it was started before passwords);" \
               "it is used as it is until it restarts (redis-cli -p $REDIS_PORT shutdown nosave; $0 start)" >&2
          return ;;
    other) echo "the Redis on port $REDIS_PORT wants a password other than the one in $REDIS_PASSWORD_FILE" >&2
           exit 1 ;;
  esac
  printf 'requirepass %s\n' "$(redis_password)" | redis-server - --port "$REDIS_PORT" --daemonize yes --save '' \
    --appendonly no --bind 127.0.0.1 -::1 >/dev/null
  for _ in $(seq 50); do [ "$(redis_state)" = ours ] && return; sleep 0.1; done
  echo "Redis did not start on port $REDIS_PORT" >&2
  exit 1
}

start_postgres() {
  # From / : the postgres user may not be allowed into this checkout's directory.
  as_postgres() { (cd / && if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi); }
  local cluster
  cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    echo "no PostgreSQL cluster found: is the postgresql package installed?" >&2
    exit 1
  fi
  pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online || pg_ctlcluster $cluster start
  as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='fraudsite'\" | grep -q 1 || psql -qc \"CREATE ROLE fraudsite LOGIN CREATEDB PASSWORD 'fraudsite'\""
  as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='fraudsite'\" | grep -q 1 || createdb -O fraudsite fraudsite"
}

case "${1:-}" in
  start)
    start_postgres
    start_redis
    echo "PostgreSQL and Redis are up" ;;
  redis-url)
    database=${2:?usage: $0 redis-url DATABASE_NUMBER}
    if [ "$(redis_state)" = open ]; then
      echo "redis://localhost:$REDIS_PORT/$database"
    else
      echo "redis://:$(redis_password)@localhost:$REDIS_PORT/$database"
    fi ;;
  *)
    echo "usage: $0 start | redis-url DATABASE_NUMBER" >&2
    exit 2 ;;
esac
