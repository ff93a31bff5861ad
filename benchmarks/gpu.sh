#!/usr/bin/env bash
# The H100 rows of benchmarks/README.md in one GPU-machine call of under 10 minutes.
#
#   benchmarks/gpu.sh download   # here: wheels of our tested versions for the GPU image (Python 3.12) into .whl/
#   benchmarks/gpu.sh run        # there, with .whl carried: CUDA test, generation then SFT benchmark
#
# The GPU image has torch, Triton, accelerate and peft but older transformers and no datasets, trl or pymorphy3, and
# cannot reach PyPI: the wheels travel with the working tree (~31 MB; it must stay under the 64 MiB a call carries).
# `run` writes generation.json, sft.json and a log per step to $OUT (or runs/bench) and keeps going when a step fails.
set -uo pipefail
cd "$(dirname "$0")/.."

# what the GPU image lacks or has in another version, pinned to what this project is tested with (.venv)
PACKAGES="transformers trl peft datasets tokenizers pymorphy3 pymorphy3-dicts-ru dawg2-python rapidfuzz multiprocess dill"

download() {
    local py=${PYTHON:-.venv/bin/python} specs=()
    for name in $PACKAGES; do
        specs+=("$name==$("$py" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")") || exit 1
    done
    rm -rf .whl && "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "${specs[@]}" || exit 1
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    du -sh .whl
}

run() {
    local out=${OUT:-runs/bench}
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu.sh: cannot install the carried wheels (run 'benchmarks/gpu.sh download' here first)"; exit 2; }
    export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
    python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)" | tee -a "$out/gpu.txt"
    # the varlen kernel keeps packed documents apart (the SFT path's correctness on CUDA)
    timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_sft.py -k sdpa_varlen 2>&1 | tail -3 | tee "$out/cuda_test.log"
    # without `continuous` (transformers' own continuous batching, ~1k tokens/s: 2 of the 4 minutes)
    timeout 270 python3 benchmarks/generation_throughput.py --model-shape llama-2-7b --device cuda --num-prompts 512 \
        --paths reference plain ours > "$out/generation.json" 2> "$out/generation.log"; echo "generation: exit $?"; cat "$out/generation.json"
    timeout 180 python3 benchmarks/sft_throughput.py --model-shape llama-2-7b --device cuda --steps 20 \
        > "$out/sft.json" 2> "$out/sft.log"; echo "sft: exit $?"; cat "$out/sft.json"
}

case "${1:-}" in
    download) download ;;
    run) run ;;
    *) echo "usage: benchmarks/gpu.sh download|run" >&2; exit 2 ;;
esac
