"""Does the packaged `medsyn-tiny` writer follow its prompts? Symptom recall, share kept, copy ratio, held-out priors.

    python benchmarks/tiny_writer.py [--n 200] [--seed 1000] > benchmarks/tiny_writer.json

Prints one JSON line. Steps:
1. Priors from our sampler with the tiny generate recipe's policy (recipes/tiny/generate/config.yaml), seeded:
   a pool of 10 x n draws split into codes the writer saw a GPT note of and codes it did not, then the first n/2 of
   each group. Sampled priors are never training rows: the writer's note-writing rows are GPT notes' own priors.
2. `medsyn generate --config recipes/tiny/generate/config.yaml --dataset_name <those priors>`: the packaged writer
   at the recipe's sampling settings and *default* filter thresholds; each note's filter scores come from the run.
3. Mean symptom recall, share kept, and copy ratio to the example note (priors that carry one), overall and per
   group; the MedSyn GPT notes' copy ratio to an example note of their category is measured with the same function
   (``medsyn_hf.filters.copy_ratio``, n-grams made only of the prompted symptoms' words not counted) in the same run
   as the reference the writer must not exceed.
Speeds are not measured here (the notes/s of the run is printed for information only).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "tiny" / "generate" / "config.yaml"
NOTES = ROOT / "data" / "sources" / "medsyn_gpt_notes" / "notes.jsonl.gz"
POLICY = {
    "priors_mode": "mode",
    "example_p": "example_p",
    "priors_temperature": "temperature",
    "priors_top_k": "top_k",
    "priors_source_weights": "source_weights",
    "priors_inherit": "inherit",
}


def held_out_priors(n: int, seed: int, recipe: dict, note_codes: set[str]):
    """n priors, half of codes with a GPT note (seen in training) and half of codes without, from one seeded draw."""
    from medsyn_hf.kg import load_graph
    from medsyn_hf.priors import sample_priors

    options = {POLICY[k]: v for k, v in recipe.items() if k in POLICY}
    pool = sample_priors(load_graph(), 10 * n, seed=seed, **{**options, "mode": "random"})
    seen = np.array([c in note_codes for c in pool["code"]])
    half = n // 2
    rows = np.concatenate([np.flatnonzero(seen)[:half], np.flatnonzero(~seen)[: n - half]])
    counts = {"seen_code": int(seen[rows].sum()), "unseen_code": int((~seen[rows]).sum())}
    return pool.select(sorted(rows.tolist())), counts


def gpt_copy_ratio(seed: int) -> dict:
    """Copy ratio of each GPT note to a RuMedTop3 train note of its category, as the priors' examples are drawn (its
    own prompted symptoms' n-grams not counted, as the filter column does for the writer's notes)."""
    from medsyn_hf.filters import copy_ratio
    from medsyn_hf.priors.resources import load_examples

    examples = load_examples().to_pydict()
    by_category: dict[str, list[str]] = {}
    for code, text in zip(examples["code"], examples["text"]):
        by_category.setdefault(code, []).append(text)
    rng = np.random.default_rng(seed)
    ratios, strict = [], []
    with gzip.open(NOTES, "rt", encoding="utf-8") as f:
        for note in map(json.loads, f):
            pool = by_category.get(note["icd10"].strip()[:3])
            if pool:
                example = pool[rng.integers(len(pool))]
                ratios.append(copy_ratio(note["response"], example, 5, note["symptoms"]))
                strict.append(copy_ratio(note["response"], example))
    return {"notes": len(ratios), "mean": round(float(np.mean(ratios)), 7), "strict": round(float(np.mean(strict)), 7)}


def summary(notes: dict, mask: np.ndarray) -> dict | None:
    from medsyn_hf.filters import copy_ratio

    if not mask.any():
        return None
    has_example = mask & np.array(notes["example"], dtype=bool)
    recall = np.array(notes["symptoms_recall"], dtype=float)
    # the filter column, and strictly: every shared 5-gram, a prompted symptom's words too (the privacy report's
    # figure); 7 decimals: the GPT notes' mean is ~4e-6, which 4 decimals would show as a tie at 0.0000
    column = np.array(notes["copy_ratio"], dtype=float)[has_example]
    strict = [copy_ratio(t, e) for t, e, m in zip(notes["response"], notes["anamnesis"], has_example) if m]
    return {
        "notes": int(mask.sum()),
        "mean_symptom_recall": round(float(recall[mask].mean()), 4),
        "kept_share": round(float(np.array(notes["keep"])[mask].mean()), 4),
        "mean_words": round(float(np.mean([len(t.split()) for t, m in zip(notes["response"], mask) if m])), 1),
        "copy_ratio_to_example": round(float(column.mean()), 7) if strict else None,
        "notes_with_example": int(has_example.sum()),
        "copy_ratio_strict": round(float(np.mean(strict)), 7) if strict else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000, help="priors seed (the recipe's own run uses 0)")
    parser.add_argument("--model", help="another writer folder (default: the recipe's, i.e. medsyn-tiny)")
    parser.add_argument(
        "--decoding", choices=("auto", "generate"), help="the transformers backend's path (default: the recipe's)"
    )
    args = parser.parse_args()

    import datasets

    from medsyn_hf.tiny_model import resolve_model

    datasets.disable_progress_bars()
    recipe = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    with gzip.open(NOTES, "rt", encoding="utf-8") as f:
        note_codes = {json.loads(line)["icd10"].strip() for line in f}
    priors, groups = held_out_priors(args.n, args.seed, recipe, note_codes)
    model = resolve_model(args.model or recipe["model_name_or_path"])
    with tempfile.TemporaryDirectory() as tmp:
        priors.to_parquet(f"{tmp}/priors.parquet")
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "medsyn_hf.cli",
                "generate",
                "--config",
                str(RECIPE),
                "--dataset_name",
                f"{tmp}/priors.parquet",
                "--output_dir",
                f"{tmp}/gen",
                "--model_name_or_path",
                model,
                *(["--decoding", args.decoding] if args.decoding else []),
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        notes = datasets.Dataset.from_parquet(f"{tmp}/gen/latest/notes.parquet").to_dict()
    seen = np.array([c in note_codes for c in notes["ICD-10"]])
    print(
        json.dumps(
            {
                "model": Path(model).name,
                "priors": {"n": len(priors), "seed": args.seed, **groups},
                "generation": {
                    **{k: recipe.get(k) for k in ("max_new_tokens", "temperature", "top_k", "top_p", "seed")},
                    **({"decoding": args.decoding} if args.decoding else {}),
                },
                "all": summary(notes, np.ones(len(seen), dtype=bool)),
                "seen_code": summary(notes, seen),
                "unseen_code": summary(notes, ~seen),
                "gpt_notes_copy_ratio_to_example": gpt_copy_ratio(args.seed),
                "notes_per_second": round(len(seen) / seconds, 2),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
