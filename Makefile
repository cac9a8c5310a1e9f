# Every target bootstraps what it needs from this repo's own files (uv.lock, package-lock.json).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
LAYER := build/lambda-layer
LAMBDA_PYTHON := 3.12
LAMBDA_PLATFORM := aarch64-manylinux2014

export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup demo test dev synth layer layer-build cdk-cli bootstrap deploy diff destroy lint bench clean openapi

help:
	@echo "make demo   - run two jobs end to end on the local stack (moto + sandbox provider)"
	@echo "make test   - run the whole test suite"
	@echo "make dev    - run the local stack in the foreground on 127.0.0.1:\$${VIDEOHOOK_PORT:-8787} (VERBOSE=1: logs and metrics on the console too)"
	@echo "make synth  - synthesize the CDK app into cdk.out/ (no AWS credentials needed; CONFIG=config/<env>.json)"
	@echo "make deploy - synth, then deploy cdk.out/ with the pinned CDK CLI (CONFIG=config/<env>.json; docs/deploy.md)"
	@echo "make bench  - benchmarks, each figure beside its baseline from the same run"
	@echo "make lint   - ruff: fix what it can and format"
	@echo "make openapi - regenerate docs/openapi.json from the API's routes and models"

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

setup: $(VENV)/.synced

demo: setup
	$(PY) -m devstack.demo$(if $(VERBOSE), --verbose)

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

dev: setup
	$(PY) -m devstack$(if $(VERBOSE), --verbose)

# The Lambda layer: the locked runtime dependencies, built for Lambda's platform (no Docker needed).
# It records the uv.lock it was built from and is rebuilt whenever uv.lock's content differs
# (infra/layer_lock.py); the CDK app refuses a layer built from another uv.lock.
layer:
	@python3 infra/layer_lock.py check $(LAYER) || $(MAKE) --no-print-directory layer-build

layer-build: | $(UV)
	rm -rf $(LAYER) && mkdir -p $(LAYER)
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --quiet \
		| grep -vE '^(boto3|botocore|s3transfer)==' > build/requirements-lambda.txt
	$(UV) pip install --quiet --compile-bytecode --target $(LAYER)/python --python-version $(LAMBDA_PYTHON) \
		--python-platform $(LAMBDA_PLATFORM) --only-binary :all: -r build/requirements-lambda.txt
	python3 infra/layer_lock.py record $(LAYER)

# CONFIG=<file> selects an environment's configuration (default config/default.json; docs/deploy.md).
# Prints the configuration's warnings and how many cdk-nag findings it checked and acknowledged.
synth: setup layer
	CDK_OUTDIR=cdk.out $(PY) infra/app.py$(if $(CONFIG), -c config=$(CONFIG))
	@echo "templates:" cdk.out/*.template.json

# The one deploy path (docs/deploy.md): the CDK CLI pinned in package-lock.json (npm ci; npx
# --no-install never fetches another) deploys, diffs or destroys the assembly `make synth` made
# of CONFIG. CDK_ARGS: more CDK CLI options, e.g. --require-approval never.
CDK := npx --no-install cdk
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

cdk-cli: node_modules/.package-lock.json

bootstrap: synth cdk-cli
	$(CDK) bootstrap --app cdk.out $(CDK_ARGS)

deploy: synth cdk-cli
	$(CDK) deploy --app cdk.out $(CDK_ARGS)

diff: synth cdk-cli
	$(CDK) diff --app cdk.out $(CDK_ARGS)

destroy: synth cdk-cli
	$(CDK) destroy --app cdk.out $(CDK_ARGS)

# First the runtime dependencies for Lambda's Python, from uv.lock, once into .tools/bench/
# (a bootstrap step like `uv sync`); the benchmarks themselves stay on loopback.
bench: setup
	$(PY) -m bench.cold_start
	$(PY) -m bench

openapi: setup
	$(PY) -m devstack.openapi

lint: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) $(TOOLS) build cdk.out .pytest_cache
