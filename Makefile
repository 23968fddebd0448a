# Two commands: `make run` (install + serve on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install install-test ingest eval bench lint clean

# The stamp files re-run an install only when pyproject.toml changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }
	# llama-cpp-python compiles from source the first time (about 5 minutes on 2 cores), then pip's cache serves it.
	$(BIN)/pip install -e '.[test,llm,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest

ingest: install
	$(BIN)/rag ingest

eval: install
	$(BIN)/rag eval

bench: install-test
	$(BIN)/rag bench

lint: install-test
	$(BIN)/ruff check rag api eval tests
	$(BIN)/mypy rag api eval tests

clean:
	rm -rf index .pytest_cache test-artifacts
