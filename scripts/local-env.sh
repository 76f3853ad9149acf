#!/usr/bin/env bash
# Writes .env once (never overwrites it): the database and Redis that `make run` uses, so that every
# command run in this checkout, `python manage.py ...` from a fresh shell included, uses them too.
# Values set in the environment when it is first written are kept (e.g. DATABASE_URL=... make run).
# REDIS_URL carries the local Redis password (scripts/services.sh generates it, per user and port).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -e .env ]; then
  # Written while the local Redis still ran without a password: once that Redis is gone (a new one
  # starts with the password), the URL with the password, so that make run keeps working.
  wanted=$(scripts/services.sh redis-url 0)
  if grep -qx 'REDIS_URL=redis://localhost:6379/0' .env && [ "$wanted" != "redis://localhost:6379/0" ]; then
    sed -i "s|^REDIS_URL=redis://localhost:6379/0\$|REDIS_URL=$wanted|" .env
    echo "updated REDIS_URL in .env: the local Redis has a password now"
  fi
  exit 0
fi
umask 077  # it holds a password, as the .env that manage.py cloud_env writes does
cat > .env <<END
# Written once by \`make setup\` / \`make run\` (scripts/local-env.sh), never overwritten: edit it freely.
# Every process in this checkout reads it (Django's settings, through django-environ); a variable set
# in the environment wins over this file. .env.example lists every setting.
DATABASE_URL=${DATABASE_URL:-postgres://fraudsite:fraudsite@localhost:5432/fraudsite}
REDIS_URL=${REDIS_URL:-$(scripts/services.sh redis-url 0)}
END
echo "wrote .env (DATABASE_URL, REDIS_URL): python manage.py ... now uses the same database and Redis as make run"
