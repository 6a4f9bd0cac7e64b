# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Days of finished past studies for indicators and the capacity planner (seed_demo --history-days).
HISTORY_DAYS ?= 14

.PHONY: install run test lint format migrate demo clean bench

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --history-days $(HISTORY_DAYS) --host $(HOST) --port $(PORT)
	$(PY) manage.py keep_indicator_days  # the history's closed days counted once (docs/indicators.md)

run: demo
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports  # the app boundaries (pyproject.toml); also a test: tests/test_import_boundaries.py

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

bench: install
	$(PY) benchmarks/run.py
