# Two commands do all the set-up on a machine with only Python 3.11:
#   make demo   the main job on the embedded database
#   make test   the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench dagster install clean-db

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gdp demo

test: $(STAMP)
	$(BIN)/python -m tests.setup_browser
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/gdp bench

dagster: $(STAMP)
	$(BIN)/gdp dagster

clean-db:
	rm -rf .gdp/pgdata
