# One entry point for a fresh machine: `make demo` (main job, embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-all bench

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build (README, "Install").
$(BIN)/medsyn: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/medsyn

demo: install
	$(BIN)/medsyn kg stats --json
	$(BIN)/medsyn priors --n 1000 --seed 0 --out $(RUN)/priors --json
	@echo "priors: $(RUN)/priors  (datasets.load_from_disk('$(RUN)/priors'))"

test: install
	$(BIN)/python -m pytest -q

test-all: install
	$(BIN)/python -m pytest -q -m ""

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done
