"""GPU memory and training hours of every LoRA recipe (recipes/*/sft/config_lora.yaml), computed by
`medsyn_hf.training.gpu_estimate` (what it counts and assumes: its docstring); prints one JSON line, or README's
table rows with --markdown (tests/test_gpu_estimate.py checks that README shows exactly these rows).

    python benchmarks/gpu_estimate.py [--markdown]

Each recipe as written (its per-device batch and max_length, bf16, LoRA), and the same recipe with its commented
QLoRA option (`load_in_4bit: true`); hours only for the bf16 recipe (QLoRA's dequantisation was not measured).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

from medsyn_hf.training.gpu_estimate import (
    CHARS_PER_TOKEN,
    IFT_CHARACTERS,
    IFT_EXAMPLES,
    MEASURED,
    TEMPLATE_TOKENS,
    assumed_mfu,
    estimate,
)
from medsyn_hf.training.sft import parse_args

REPO = Path(__file__).resolve().parents[1]


def estimates() -> list:
    """(bf16 estimate, QLoRA estimate) for each LoRA recipe, in recipe order."""
    found = []
    for config in sorted((REPO / "recipes").glob("*/sft/config_lora.yaml")):
        _, training_args, model_args = parse_args(["--config", str(config), "--use_cpu", "true"])
        name = config.relative_to(REPO).as_posix()
        qlora = replace(model_args, load_in_4bit=True)
        found.append((estimate(name, model_args, training_args), estimate(name, qlora, training_args)))
    return found


def markdown_rows() -> list[str]:
    rows = []
    for bf16, qlora in estimates():
        rows.append(bf16.row())
        rows.append(qlora.row(label="QLoRA (`load_in_4bit: true`)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="README's table rows instead of JSON")
    args = parser.parse_args()
    if args.markdown:
        print("\n".join(markdown_rows()))
        return
    report = {
        "assumptions": {
            "ift_examples": IFT_EXAMPLES,
            "ift_characters": IFT_CHARACTERS,
            "chars_per_token": CHARS_PER_TOKEN,
            "template_tokens_per_example": TEMPLATE_TOKENS,
            "measured": MEASURED,
            "mfu": round(assumed_mfu(), 3),
        },
        "recipes": [{"bf16": asdict(bf16), "qlora": asdict(qlora)} for bf16, qlora in estimates()],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
