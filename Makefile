# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEFAULT_DATA := data/cdnow/cdnow_master.parquet
DEFAULT_MAPPING := mappings/cdnow.yaml
# The demo's models and snapshots are kept apart from a user's own (project `default` or named).
DEMO_PROJECT := demo
HOST ?= 127.0.0.1
PORT ?= 3000
KEY_FILE ?= var/api-keys
ROLE ?= admin
NAME ?= $(ROLE)-$(shell date +%Y%m%d-%H%M%S)

.PHONY: install run key train serve test test-fast lint clean bench bench-wrk

install: $(STAMP)

# Idempotent: re-runs only when the dependency pins or the project metadata change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[test]"
	touch $(STAMP)

# Train on the bundled CDNOW data (project demo) unless its champion exists, then serve it on 127.0.0.1:3000
# with API keys: the first run creates one, prints it once and keeps only its hash in $(KEY_FILE).
run: install
	$(BIN)/memberscore train --project $(DEMO_PROJECT) --transactions $(DEFAULT_DATA) --mapping $(DEFAULT_MAPPING) --skip-if-champion
	@if [ ! -s $(KEY_FILE) ]; then \
	  echo "Your API key (shown once; send it as header X-API-Key; only its hash is kept in $(KEY_FILE)):"; \
	  $(BIN)/memberscore keys create --role admin --name owner --file $(KEY_FILE) 2>/dev/null; \
	else echo "API keys: the hashes in $(KEY_FILE) (lost yours? 'make key' adds a new one)"; fi
	MEMBERSCORE_API_KEY_FILE=$(KEY_FILE) $(BIN)/memberscore serve --project $(DEMO_PROJECT) --host $(HOST) --port $(PORT)

# Add an API key (printed once) to $(KEY_FILE), e.g. `make key ROLE=marketer NAME=anna`; the running
# service picks it up within a second (README, "Roles and API keys").
key: install
	$(BIN)/memberscore keys create --role $(ROLE) --name $(NAME) --file $(KEY_FILE)

# The whole suite (650 s of pytest on the older 2-core machine type at the last run, 1,008 to 1,157 s
# there before the service split; 631-677 s on a newer one with AVX-512; two pytest-xdist workers; three were no faster, both cores being 97% busy). It
# installs nothing system-wide: the browser tests need Debian's chromium and the campaign store's
# PostgreSQL (README, "Tests"; .ci/run installs them in CI). --dist loadfile keeps each test file,
# and so its module fixtures (a trained model, a running server), in one worker; with
# --no-loadscope-reorder files go out in collection order, which puts the files of a minute or
# more first (tests/conftest.py), instead of xdist's most-tests-first (the one-test Spark cluster
# file, 3 minutes, went last and ran alone). OMP_WAIT_POLICY=PASSIVE: two workers each training
# XGBoost on 2 threads share 2 cores, and OpenMP's idle threads spinning for a core the other
# worker holds cost a quarter of the CPU (six training-heavy files: 445 s -> 329 s of CPU, 238 s ->
# 180 s of wall time; a small booster on 2 threads beside a busy core: 3.9 s -> 1.4 s of CPU).
# PYTHONDONTWRITEBYTECODE= (empty: Python's default): where the environment sets it (container images
# often do), every worker and every `memberscore` or server process the tests start compiled the
# product from source and pytest re-rewrote the asserts of ~290 plugin modules (schemathesis,
# hypothesis) in each worker: collecting took 26.5 s in one process, 17.2 s with the caches written.
TEST_WORKERS ?= 2
TEST_ENV := OMP_WAIT_POLICY=PASSIVE PYTHONDONTWRITEBYTECODE=
test: install lint
	$(TEST_ENV) HYPOTHESIS_PROFILE=full $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Lint (ruff, rules in pyproject.toml) and types (mypy) with zero findings; part of `make test`.
# mypy checks every package of the product (tests and bench are not type-checked).
MYPY_PACKAGES := features models campaigns training serving cli
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_PACKAGES)

# Everything but the `slow` tests (and those that need the trained store: tests/conftest.py): the tool to
# run while working. Its goal is 2 minutes on 2 cores: 110 to 128 s on a day the whole suite took 1,008-1,148 s,
# 65-71 s on the newer machine type.
test-fast: install
	$(TEST_ENV) HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Benchmarks: bench/RESULTS.md + bench/results.json (full: about 35 minutes on 2 idle cores).
# `make bench BENCH_SCALE=small` smoke-tests every script in minutes and writes under var/bench/small.
# `make bench BENCH_SCALE=xl` (not part of the default): 100M simulated lines, every step of
# bench/growth.py (features, train with bench/xl_train.yaml, snapshot, score, serve); data and
# workspaces under var/bench/growth, results in bench/growth.* and xl_* in bench/results.json.
# Not yet completed on one 23.5 GB machine: the 100M-line file loads and its snapshot is written and served
# (20.4-22.0 GiB peak, 925-1,140 s); its train ran out of memory at 40 min (README, How big can it go).
BENCH_SCALE ?= full
bench: install
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[test,bench]"
ifeq ($(BENCH_SCALE),xl)
	$(BIN)/python -m bench.growth --sizes 100m --train-config bench/xl_train.yaml --readme README.md
else
	$(BIN)/python -m bench.run --scale $(BENCH_SCALE)
endif

# The HTTP API under wrk alone (needs Debian's wrk: `sudo apt-get install -y wrk`; part of `make bench`
# too): 3 runs x 10 s of /score (1 member, 3 reasons), /healthz and bare Starlette, on a trained workspace.
BENCH_WORK ?= var/bench/$(BENCH_SCALE)/train
bench-wrk: install
	$(BIN)/python -m bench.wrk_bench --work $(BENCH_WORK) --out var/bench/wrk

# Known vulnerabilities in every pinned dependency (constraints.txt), from PyPI's advisory data
# (needs PyPI's JSON API). pip-audit is installed on demand (extra `audit`) so `make install` and CI
# stay lean. --strict: a dependency that could not be checked fails the audit, never a silent pass.
.PHONY: audit
audit: install
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[audit]"
	$(BIN)/pip-audit --requirement constraints.txt --disable-pip --no-deps --strict --progress-spinner off

clean:
	rm -rf $(VENV) var mlruns
