# Everything a person or CI types. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c $(CONSTRAINTS)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=python3.x (3.11+)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) -e '.[dashboard]'
	@touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) -e '.[dev,s3,mysql,postgres,airflow,celery,dashboard]'
	@touch $@

.PHONY: install
install: $(VENV)/.core ## Create .venv and install the package (locked versions)

.PHONY: install-dev
install-dev: $(VENV)/.dev ## Install everything the tests, lint and benchmarks need

.PHONY: demo
demo: $(VENV)/.core ## Run the whole pipeline on a simulated week (no credentials, no network)
	$(BIN)/spotify-pipeline demo

.PHONY: services
services: ## Start what the tests need (MariaDB, PostgreSQL, Redis; chromium) if it is not there
	@scripts/ensure-services.sh

.PHONY: test
test: $(VENV)/.dev services ## Install, start services, run every test
	$(BIN)/python -m pytest -q -p no:cacheprovider

.PHONY: lint
lint: $(VENV)/.dev ## ruff (lint, format, the AIR3 rules on the DAGs), mypy (strict), lint-imports (the layers)
	$(BIN)/ruff check src tests dags bench
	$(BIN)/ruff format --check src tests dags bench
	$(BIN)/ruff check dags --select AIR3
	$(BIN)/mypy
	PYTHONPATH=src $(BIN)/lint-imports

.PHONY: bench
bench: $(VENV)/.dev services ## Run the benchmarks; results in bench/results/latest.json
	$(BIN)/python -m bench

.PHONY: bench-scale
bench-scale: $(VENV)/.dev services ## Airflow at scale: 5 listeners x 7 simulated days, Celery (2 workers) vs LocalExecutor
	$(BIN)/python -m bench.scale

.PHONY: airflow
airflow: $(VENV)/.dev ## Airflow (api-server, scheduler, dag-processor, triggerer) on 127.0.0.1:8080 with these DAGs and a simulator
	scripts/airflow-standalone.sh

.PHONY: lock
lock: ## Re-resolve and write constraints.txt (the lock) from a fresh venv
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q -e '.[dev,s3,mysql,postgres,airflow,celery]'
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > $(CONSTRAINTS)
	rm -rf .venv-lock

.PHONY: clean
clean: ## Remove the venv, the caches and the demo's data (never ./data: collected plays live there)
	rm -rf $(VENV) data/demo .pytest_cache .mypy_cache .ruff_cache
