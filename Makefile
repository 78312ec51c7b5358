# `make demo` and `make test` do all set-up on a fresh machine (a venv in .venv with the project installed).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install airflow demo dashboard test lint bench bench-rate bench-memory bench-deletions bench-postgres bench-webhooks \
	bench-workspaces clean vendor-uplot

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/instantly-sync demo

# the models of the warehouse (or, without one, of the demo) at http://127.0.0.1:8765/
dashboard: install
	$(BIN)/instantly-sync dashboard

# one pytest worker per core, each taking whole test files (their fixtures and simulators stay together)
test: install airflow
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto --dist loadfile

# Airflow in a venv of its own (its pins are not the project's), for the DAG's test (tests/test_airflow.py).
# Where it cannot be installed, the reason is kept in .unavailable and that test skips, saying why.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_VERSION := 3.3.2
$(AIRFLOW_VENV)/.installed: pyproject.toml
	rm -rf $(AIRFLOW_VENV) && $(PYTHON) -m venv $(AIRFLOW_VENV)
	if $(AIRFLOW_VENV)/bin/pip install --quiet 'apache-airflow==$(AIRFLOW_VERSION)' -e . \
		> $(AIRFLOW_VENV)/.unavailable 2>&1; then rm $(AIRFLOW_VENV)/.unavailable && touch $@; \
	else tail -n 5 $(AIRFLOW_VENV)/.unavailable; fi

airflow: $(AIRFLOW_VENV)/.installed

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench.throughput --leads 200000 --data both

bench-rate: install
	$(BIN)/python -m bench.ratelimited

bench-memory: install
	$(BIN)/python -m bench.memory

bench-deletions: install
	$(BIN)/python -m bench.deletions --leads 1000000

bench-postgres: install
	$(BIN)/python -m bench.postgres --leads 200000 --rounds 3

# 500 pushed webhook events/s for 60 s into `webhooks serve`, then the same with a SIGKILL halfway
bench-webhooks: install
	$(BIN)/python -m bench.webhooks --rate 500 --seconds 60

bench-workspaces: install
	$(BIN)/python -m bench.workspaces --workspaces 20 --leads 20000

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .pytest_cache .ruff_cache *.egg-info instantly_demo.duckdb .instantly_demo

# Refresh the dashboard's vendored charting library (uPlot, MIT) from the npm registry. Run by hand; the
# files are committed, so neither installing nor serving the dashboard needs npm or the network.
UPLOT_VERSION := 1.6.32
vendor-uplot:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) && tar xzf uplot-$(UPLOT_VERSION).tgz) && \
	cp $$tmp/package/dist/uPlot.iife.min.js $$tmp/package/dist/uPlot.min.css pipelines/dashboard_assets/ && \
	cp $$tmp/package/LICENSE pipelines/dashboard_assets/uPlot.LICENSE && rm -rf $$tmp
