# Two commands on a fresh machine: `make serve` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS_DIR ?= models

.PHONY: serve test browser train train-all outside-digits torchrun lint audit bench bench-defaults bench-peers grpc-code clean

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

# Training alone (no test tools): `make train` after `make serve` adds it to the same .venv.
$(VENV)/.train-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/pip install -q -e '.[train]'
	touch $@ $(VENV)/.serve-installed

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $@ $(VENV)/.serve-installed $(VENV)/.train-installed

serve: $(VENV)/.serve-installed
	$(BIN)/python -m service --models-dir $(MODELS_DIR) --host $(HOST) --port $(PORT)

# The suite on every core, then what measures latency or memory under load, alone. Exit
# status 5 is pytest's "no test selected": PYTEST_ARGS may pick tests of one kind only.
test: $(VENV)/.dev-installed browser
	$(BIN)/python -m pytest -n auto -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The page's tests drive Debian's chromium through its chromedriver (never a downloaded browser).
# As root with apt-get (CI, containers) they are installed here; elsewhere the tests skip, saying so.
CHROMIUM_PACKAGES := chromium chromium-driver fonts-liberation
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing $(CHROMIUM_PACKAGES) for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null; \
	else \
	  echo "make: no chromium: the browser tests will skip (sudo apt-get install $(CHROMIUM_PACKAGES))"; \
	fi

# The training CLI: `make train ARGS="train mnist --epochs 5"` (its --help without ARGS).
train: $(VENV)/.train-installed
	$(BIN)/python -m training $(or $(ARGS),--help)

train-all: $(VENV)/.train-installed
	$(BIN)/python -m training train-all --models-dir $(MODELS_DIR)

# The digit models on digits nobody here wrote (scikit-learn's UCI set), read as uploads.
outside-digits: $(VENV)/.train-installed
	$(BIN)/python -m bench.outside_digits --models-dir $(MODELS_DIR)

# Data-parallel training on this machine: `make torchrun NPROC=2 ARGS="train mnist"`.
NPROC ?= 2
torchrun: $(VENV)/.train-installed
	$(BIN)/torchrun --nproc_per_node=$(NPROC) -m training $(or $(ARGS),train mnist)

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

# What the defaults cost: access log and gRPC on, each off, both off, against the raw ASGI sink.
bench-defaults: $(VENV)/.dev-installed
	$(BIN)/python -m bench.defaults

# The same as bench, with the issue's peers (KServe, MLServer, Mosec) in .peers/, one venv each.
bench-peers: $(VENV)/.dev-installed
	$(BIN)/python -m bench.peers .peers
	$(BIN)/python -m bench --peers .peers

# service/grpc/generated from the vendored .proto files (committed; tests check they agree).
grpc-code: $(VENV)/.dev-installed
	$(BIN)/python scripts/generate_grpc_code.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
