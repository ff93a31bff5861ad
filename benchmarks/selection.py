"""Selection (`medsyn_hf.filters`: patient consistency, the privacy guard, label consistency, realism, the plan's
quota) against RuMedTop3 train; prints one JSON line. Two measurements:

Speed (default): selection over ``--n`` notes (default 15,000, the size of an over-generated plan: the 11,480 MedSyn
GPT notes, repeated) with a plan filling every code to 80. Speed is machine-dependent, so the baseline is measured
in the same run: ``apply_filters`` on the same notes without real notes (what every generation runs anyway); the
ratio is selection's extra seconds over it. Wall and CPU seconds per selection filter.

    python benchmarks/selection.py [--n 15000]

Thresholds (``--choose``), on train only — RuMedTop3 dev is never read: a stratified ``--holdout`` share of train
(default 0.2) is the validation set, the rest the real notes that plan, select and train. The candidate notes are the
MedSyn GPT notes of the training codes (complaint view for the classifier, as `eval icd --synthetic-view complaint`);
selection scores them once against the training notes, then each variant keeps, per code, at most the plan's
K − n of them (K scaled by the share kept) and is compared with real only on the validation notes, paired, over
``--seeds``:

- random: K − n notes drawn at random (`eval icd --topup`: what the issue's script did);
- filters + random: the same among the notes that pass the filters (patient, privacy guard, near duplicates, ...);
- best by realism: the quota's choice (`realism`, then `label_rank`), with ``label_top_k`` in ``--label-top-k``
  and ``min_realism`` in ``--min-realism``.

With ``--over F``, two more variants see what the quota's ranking is worth when it has a surplus to choose from (the
GPT notes of a rare code are often fewer than its need, and then every variant keeps all of them): each code's need
is capped at its passing notes / F, as if they had been over-generated F-fold, and the capped need is filled at
random or by realism.

Each variant also gets the discriminator AUC of its notes (seed 0's choice, complaint view) against the validation
notes — real notes neither selection nor its discriminator saw — code-matched as `medsyn eval report` does.

Rare codes: fewer than 20 × (1 − holdout) training notes.

    python benchmarks/selection.py --choose [--topups 20,80] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

SOURCES = Path(__file__).resolve().parents[1] / "data" / "sources"
NOTES = SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz"
REAL = SOURCES / "rumedtop3" / "train_v1.jsonl"
SCORED = ("acc1", "hit3", "macro_hit3", "rare_acc1", "rare_hit3")


def gpt_notes() -> list[dict]:
    with gzip.open(NOTES, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def notes_dataset(rows: list[dict]):
    """The GPT notes as `apply_filters` sees generated notes. Their prompts showed no patient (MedSyn's `gender` was
    never in them): template `anamnesis`, so the patient check does not hold them to a sex they were not given."""
    import datasets

    return datasets.Dataset.from_dict(
        {
            "response": [r["response"] for r in rows],
            "symptoms": [r["symptoms"] for r in rows],
            "code": [r["icd10"][:3] for r in rows],
            "sex": [r["gender"] for r in rows],
            "template": ["anamnesis"] * len(rows),
        }
    )


def _timed_set_filters(seconds: dict) -> None:
    """Wrap each registered set filter's ``score`` to record its wall and CPU seconds."""
    from medsyn_hf.filters import REGISTRY, SetFilter

    for name, f in REGISTRY.items():
        if isinstance(f, SetFilter):

            def timed(*args, _score=f.score, _name=name, **kwargs):
                wall, cpu = time.perf_counter(), time.process_time()
                out = _score(*args, **kwargs)
                seconds[_name] = {
                    "seconds": round(time.perf_counter() - wall, 2),
                    "cpu_seconds": round(time.process_time() - cpu, 2),
                }
                return out

            f.score = timed


