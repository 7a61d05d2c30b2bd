# One target per chore. Every target installs what it needs on first use and is
# quick when nothing changed (the install step is skipped while pyproject.toml
# is older than the .venv stamp).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: install test test-all lint format corpus bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with its dev tools

test: $(STAMP)  ## the CI suite: everything but tests marked slow
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)  ## every test, slow ones included
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, and notebooks stored without outputs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## rewrite code in the project's style
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)  ## benchmarks that print measured ratios (not part of the tests)
	$(BIN)/python bench/data.py

clean:  ## remove caches and outputs (keeps .venv)
	rm -rf output .pytest_cache .ruff_cache .hypothesis build *.egg-info
