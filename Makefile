# Two commands on a fresh machine: `make serve` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS_DIR ?= models

.PHONY: serve test train-all lint audit bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The service alone: no torch.
$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Training and tests: torch first, the CPU build unless there is a GPU (see scripts/install-torch.sh).
$(VENV)/.torch-installed: scripts/install-torch.sh | $(BIN)/python
	scripts/install-torch.sh $(BIN)/pip
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $@ $(VENV)/.serve-installed

serve: $(VENV)/.serve-installed
	$(BIN)/python -m service --models-dir $(MODELS_DIR) --host $(HOST) --port $(PORT)

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

train-all: $(VENV)/.dev-installed
	$(BIN)/python -m training train-all --models-dir $(MODELS_DIR)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies (needs PyPI's JSON API or OSV online).
audit: $(VENV)/.dev-installed
	$(BIN)/pip install -q 'pip-audit>=2.7'
	$(BIN)/pip-audit --strict --skip-editable

# Serving figures against same-run baselines (needs wrk: apt-get install wrk); see BENCHMARKS.md.
bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

# The same, with the issue's peers (KServe, MLServer, Mosec) in .peers/, one venv each.
bench-peers: $(VENV)/.dev-installed
	$(BIN)/python -m bench.peers .peers
	$(BIN)/python -m bench --peers .peers

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
