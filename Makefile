# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint typecheck contracts pytest mutation mutation-recheck bench bench-quick clean screenshots

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# `make run HOST=0.0.0.0 PORT=9000` (or those variables in the environment) to listen elsewhere.
HOST ?= 127.0.0.1
PORT ?= 8000

run: $(STAMP)
	$(BIN)/lifeline policies validate policies/
	$(BIN)/lifeline serve --demo --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The import contracts of pyproject.toml's [tool.importlinter] (layers; no SQL, HTTP or Prefect in the
# engine and the policy language; no tables in the API): a violation names the offending import.
contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck contracts pytest

# The inner loop: everything but end-to-end processes, Prefect flow runs and the PostgreSQL leg
# (`make test` and CI still run them all).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e and not prefect and not postgres" $(PYTEST_ARGS)

# Mutation testing of the engine, the history and the escalations (tests/README.md); slow, and not
# part of `make test`. MUTMUT_ARGS narrows it, e.g. MUTMUT_ARGS='sla_engine.deadlines*'.
mutation: $(STAMP)
	$(BIN)/mutmut run $(MUTMUT_ARGS)
	$(BIN)/mutmut results

mutation-recheck: $(STAMP)
	$(BIN)/python -m tests.mutation_recheck $(RECHECK_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run_all --quick

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The README's console screenshots (docs/images/*.png), made by the browser tests in headless Chromium.
screenshots: $(STAMP)
	LIFELINE_CONSOLE_SCREENSHOTS=docs/images $(BIN)/pytest tests/console/test_browser_agent.py -q
