# One entry point for a fresh machine: `make demo` (main job, embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
# The PyTorch build: TORCH_SPEC from TORCH_INDEX (unset: pip's own index; here a local CPU wheel answers it). On an
# ordinary Linux machine PyPI's wheel is the CUDA build; the CPU one: TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo space test test-all bench quality format

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build (README, "Install").
$(BIN)/medsyn: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) )"$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/medsyn

# The main job on the embedded default: MKG -> instruction data -> SFT of the packaged pretrained writer medsyn-tiny
# -> priors + generation -> filters at their default thresholds -> dataset.
demo: install
	$(BIN)/medsyn kg stats --json
	$(BIN)/medsyn ift build --out $(RUN)/ift --decontaminate data/sources/rumedtop3/dev_v1.jsonl --json
	$(BIN)/medsyn sft --config recipes/tiny/sft/config.yaml --dataset_name $(RUN)/ift --output_dir $(RUN)/sft
	$(BIN)/accelerate launch --config_file recipes/accelerate_configs/cpu.yaml recipes/generate.py \
	    --config recipes/tiny/generate/config.yaml --model_name_or_path $(RUN)/sft --output_dir $(RUN)/generate
	$(BIN)/medsyn publish $(RUN)/generate/latest --out $(RUN)/ru-notes --json
	@echo
	@echo "Synthetic notes dataset: $(RUN)/ru-notes  (card: $(RUN)/ru-notes/README.md)"
	@echo "  $(BIN)/python -c \"from datasets import load_dataset; print(load_dataset('$(RUN)/ru-notes'))\""
	@echo "Explore it in the Space: $(BIN)/python spaces/medsyn-demo/app.py --data-dirs runs"

# The demo Space with the model `make demo` trained, as a self-contained Space repository (to push: README).
space: install
	$(BIN)/python spaces/medsyn-demo/deploy.py --out $(RUN)/space --model $(RUN)/sft

# Lint and format at 119 columns (settings: pyproject.toml [tool.ruff]) and the import layers (pyproject.toml
# [tool.importlinter]: no upward import, no cycle); CI runs it before the tests.
quality: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite on every core, at most 4 workers (pytest-xdist): a test module, or a test class (tests/test_readme.py: a
# README section), per worker at a time; session fixtures are built once for all workers (tests/conftest.py).
PYTEST_N := -n logical --maxprocesses 4 --dist loadscope

test: install
	$(BIN)/python -m pytest -q $(PYTEST_N)

test-all: install
	$(BIN)/python -m pytest -q -m "" $(PYTEST_N)

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done
