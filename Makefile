# Formloom: `make demo` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PY      = $(BIN)/python
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST   ?= 127.0.0.1
PORT   ?= 5000
# pytest-xdist workers for `make test` and `make test-postgres` (auto: one per core; 0: in this process)
TEST_WORKERS ?= auto
PYTEST  = $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: demo test test-postgres bench bench-quick bench-api100k bench-transfer bench-dashboard soak soak-quick clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(PY) -m pip install --quiet -e ".[test,postgres]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/formloom demo --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(PYTEST)

test-postgres: $(VENV)/.installed
	FORMLOOM_TEST_DATABASE_URL=$(PG_URL) $(PYTEST) -m "not browser and not slow" tests/store tests/web tests/auth \
		tests/workflow tests/automation tests/dashboards tests/transfer tests/design tests/test_cli.py \
		tests/test_cli_tokens.py tests/test_cli_automation.py tests/test_cli_backup.py tests/test_cli_copy.py \
		tests/test_shutdown.py tests/test_demo.py

bench: $(VENV)/.installed
	$(PY) -m benchmarks.run

bench-quick: $(VENV)/.installed
	$(PY) -m benchmarks.run --quick

# the JSON API at 100k vs 10k with a worker running, the event backlog, PostgreSQL vs SQLite (DB_API=sqlite|postgres|both)
DB_API ?= both
bench-api100k: $(VENV)/.installed
	$(PY) -m benchmarks.api_scale --db $(DB_API) --out benchmarks/results/api100k.json

# import_rows_per_s (100k CRM opportunity rows) and export_1m_s (CSV and XLSX) alone, on DB=sqlite|postgres
DB ?= sqlite
bench-transfer: $(VENV)/.installed
	$(PY) -m benchmarks.transfer suite --db $(DB)

# The reliability suite: kill -9, concurrent writers, a cut database (loopback only; a few minutes).
soak: $(VENV)/.installed
	$(PY) -m soak

soak-quick: $(VENV)/.installed
	$(PY) -m soak --quick
# the CRM sales dashboard over ROWS opportunities vs hand-written SQL (benchmarks/dashboard.py)
ROWS ?= 100000
bench-dashboard: $(VENV)/.installed
	$(PY) -m benchmarks.dashboard --rows $(ROWS)

clean:
	rm -rf $(VENV) instance .pytest_cache dist build
