# fraudsite: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The local PostgreSQL database (scripts/run-local.sh's default); `make test` uses the server only.
LOCAL_DATABASE_URL ?= postgres://fraudsite:fraudsite@localhost:5432/fraudsite
# The tests' own Kafka + Flink stack (state directory and ports) and Redis database, so that
# `make test` never touches what `make run` shows; pytest-django makes its own test_ database.
TEST_ENV = STACK_DIR=.stack-test STACK_KAFKA_PORT=19092 STACK_KAFKA_CONTROLLER_PORT=19093 \
	STACK_FLINK_REST_PORT=18081 STACK_FLINK_RPC_PORT=16123 \
	DATABASE_URL=$(LOCAL_DATABASE_URL) REDIS_URL=redis://localhost:6379/2

.PHONY: setup system-packages run reset-password test cloud-check bench stack-up stack-down stack-status

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

## setup: system packages (Java, Maven, PostgreSQL, Redis, Chromium, npm), the Python environments and the npm packages
setup: system-packages $(VENV)/.installed .venv-checkov/.installed node_modules/.installed

system-packages:
	scripts/install-system-packages.sh

## run: stack, PostgreSQL, Redis, migrations, demo customers, worker and web server; Ctrl-C stops all
run: setup
	scripts/run-local.sh

## reset-password: a new password for the demo operator, in the database `make run` uses
reset-password: setup
	scripts/services.sh start
	DATABASE_URL=$${DATABASE_URL:-$(LOCAL_DATABASE_URL)} $(BIN)/python manage.py create_demo_data --reset-password

## test: everything, against real PostgreSQL, Redis, Kafka and Flink (its own, started, stopped and removed here)
test: setup
	scripts/services.sh start
	$(TEST_ENV) $(BIN)/pytest --durations=10

## cloud-check: the Confluent Cloud Terraform with real Terraform, offline (fmt, validate, test)
cloud-check:
	scripts/cloud-check.sh

stack-up: setup
	$(BIN)/python manage.py stack up

stack-down:
	$(BIN)/python manage.py stack down

stack-status:
	$(BIN)/python manage.py stack status

## bench: benchmarks on a running stack (make stack-up first); MODE=quick (under a minute) or full
MODE ?= quick
bench: setup
	$(BIN)/pip install -q -r bench/requirements.txt
	scripts/services.sh start
	$(BIN)/python bench/run.py --mode $(MODE)
