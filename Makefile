# fraudsite: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The local PostgreSQL database (scripts/run-local.sh's default); `make test` uses the server only.
LOCAL_DATABASE_URL ?= postgres://fraudsite:fraudsite@localhost:5432/fraudsite
# The tests' own Kafka + Flink stack (state directory and ports) and Redis database, so that
# `make test` never touches what `make run` shows; pytest-django makes its own test_ database.
# The Redis URL carries the local Redis password (asked for after `scripts/services.sh start`).
# STATIC_ROOT names a directory nothing collects into: WhiteNoise reads every collected file each
# time a test's client starts, which after `make run` (601 files) was 40 % of tests/test_fuzz.py's time.
# The tests' event-time clock ticks every 100 ms, not 20: a verdict waits up to 100 ms, and the
# idle stack takes 19 % of a core rather than 42 % (Kafka and the TaskManager serve every tick).
# PYTHONDONTWRITEBYTECODE emptied: where the environment sets it (these machines do), every pytest
# process rewrote and compiled every test module again, 2 s of CPU per worker at each start.
TEST_ENV = PYTHONDONTWRITEBYTECODE= STACK_DIR=.stack-test STACK_KAFKA_PORT=19092 STACK_KAFKA_CONTROLLER_PORT=19093 \
	STACK_FLINK_REST_PORT=18081 STACK_FLINK_RPC_PORT=16123 STATIC_ROOT=.static-test EVENT_TIME_TICK_MS=100 \
	DATABASE_URL=$(LOCAL_DATABASE_URL) REDIS_URL=$$(scripts/services.sh redis-url 2)
# The tests run side by side in TEST_WORKERS pytest processes (pytest-xdist), each with a database
# and a Redis database of its own (tests/support/workers.py); 4 on 2 cores, as a worker often waits
# for a subprocess, the database or the stack (the fast lane: 83 s with 4, 90 s with 3). The stack's tests share one stack, in one worker
# (--dist loadgroup, tests/conftest.py), while the others share out the rest; the checks of what
# every test left behind (after_all) run after all the others.
TEST_WORKERS ?= 4
SIDE_BY_SIDE = $(TEST_ENV) $(BIN)/pytest -n $(TEST_WORKERS) --durations=10

.PHONY: setup system-packages run reset-password test test-fast cloud-check cloud-up cloud-down cloud-smoke bench \
	stack-up stack-down stack-status docs docs-build docs-screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# Front-end data the site serves (country outlines), exactly as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.venv-checkov/.installed: terraform/requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q -r terraform/requirements-checkov.txt
	touch $@

# The documentation site's tools (MkDocs, Material), pinned in docs/requirements.txt, in their own
# virtualenv so that they never constrain the app's packages.
.venv-docs/.installed: docs/requirements.txt
	$(PYTHON) -m venv .venv-docs
	.venv-docs/bin/pip install -q -r docs/requirements.txt
	touch $@

# The database and Redis that `make run` uses, for every command run in this checkout (written once).
.env:
	scripts/local-env.sh

## setup: system packages (Java, Maven, PostgreSQL, Redis, Chromium, npm), the Python environments, the npm packages and .env
setup: system-packages $(VENV)/.installed .venv-checkov/.installed .venv-docs/.installed node_modules/.installed .env

system-packages:
	scripts/install-system-packages.sh

## run: stack, PostgreSQL, Redis, migrations, demo customers, worker and web server; Ctrl-C stops all
run: setup
	scripts/run-local.sh

## reset-password: a new password for the demo operator, in the database `make run` uses
reset-password: setup
	scripts/services.sh start
	$(BIN)/python manage.py create_demo_data --reset-password

## test: everything, against real PostgreSQL, Redis, Kafka and Flink (its own, started, stopped and removed here)
test: setup
	scripts/services.sh start
	$(SIDE_BY_SIDE) -m "not after_all" --dist loadgroup
	$(TEST_ENV) $(BIN)/pytest -m after_all

## test-fast: every test that needs no Kafka or Flink (no JVM), side by side, against real PostgreSQL and Redis
test-fast: setup
	scripts/services.sh start
	$(SIDE_BY_SIDE) -m "not stack and not after_all"
	$(TEST_ENV) $(BIN)/pytest -m "after_all and not stack"

## cloud-check: the Confluent Cloud Terraform with real Terraform, offline (fmt, validate, test, mutation check)
cloud-check:
	scripts/cloud-check.sh

## cloud-up: apply terraform/, write .env, run the Django side against Confluent Cloud; "running" once a probe has its verdict
cloud-up: setup
	scripts/cloud-up.sh $(CLOUD_UP_ARGS)

## cloud-down: stop what cloud-up started; destroy the deployment only after typing its name (or CONFIRM=name)
cloud-down:
	scripts/cloud-down.sh $(if $(CONFIRM),--confirm $(CONFIRM))

## cloud-smoke: for an account holder: apply a deployment of its own, check the tables and one verdict, destroy
cloud-smoke: setup
	scripts/cloud-smoke.sh

stack-up: setup
	$(BIN)/python manage.py stack up

stack-down: .env
	$(BIN)/python manage.py stack down

stack-status: .env
	$(BIN)/python manage.py stack status

## bench: benchmarks on a Kafka + Flink stack of their own (started, then stopped at the end), so
## that nothing they send reaches what `make run` shows; MODE=quick (under a minute) or full
MODE ?= quick
BENCH_ENV = STACK_DIR=.stack-bench STACK_KAFKA_PORT=49092 STACK_KAFKA_CONTROLLER_PORT=49093 \
	STACK_FLINK_REST_PORT=48081 STACK_FLINK_RPC_PORT=46123 \
	STACK_FLINK_TASKMANAGER_MEMORY=$${STACK_FLINK_TASKMANAGER_MEMORY:-8g} \
	DATABASE_URL=$${DATABASE_URL:-postgres://fraudsite:fraudsite@localhost:5432/fraudsite_bench} \
	REDIS_URL=$${REDIS_URL:-$$(scripts/services.sh redis-url 1)}
bench: setup
	$(BIN)/pip install -q -r bench/requirements.txt
	scripts/services.sh start
	$(BENCH_ENV) $(BIN)/python manage.py stack up
	$(BENCH_ENV) $(BIN)/python bench/run.py --mode $(MODE) $(ONLY:%=--only %); status=$$?; \
	$(BENCH_ENV) $(BIN)/python manage.py stack down; exit $$status

# Material for MkDocs prints a notice about its end of life (May 2027) on every run; said once here.
DOCS_ENV = NO_MKDOCS_2_WARNING=1
DOCS_ADDR ?= 127.0.0.1:8100

## docs: the documentation site (docs/, mkdocs.yml) at http://$(DOCS_ADDR)/, rebuilt on every save
docs: .venv-docs/.installed
	$(DOCS_ENV) .venv-docs/bin/mkdocs serve --dev-addr $(DOCS_ADDR)

## docs-build: the documentation site into site/, any warning (a broken link or anchor) an error; CI runs it
docs-build: .venv-docs/.installed
	$(DOCS_ENV) .venv-docs/bin/mkdocs build --strict

## docs-screenshots: after `make test`, the browser tests' screenshots that the guides show, into docs/images
DOCS_SCREENSHOTS = operator-page verdict-lag-badge alert-page customer-page workbench-queue workbench-case proposal-3-replayed
docs-screenshots:
	for name in $(DOCS_SCREENSHOTS); do cp test-artifacts/$$name.png docs/images/; done
