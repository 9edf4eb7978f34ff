# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEFAULT_DATA := data/cdnow/cdnow_master.parquet
DEFAULT_MAPPING := mappings/cdnow.yaml
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: install run train serve test test-fast clean

install: $(STAMP)

# Idempotent: re-runs only when the dependency pins or the project metadata change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[test]"
	touch $(STAMP)

# Train on the bundled CDNOW data unless a champion already serves, then serve on 127.0.0.1:3000.
run: install
	$(BIN)/memberscore train --transactions $(DEFAULT_DATA) --mapping $(DEFAULT_MAPPING) --skip-if-champion
	$(BIN)/memberscore serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) var mlruns
