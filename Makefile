# `make demo` and `make test` do all set-up on a fresh machine (a venv in .venv with the project installed).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/instantly-sync demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench.throughput --leads 200000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info instantly_demo.duckdb .instantly_demo
