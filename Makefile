# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEFAULT_DATA := data/cdnow/cdnow_master.parquet
DEFAULT_MAPPING := mappings/cdnow.yaml
HOST ?= 127.0.0.1
PORT ?= 3000
KEY_FILE ?= var/api-keys

.PHONY: install run key train serve test test-fast clean

install: $(STAMP)

# Idempotent: re-runs only when the dependency pins or the project metadata change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ".[test]"
	touch $(STAMP)

# Train on the bundled CDNOW data unless a champion already serves, then serve on 127.0.0.1:3000
# with API keys: the first run creates one, prints it once and keeps only its hash in $(KEY_FILE).
run: install
	$(BIN)/memberscore train --transactions $(DEFAULT_DATA) --mapping $(DEFAULT_MAPPING) --skip-if-champion
	@if [ ! -s $(KEY_FILE) ]; then \
	  echo "Your API key (shown once; send it as header X-API-Key; only its hash is kept in $(KEY_FILE)):"; \
	  $(BIN)/memberscore keys create --file $(KEY_FILE) 2>/dev/null; \
	else echo "API keys: the hashes in $(KEY_FILE) (lost yours? 'make key' adds a new one)"; fi
	MEMBERSCORE_API_KEY_FILE=$(KEY_FILE) $(BIN)/memberscore serve --host $(HOST) --port $(PORT)

# Add an API key (printed once) to $(KEY_FILE); the running service reads keys at start.
key: install
	$(BIN)/memberscore keys create --file $(KEY_FILE)

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) var mlruns
