# The two set-up commands are `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
STAMP := $(VENV)/.installed

# make run is a development server: debug mode unless the environment says otherwise.
export DJANGO_DEBUG ?= true

.PHONY: run test install sysdeps messages lint format check-migrations browserdeps

$(STAMP): requirements.txt requirements-dev.txt
	@scripts/sysdeps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) messages

messages: $(STAMP)
	$(MANAGE) compilemessages -v0 --ignore=.venv

## Install, migrate, create the admin account, load demo data, start web + worker + beat.
## Demo mode: beat's demo job (demo/schedules.py) keeps the demo data moving.
run: export DEMO_MODE ?= true
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) setup_roles
	$(MANAGE) setup_periodic_tasks -v0
	$(MANAGE) ensure_admin
	$(MANAGE) seed_demo
	@echo "Admin: http://127.0.0.1:8000/admin/  (Ctrl-C stops web, worker and beat)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

## Install and run the whole suite.
test: install browserdeps
	$(BIN)/pytest

# --- Browser tests (console): Debian's Chromium, driven by Playwright for Python. ---
# Installed with apt-get when root; never `playwright install`. Without Chromium the
# browser tests skip with a reason, except in CI (CI=true), where they must run.
browserdeps:
	@scripts/browserdeps.sh
# --- end of browser tests block ---

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-migrations: $(STAMP)
	$(MANAGE) makemigrations --check --dry-run

# --- Benchmarks (scripts that print their figures; see README.md) ------------------------
.PHONY: bench-pipeline bench-pipeline-floor bench-billing bench-renewal
BENCH_N ?= 1000
BENCH_RENEWAL_N ?= 100000

## BENCH_N create_vm operations end to end, against the same number of no-op messages.
bench-pipeline: install
	$(MANAGE) migrate --noinput -v0
	$(BIN)/python scripts/bench_pipeline.py --n $(BENCH_N)

## The floor of that ratio: BENCH_N chains of 15 messages doing one guarded UPDATE each.
bench-pipeline-floor: install
	$(MANAGE) migrate --noinput -v0
	$(BIN)/python scripts/bench_pipeline_floor.py --n $(BENCH_N)

## N usage samples (default 1,000,000) for R resources (default 10,000) charged for one period.
bench-billing: install
	$(MANAGE) migrate --noinput -v0
	$(BIN)/python scripts/bench_billing.py $(if $(N),--samples $(N)) $(if $(R),--resources $(R))

## BENCH_RENEWAL_N due sub-orders renewed by one run, against a baseline of N/10 in the same run.
bench-renewal: install
	$(BIN)/python scripts/bench_renewal.py --n $(BENCH_RENEWAL_N)
