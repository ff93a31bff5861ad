"""Priors throughput: the vectorised sampler vs a straightforward per-record sampler over the same MKG, in one run.

    python benchmarks/priors.py [--n 60000] [--baseline-n 3000] [--repeats 3]

Prints one JSON line. Both samplers use the packaged MKG, the same code weights and the same templates; the baseline
draws each record with numpy calls and renders it with ``render_messages``, then builds the Dataset from row dicts.
(MedSyn's own sampler, a pandas query per sample, draws about 600 priors/s on the 2-core development machine.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from medsyn_hf.demographics import LOCATIONS, SEXES, load_demographics
from medsyn_hf.kg import load_graph
from medsyn_hf.priors import EXAMPLE_SOURCE, build_pool, load_examples, sample_priors
from medsyn_hf.prompts import DEFAULT_MIX, render_messages


def per_record(kg, n: int, seed: int = 0, min_age: int = 18, temperature: float = 10.0, example_p: float = 0.5):
    """One record at a time, the way MedSyn's sampler works (location, sex, age, then code, symptoms, example)."""
    from datasets import Dataset

    from medsyn_hf.schemas import PRIORS_FEATURES

    rng = np.random.default_rng(seed)
    pool, demo = build_pool(kg), load_demographics()
    examples = load_examples().to_pydict()
    ages = np.array(demo["ages"])
    pop = {(s, loc): np.array(demo["population"][s][loc], dtype=float) for s in SEXES for loc in LOCATIONS}
    free_templates = list(DEFAULT_MIX)  # as the sampler's default mix
    rows = []
    for _ in range(n):
        c = rng.choice(len(pool.codes), p=pool.weights / pool.weights.sum())
        code = pool.codes[c]
        symptoms = kg.symptoms(code)
        weights = np.array([s.weight for s in symptoms])
        p = np.exp(weights / temperature) / np.exp(weights / temperature).sum()
        k = rng.integers(2, min(5, len(symptoms)) + 1)
        picked = [symptoms[i] for i in rng.choice(len(symptoms), size=k, replace=False, p=p)]
        allowed = [SEXES[pool.restriction[c] - 1]] if pool.restriction[c] else SEXES
        cells = [(s, loc) for s in allowed for loc in LOCATIONS]
        mass = np.array([pop[cell][ages >= min_age].sum() for cell in cells])
        sex, location = cells[rng.choice(len(cells), p=mass / mass.sum())]
        age_p = pop[sex, location] * (ages >= min_age)
        age = int(rng.choice(ages, p=age_p / age_p.sum()))
        group = next(i for i, (lo, hi) in enumerate(demo["marriage"]["age_groups"]) if lo <= age <= hi)
        married = rng.random() < demo["marriage"]["p_married"][sex][group]
        smoking = bool(age >= 16 and rng.random() < demo["smoking"]["p"][sex])
        example = source = None
        if pool.n_examples[c] and rng.random() < example_p:
            row = pool.ex_start[c] + rng.integers(pool.n_examples[c])
            example, source = examples["text"][row], EXAMPLE_SOURCE + examples["idx"][row]
        template = "example" if example else free_templates[rng.integers(len(free_templates))]
        prior = {
            "code": code,
            "code_name_ru": pool.names[c],
            "category": pool.categories[c],
            "symptoms": [s.name for s in picked],
            "symptom_weights": [s.weight for s in picked],
            "age": age,
            "sex": sex,
            "location": location,
            "marital": "married" if married else "single",
            "smoking": smoking,
            "example": example,
            "example_source": source,
            "template": template,
            "style_examples": None,
            "seed": int(rng.integers(2**62)),
        }
        prior["messages"] = render_messages(prior, template)
        rows.append(prior)
    return Dataset.from_list(rows, features=PRIORS_FEATURES)


def best_of(repeats: int, func) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--baseline-n", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import datasets

    datasets.disable_progress_bars()
    start = time.perf_counter()
    kg = load_graph()
    build_pool(kg)
    setup = time.perf_counter() - start
    sample_priors(kg, 100)  # warm caches (examples, demographics) for both samplers
    ours = best_of(args.repeats, lambda: sample_priors(kg, args.n, seed=1))
    with tempfile.TemporaryDirectory() as tmp:
        arrow = best_of(args.repeats, lambda: sample_priors(kg, args.n, seed=1).save_to_disk(str(Path(tmp) / "ds")))
        parquet = best_of(args.repeats, lambda: sample_priors(kg, args.n, seed=1).to_parquet(str(Path(tmp) / "p.pq")))
    baseline = best_of(1, lambda: per_record(kg, args.baseline_n, seed=1))
    rate = args.n / ours
    print(
        json.dumps(
            {
                "n": args.n,
                "priors_per_s": round(rate),
                "priors_per_s_with_save_to_disk": round(args.n / arrow),
                "priors_per_s_with_parquet": round(args.n / parquet),
                "baseline_n": args.baseline_n,
                "baseline_priors_per_s": round(args.baseline_n / baseline),
                "speedup_vs_baseline": round(rate / (args.baseline_n / baseline), 1),
                "speedup_vs_medsyn_600_per_s": round(rate / 600, 1),
                "setup_seconds": round(setup, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
