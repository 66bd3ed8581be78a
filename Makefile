# docflow: `make demo` runs the pipeline locally over examples/; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

CDK := JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 node_modules/.bin/cdk
# cdklocal sends every service, S3 too, to LOCALSTACK_ENDPOINT, S3 path-style: cdklocal 3.0.4
# refuses AWS_ENDPOINT_URL without AWS_ENDPOINT_URL_S3, and its defaults are names under
# localhost.localstack.cloud, which resolve only where public DNS is reachable.
LOCALSTACK_ENDPOINT ?= http://localhost:4566
CDKLOCAL := AWS_ENDPOINT_URL=$(LOCALSTACK_ENDPOINT) AWS_ENDPOINT_URL_S3=$(LOCALSTACK_ENDPOINT) AWS_S3_FORCE_PATH_STYLE=1 \
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 node_modules/.bin/cdklocal
ALARM_EMAIL ?=

.PHONY: setup demo test test-fast lint bench bundles synth deploy localstack-deploy localstack-test localstack-cdk clean help

help:
	@echo "make setup   create .venv with everything docflow needs (fast when nothing changed)"
	@echo "make demo    process examples/ in the local cloud; results in docflow-out/"
	@echo "make test    run the test suite"
	@echo "make test-fast  the tests that need no local cloud, server or bundle build (under a minute)"
	@echo "make lint    ruff (lint and format check) and mypy, as CI runs them; configured in pyproject.toml"
	@echo "make bench   run the benchmarks (uses ../shared/corpus when present)"
	@echo "make synth   build the Lambda bundles and synthesise the CDK app into cdk.out/ (no Docker, no AWS)"
	@echo "make deploy  deploy to the AWS account of your credentials; ALARM_EMAIL=you@example.com to get alarms"
	@echo "make localstack-deploy  deploy into a LocalStack of yours (Docker) with cdklocal"
	@echo "make localstack-test  docflow against LocalStack; starts localstack-core itself (no Docker) when none answers"

setup: $(INSTALLED)

# Reinstalls only when the project's dependencies change.
$(INSTALLED): pyproject.toml scripts/system-packages.sh
	@echo "docflow: setting up $(VENV) (system packages, then Python's; the first time takes a minute or two)…"
	@bash scripts/system-packages.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -qq --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/docflow run examples/ --out docflow-out

# One worker per core and one more: the tests that run the local cloud, a server or the CLI
# spend much of their time waiting on those processes (on 2 cores, 173 s against 188 s with
# a worker per core). --dist loadscope keeps each module's tests (and its fixtures, such as
# the corpus run) on one worker.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
# The tests marked localstack need LocalStack: make localstack-test runs them.
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope -m "not localstack"

# The tests that need no local cloud, no server and no bundle build (those are marked
# local_cloud), with the fuzz at a quarter of its inputs: for the edit-test loop. They keep
# the CPU busy rather than wait on processes, so one worker per core, handed tests one by
# one (their fixtures are per test): 54 s on 2 cores, against 65 s as `make test` runs them.
FAST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(os.cpu_count() or 1)")
test-fast: setup
	FUZZ_SCALE=0.25 $(BIN)/python -m pytest -n $(FAST_WORKERS) --dist load -m "not local_cloud and not localstack"

# ruff and mypy over the code that ships or runs docflow; `ruff format $(LINTED)` fixes the
# formatting and `ruff check --fix $(LINTED)` what it can of the rest.
LINTED := docflow functions localcloud docflow_cli docflow_console infra app.py
lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

# benchmarks/test_speed.py compares docflow with the floor and the Celery peer and writes
# benchmarks/results/latest.json; BENCH_ARGS picks tests, e.g. BENCH_ARGS='-k speed'.
BENCH_ARGS ?=
bench: setup
	$(BIN)/python -m pytest benchmarks/ -s --benchmark-only --benchmark-columns=min,median,max,rounds $(BENCH_ARGS)

node_modules/.installed: package.json package-lock.json
	@npm install --no-audit --no-fund --silent
	@touch $@

bundles: setup
	$(BIN)/python -m infra.bundles

# cdk-nag runs inside the synth and fails it on any unacknowledged finding; cfn-lint then
# checks the template (errors fail, warnings are shown).
synth: setup node_modules/.installed
	$(CDK) synth --quiet
	$(BIN)/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

deploy: synth
	$(CDK) deploy --require-approval broadening --parameters AlarmEmail=$(ALARM_EMAIL)

# LocalStack runs functions in containers of this machine's architecture.
LOCAL_ARCHITECTURE := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)

# The community edition ignores Custom::S3BucketNotifications: the bucket's EventBridge
# notifications are turned on afterwards, as that resource does on AWS.
localstack-deploy: setup node_modules/.installed
	$(CDKLOCAL) bootstrap -c docflow:architecture=$(LOCAL_ARCHITECTURE)
	$(CDKLOCAL) deploy --require-approval never -c docflow:architecture=$(LOCAL_ARCHITECTURE) --outputs-file cdk.out/localstack-outputs.json
	$(BIN)/python scripts/localstack_notifications.py --endpoint $(LOCALSTACK_ENDPOINT) --outputs cdk.out/localstack-outputs.json

# cdklocal as above with CDK_ARGS, for the tests (tests/test_localstack_deploy.py).
localstack-cdk: setup node_modules/.installed
	$(CDKLOCAL) $(CDK_ARGS)

# Starts localstack-core in host mode when no LocalStack answers (localstack/run.sh), runs the
# tests marked localstack, and stops it; LOCALSTACK_ENDPOINT names one of your own.
localstack-test: setup synth node_modules/.installed
	bash localstack/run.sh

clean:
	rm -rf $(VENV) docflow-out build cdk.out .pytest_cache node_modules .localstack .localstack-venv