def speed(n: int, fill_to: int = 80) -> dict:
    from medsyn_hf.data import load_labelled_notes
    from medsyn_hf.filters import FilterConfig, Reference, apply_filters

    rows = gpt_notes()
    data = notes_dataset([rows[i % len(rows)] for i in range(n)])
    texts, codes = load_labelled_notes(REAL)
    have = Counter(codes)
    reference = Reference(texts, codes, "code", {c: fill_to - k for c, k in have.items() if k < fill_to}, str(REAL))
    config = FilterConfig(label_top_k=10)
    wall, cpu = time.perf_counter(), time.process_time()
    apply_filters(data, config, code_column="code")
    baseline = {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    per_filter: dict = {}
    _timed_set_filters(per_filter)
    wall, cpu = time.perf_counter(), time.process_time()
    out = apply_filters(data, config, code_column="code", reference=reference)
    full = {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    extra = {k: full[k] - baseline[k] for k in full}
    return {
        "notes": n,
        "real_notes": len(texts),
        "baseline_no_real_notes": {k: round(v, 2) for k, v in baseline.items()},
        "with_selection": {k: round(v, 2) for k, v in full.items()},
        "selection_extra": {k: round(v, 2) for k, v in extra.items()},
        "ratio_extra_to_baseline": {k: round(extra[k] / baseline[k], 2) for k in extra},
        "set_filters": per_filter,
        "kept": sum(out["keep"]),
        "reasons": dict(Counter(r for x in out["filter_reason"] for r in x.split(",") if r).most_common()),
    }


def choose(
    holdout: float, topups: list[int], seeds: list[int], label_top_ks: list, min_realisms: list, over, log
) -> dict:
    """The train-only comparison of the module docstring."""
    from medsyn_hf.data import load_labelled_notes
    from medsyn_hf.evaluation.fidelity import matched_sample, two_sample_test
    from medsyn_hf.evaluation.icd import experiment as icd
    from medsyn_hf.evaluation.icd.metrics import icd_scores, paired_differences
    from medsyn_hf.evaluation.icd.sampling import LabelledNotes, stratified_sample, topup_sample
    from medsyn_hf.filters import FilterConfig, Reference, apply_filters
    from medsyn_hf.text_views import complaint

    texts, codes = load_labelled_notes(REAL)
    fit = set(stratified_sample(codes, 1 - holdout, seed=0).tolist())
    train = LabelledNotes([t for i, t in enumerate(texts) if i in fit], [c for i, c in enumerate(codes) if i in fit])
    valid = LabelledNotes(
        [t for i, t in enumerate(texts) if i not in fit], [c for i, c in enumerate(codes) if i not in fit]
    )
    have = Counter(train.codes)
    rows = [r for r in gpt_notes() if r["icd10"][:3] in have]
    pool = notes_dataset(rows)
    rare_k = round(20 * (1 - holdout))

    start = time.perf_counter()
    scored = apply_filters(
        pool,
        FilterConfig(keep_best=False),  # every variant below applies its own thresholds and quota
        code_column="code",
        reference=Reference(train.texts, train.codes, "code", None, "RuMedTop3 train (fit part)"),
    )
    selection_seconds = round(time.perf_counter() - start, 1)
    columns = {c: np.asarray(scored[c], dtype=object) for c in ("code", "keep", "realism", "label_rank")}
    log(f"selection over {len(rows)} notes: {selection_seconds} s")

    experiment = icd.prepare(
        train, valid, LabelledNotes([r["response"] for r in rows], columns["code"].tolist()), rare_k, view="complaint"
    )
    rank = icd.make_ranker(experiment)
    n_real = len(train.codes)
    baseline = {}
    for seed in seeds:
        baseline[seed] = rank(np.arange(n_real), seed)
    real_only = icd_scores(baseline[seeds[0]], experiment.eval.codes, experiment.rare, n_bootstrap=0)

    def best(candidates: np.ndarray, need: dict) -> np.ndarray:
        """Per code, the ``need`` candidates with the highest realism (then label rank)."""
        realism = np.array([r if r is not None else -1.0 for r in columns["realism"]], dtype=float)
        labels = np.array([r if r is not None else 1e9 for r in columns["label_rank"]], dtype=float)
        order = candidates[np.lexsort((candidates, labels[candidates], -realism[candidates]))]
        taken, chosen = Counter(), []
        for i in order:
            code = columns["code"][i]
            if taken[code] < need.get(code, 0):
                taken[code] += 1
                chosen.append(i)
        return np.sort(np.array(chosen, dtype=int))

    passing = np.flatnonzero(columns["keep"].astype(bool))
    passing_codes = columns["code"][passing]
    cells = []
    for k in topups:
        k_scaled = round(k * (1 - holdout))
        need = {c: k_scaled - n for c, n in have.items() if n < k_scaled}
        variants = {
            "random": lambda seed, k=k_scaled: topup_sample(train.codes, columns["code"].tolist(), k, seed),
            "filters + random": lambda seed, k=k_scaled: passing[
                topup_sample(train.codes, columns["code"][passing].tolist(), k, seed)
            ],
        }
        for top_k in label_top_ks:
            for low in min_realisms:
                ok = passing[
                    [
                        (top_k is None or (columns["label_rank"][i] or 1e9) <= top_k)
                        and (low is None or (columns["realism"][i] or 0.0) >= low)
                        for i in passing
                    ]
                ]
                variants[f"best by realism, label_top_k={top_k}, min_realism={low}"] = lambda seed, ok=ok, need=need: (
                    best(ok, need)
                )
        if over:
            pool = Counter(passing_codes.tolist())
            capped = {c: min(n, int(pool[c] / over)) for c, n in need.items()}
            variants[f"over-generated x{over:g}: random"] = lambda seed, capped=capped: _random_within(
                passing, passing_codes, capped, seed
            )
            variants[f"over-generated x{over:g}: best by realism"] = lambda seed, capped=capped: best(passing, capped)
        for name, pick in variants.items():
            wall = time.perf_counter()
            treated = {}
            added = []
            for seed in seeds:
                chosen = pick(seed)
                added.append(len(chosen))
                treated[seed] = rank(np.r_[np.arange(n_real), n_real + np.asarray(chosen, dtype=int)], seed)
            first = np.asarray(pick(seeds[0]), dtype=int)
            real_side, synthetic_side = matched_sample(valid.codes, columns["code"][first].tolist(), 10_000)
            fidelity = two_sample_test(
                [complaint(valid.texts[i]) for i in real_side],
                [experiment.synthetic.texts[first[i]] for i in synthetic_side],
                n_bootstrap=200,
            )
            diff = paired_differences(
                [baseline[s] for s in seeds], [treated[s] for s in seeds], experiment.eval.codes, experiment.rare
            )
            cell = {
                "topup": k,
                "topup_scaled": k_scaled,
                "variant": name,
                "synthetic_notes": round(float(np.mean(added)), 1),
                **{
                    key: {"diff": round(diff[key]["diff"], 2), "ci": [round(x, 2) for x in diff[key]["ci"]]}
                    for key in SCORED
                    if key in diff
                },
                "auc": fidelity["auc"],
                "auc_ci": fidelity["auc_ci"],
                "seconds": round(time.perf_counter() - wall, 1),
            }
            cells.append(cell)
            log(json.dumps(cell, ensure_ascii=False))
    return {
        "holdout": holdout,
        "validation_notes": len(valid.codes),
        "rare_k": rare_k,
        "rare_codes": len(experiment.rare),
        "candidate_notes": len(rows),
        "selection_seconds": selection_seconds,
        "seeds": seeds,
        "real_only": {key: round(real_only[key], 2) for key in SCORED},
        "cells": cells,
    }


def _random_within(candidates: np.ndarray, codes: np.ndarray, need: dict, seed: int) -> np.ndarray:
    """Per code, ``need`` of its ``candidates`` drawn at random (seeded)."""
    order = np.random.default_rng(seed).permutation(len(candidates))
    taken, chosen = Counter(), []
    for i in order:
        if taken[codes[i]] < need.get(codes[i], 0):
            taken[codes[i]] += 1
            chosen.append(candidates[i])
    return np.sort(np.array(chosen, dtype=int))


def _values(text: str) -> list:
    return [None if x == "none" else float(x) if "." in x else int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=15_000, help="speed: notes to select from")
    parser.add_argument("--choose", action="store_true", help="the train-only threshold comparison instead")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--topups", type=_values, default=[20, 80])
    parser.add_argument("--seeds", type=_values, default=[0, 1, 2])
    parser.add_argument("--label-top-k", type=_values, default=[None, 20, 10, 5, 3])
    parser.add_argument("--min-realism", type=_values, default=[None])
    parser.add_argument("--over", type=float, help="also the simulated over-generation variants (e.g. 1.25)")
    args = parser.parse_args()

    import datasets

    datasets.disable_progress_bars()
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if args.choose:
        result = choose(args.holdout, args.topups, args.seeds, args.label_top_k, args.min_realism, args.over, log)
    else:
        result = speed(args.n)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
