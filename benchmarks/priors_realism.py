"""Priors realism: symptom attestation in real RuMedTop3 notes and symptom-set diversity, today's draw vs the new one.

    python benchmarks/priors_realism.py [--n 5000] [--seed 0] > benchmarks/priors_realism.json

Prints one JSON line. Steps, in this order:
1. ``medsyn_compatible`` (MedSyn's draw: every MKG symptom, softmax(weight / 10)): train attestation and diversity.
2. A grid of symptom policies (temperature, rumedtop3_train and hsdn source weights, subcode inheritance, top-k),
   each measured on **train** attestation and diversity only. Choice: the best train attestation among the policies
   keeping at least ``--min-distinct`` (0.9) of today's distinct symptom sets per code; ties -> lower Jaccard.
   ``chosen_is_default`` says whether the package's defaults (``medsyn_hf.priors.symptoms.DEFAULTS``) are that choice.
3. Only then, once, dev attestation of today's draw and of the defaults (dev never feeds anything else).
Also: what codes without real notes get under the defaults (they keep drawing symptoms), a few examples.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from medsyn_hf.kg import load_graph
from medsyn_hf.priors import sample_priors
from medsyn_hf.priors.realism import read_notes, realism, train_notes
from medsyn_hf.priors.symptoms import DEFAULTS

DEV = Path(__file__).resolve().parents[1] / "data" / "sources" / "rumedtop3" / "dev_v1.jsonl"
GRID = {
    "temperature": (1.0, 2.0, 3.0, 5.0, 10.0),
    "rumedtop3_train": (1.0, 2.0, 4.0),
    "hsdn": (1.0, 0.25),
    "inherit": (0.0, 0.5, 1.0),
    "top_k": (0, 20),
}


def policy(temperature, rumedtop3_train, hsdn, inherit, top_k) -> dict:
    return {
        "temperature": temperature,
        "top_k": top_k,
        "min_weight": 0.0,
        "inherit": inherit,
        "source_weights": {"hsdn": hsdn, "rumedtop3_train": rumedtop3_train},
    }


def figures(result: dict) -> dict:
    return {
        "attestation": result["attestation"]["share"],
        "priors_with_notes": result["attestation"]["priors"],
        "distinct_sets_per_code": result["diversity"]["distinct_sets_per_code"],
        "mean_pairwise_jaccard": result["diversity"]["mean_pairwise_jaccard"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="plan-mode priors per policy (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-distinct",
        type=float,
        default=0.9,
        help="least share of today's distinct symptom sets per code a choice keeps (default: 0.9)",
    )
    args = parser.parse_args()

    import datasets

    datasets.disable_progress_bars()
    start = time.perf_counter()
    kg, train = load_graph(), train_notes()
    today = sample_priors(kg, args.n, seed=args.seed, medsyn_compatible=True)
    baseline = figures(realism(today, train))
    grid = []
    for values in itertools.product(*GRID.values()):
        options = policy(*values)
        grid.append(
            {"policy": options, **figures(realism(sample_priors(kg, args.n, seed=args.seed, **options), train))}
        )
    floor = args.min_distinct * baseline["distinct_sets_per_code"]
    eligible = [g for g in grid if g["distinct_sets_per_code"] >= floor]
    chosen = max(eligible, key=lambda g: (g["attestation"], -g["mean_pairwise_jaccard"]))

    new = sample_priors(kg, args.n, seed=args.seed)  # the package's defaults
    dev = read_notes(DEV)  # measured once, after every choice
    no_notes = new.filter(lambda category: category not in train, input_columns="category")
    lengths = np.array([len(s) for s in no_notes["symptoms"]])
    print(
        json.dumps(
            {
                "n": args.n,
                "seed": args.seed,
                "mode": "plan",
                "train_notes": len(train),
                "dev_notes": len(dev),
                "today": {**baseline, "dev_attestation": realism(today, dev)["attestation"]["share"]},
                "new": {
                    **figures(realism(new, train)),
                    "dev_attestation": realism(new, dev)["attestation"]["share"],
                    "policy": DEFAULTS,
                },
                "chosen": chosen,
                "chosen_is_default": chosen["policy"] == DEFAULTS,
                "distinct_floor": round(floor, 4),
                "grid_size": len(grid),
                "codes_without_notes": {
                    "priors": no_notes.num_rows,
                    "codes": len(set(no_notes["code"])),
                    "symptoms_per_prior_min": int(lengths.min()),
                    "symptoms_per_prior_mean": round(float(lengths.mean()), 2),
                    "examples": [
                        {"code": r["code"], "name": r["code_name_ru"], "symptoms": r["symptoms"]}
                        for r in no_notes.select(range(0, no_notes.num_rows, no_notes.num_rows // 4))
                    ][:4],
                },
                "grid": grid,
                "seconds": round(time.perf_counter() - start, 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
