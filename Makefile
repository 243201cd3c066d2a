# Two commands do all the set-up on a machine with only Python 3.11:
#   make demo   the main job on the embedded database
#   make test   the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench dagster install clean-db audit lint

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,spark]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gdp demo

test: $(STAMP) lint
	$(BIN)/python -m tests.setup_browser
	$(BIN)/python -m pytest -q

# Everyday subset: ruff and every test but those marked slow (soak, crash-kill loops, fuzz,
# end-to-end, demo, browser, whole dbt builds) and the Spark warehouse tests, one worker per core
# (pytest-xdist; whole files per worker, so a module's dbt build runs once). CI runs `make test`
# (serial, sqlfluff included); run `make lint` before a pull request.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not spark" -n auto --dist loadfile

# Python (ruff) and the dbt project's SQL (sqlfluff, .sqlfluff at the dbt root).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint models tests/dbt --processes 2

# Vulnerability audit of every installed dependency (PyPI's advisory data; --strict fails when a
# package could not be looked up, so "no known vulnerabilities" always means "all were checked"),
# then the linter CI runs.
audit: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,spark,audit]'
	$(BIN)/pip-audit --vulnerability-service pypi --skip-editable --strict --progress-spinner off
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/gdp bench

dagster: $(STAMP)
	$(BIN)/gdp dagster

clean-db:
	rm -rf .gdp/pgdata
