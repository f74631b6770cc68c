# Developer entry points: `make run` serves on 127.0.0.1:8080 (SQLite), `make test` runs everything.
# Both create .venv when missing and (re)install the project only when pyproject.toml changed.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Content hash of pyproject.toml: a changed file means a new stamp name, hence a reinstall.
HASH := $(shell $(PYTHON) -c "import hashlib,sys; print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:12])")
STAMP := $(VENV)/.installed-$(HASH)
STAMP_TEST := $(VENV)/.installed-test-$(HASH)

DATABASE_URL ?= sqlite+aiosqlite:///./eolc.db
ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run test lint openapi bench docker clean help

help:
	@echo "make run      install if needed, migrate, load a demo region on first start, serve on 127.0.0.1:8080"
	@echo "make test     install with test extras if needed and run the whole suite (PostgreSQL included)"
	@echo "make lint     ruff and import-linter contracts"
	@echo "make openapi  regenerate openapi/openapi.json"
	@echo "make bench    read/create benchmark against a bare baseline (bench/results/)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

# First start: a small synthetic region (skipped once the database holds an Organization).
run: $(STAMP)
	$(BIN)/eolc-fhir demo --if-empty --patients 200 --database-url '$(DATABASE_URL)'
	EOLC_DEMO_CLIENTS=$${EOLC_DEMO_CLIENTS:-1} $(BIN)/eolc-fhir serve --database-url '$(DATABASE_URL)' $(ARGS)

test: $(STAMP_TEST)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

# Written to a temporary file first so that a failing command never truncates the document.
openapi: $(STAMP)
	$(BIN)/eolc-fhir openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

docker:
	docker build -t eolc-fhir .

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
