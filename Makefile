# Two commands on a fresh machine: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
DEVNET_ARGS ?=

.PHONY: install run test unit e2e chaos bench lint services-install clean help

help:
	@echo "make run      install and run the devnet: recorded L2 blocks settled on a local L1"
	@echo "make test     install, start the real test services, run the whole suite"
	@echo "make unit     unit tests only (no services)"
	@echo "make e2e      only the whole-devnet runs marked e2e (aws profile, L3; a few minutes; also in make test)"
	@echo "make chaos    the chaos scenarios (issue 9; tens of minutes): faults injected into the devnet pipeline"
	@echo "make bench    benchmarks (prints tables)"
	@echo "make lint     ruff, mypy, import-linter"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

services-install: install
	bash scripts/install-test-services.sh

# The devnet: anvil with the test core contract, the recorded L2 blocks, and the orchestrator on the
# local profile settling them through the whole pipeline. DEVNET_ARGS="--blocks 4 --until-settled" to stop.
run: install
	bash scripts/install-node-tools.sh
	$(BIN)/python -m infra.devnet $(DEVNET_ARGS)

test: services-install
	CI=$${CI:-} $(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

# Whole devnet runs (tests marked e2e): the aws profile one starts its own LocalStack and MongoDB server.
e2e: services-install
	CI=$${CI:-} $(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

# One scenario at a time (each runs the whole devnet); see RELIABILITY.md.
chaos: install
	bash scripts/install-node-tools.sh
	CHAOS=1 $(BIN)/pytest tests/chaos -s $(PYTEST_ARGS)

# BENCH_ARGS="--only queries" (or latency, reference, throughput, da, engine) runs parts; see BENCHMARKS.md.
bench: install
	bash scripts/install-node-tools.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check orchestrator tests bench infra scripts
	$(BIN)/ruff format --check orchestrator tests bench infra scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) infra/.services .orchestrator
