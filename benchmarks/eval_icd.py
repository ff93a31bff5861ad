"""Speed and fidelity of `medsyn eval icd`'s default classifier against RuMedBench's baseline as published.

One JSON line.

Both are trained on the same stratified share of RuMedTop3 train (``--real-fraction``, default 0.5 so that the
published form, the baseline, finishes in a few minutes; 1 for the full comparison) and scored on dev:

- reference: RuMedBench ``code/linear_models/single_text_classifier.py`` (TfidfVectorizer char 3–8-grams, lbfgs
  one-vs-rest logistic regression, C=10);
- ours: ``--classifier tfidf`` (hashed n-grams counted once, liblinear dual), timed from raw texts, features included;
- ours_with_gpt_notes: ours on the same real notes plus every MedSyn GPT note of a RuMedTop3 code, cut to
  ``--synthetic-max-chars`` (the reference is not run on these: > 30 minutes on 2 cores).

Times are wall and CPU seconds; speedups are ratios measured in this run.

    python benchmarks/eval_icd.py [--real-fraction 1] [--synthetic-max-chars 300]

``--topup`` measures instead what targeted upsampling (`medsyn eval icd --topup K --synthetic-view V`) is worth,
without
choosing anything on dev:

1. selection, on train only: a stratified ``--holdout`` share of train (default 0.2) is held out as validation, the
   rest is the training set; every view x K (K scaled by the share kept, so that it adds what K adds on full train;
   rare codes: fewer than RARE_K x that share notes) is compared with real only over ``--seeds``; the chosen
   configuration is the one with the largest rare-code hit@3 gain among those whose acc@1 drops by at most
   ``--max-acc1-drop`` points (none: the smallest acc@1 drop);
2. report: train against dev, the chosen configuration first, then (``--dev-grid``) the others, labelled as such.

Each finished configuration is also printed to stderr as a JSON line (progress); stdout gets the one JSON line.

    python benchmarks/eval_icd.py --topup [--views head,complaint] [--topups 20,40,80] [--seeds 0,1,2] [--dev-grid]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

SOURCES = Path(__file__).resolve().parents[1] / "data" / "sources"
SCORED = ("acc1", "hit3", "macro_acc1", "macro_hit3", "rare_acc1", "rare_hit3", "train_synthetic")


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"seconds": round(time.perf_counter() - wall, 2), "cpu_seconds": round(time.process_time() - cpu, 2)}


def compare_configurations(
    train, evaluation, synthetic, configurations, topup_of, rare_k, seeds, n_bootstrap, log
) -> list[dict]:
    """Real only (fitted once: its features do not depend on the view) against each (view, K) on the same seeds."""
    from medsyn_hf.evaluation import icd

    done, baseline = [], None
    for view in dict.fromkeys(view for view, _ in configurations):
        experiment = icd.prepare(train, evaluation, synthetic, rare_k=rare_k, view=view)
        rank = icd.make_ranker(experiment)
        if baseline is None:
            baseline = icd.run_cells(experiment, rank, [(1.0, 0.0, 0)], seeds, n_bootstrap)
        for view_, k in configurations:
            if view_ != view:
                continue
            runs, predictions = icd.run_cells(experiment, rank, [(1.0, 0.0, topup_of(k))], seeds, n_bootstrap)
            summary = icd.summarise(baseline[0] + runs, {**baseline[1], **predictions}, experiment, n_bootstrap)
            real_only, upsampled = (next(r for r in summary if r["topup"] == t) for t in (0, topup_of(k)))
            done.append(
                {
                    "view": view,
                    "topup": k,
                    "topup_applied": topup_of(k),
                    "seeds": list(seeds),
                    "train_real": real_only["train_real"],
                    "train_synthetic": upsampled["train_synthetic"],
                    "n": runs[0]["n"],
                    "n_rare": runs[0]["n_rare"],
                    "rare_codes": len(experiment.rare),
                    "real_only": {key: real_only[key] for key in SCORED},
                    "upsampled": {key: upsampled[key] for key in SCORED},
                    "paired_diff": {
                        key: {"diff": round(d["diff"], 2), "ci": [round(x, 2) for x in d["ci"]]}
                        for key, d in upsampled["paired_diff"].items()
                    },
                    "seconds_per_fit": upsampled["seconds"],
                    "load_average": round(os.getloadavg()[0], 2),
                }
            )
            log(done[-1])
    return done


def choose(results: list[dict], max_acc1_drop: float) -> dict:
    """The largest rare-code hit@3 gain among the configurations that cost at most ``max_acc1_drop`` points of acc@1;
    if none does, the one that costs least."""
    allowed = [r for r in results if r["paired_diff"]["acc1"]["diff"] >= -max_acc1_drop]
    if allowed:
        return max(allowed, key=lambda r: (r["paired_diff"]["rare_hit3"]["diff"], -r["topup"]))
    return max(results, key=lambda r: r["paired_diff"]["acc1"]["diff"])


def topup_benchmark(args) -> dict:
    from medsyn_hf.evaluation import icd
    from medsyn_hf.evaluation.icd_data import Notes, load_labelled, stratified_sample

    def log(entry):
        print(json.dumps(entry, ensure_ascii=False), file=sys.stderr, flush=True)

    start = time.perf_counter()
    real = load_labelled(SOURCES / "rumedtop3" / "train_v1.jsonl", "symptoms", "code")
    dev = load_labelled(SOURCES / "rumedtop3" / "dev_v1.jsonl", "symptoms", "code")
    gpt = load_labelled(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "response", "icd10")
    kept = stratified_sample(real.codes, 1 - args.holdout, args.split_seed)
    held = np.setdiff1d(np.arange(len(real.codes)), kept)
    fit, validation = (Notes([real.texts[i] for i in index], [real.codes[i] for i in index]) for index in (kept, held))
    share = len(kept) / len(real.codes)
    configurations = [(view, k) for view in args.views for k in args.topups]
    selection = compare_configurations(
        fit,
        validation,
        gpt,
        configurations,
        lambda k: max(1, round(k * share)),
        round(icd.RARE_K * share),
        args.seeds,
        args.bootstrap,
        lambda entry: log({"stage": "validation", **entry}),
    )
    chosen = choose(selection, args.max_acc1_drop)
    log({"stage": "chosen", "view": chosen["view"], "topup": chosen["topup"]})
    order = [(chosen["view"], chosen["topup"])] + [
        c for c in configurations if c != (chosen["view"], chosen["topup"]) and args.dev_grid
    ]
    dev_results = compare_configurations(
        real,
        dev,
        gpt,
        order,
        lambda k: k,
        icd.RARE_K,
        args.seeds,
        args.bootstrap,
        lambda entry: log({"stage": "dev", **entry}),
    )
    reported = dev_results[0]
    return {
        "benchmark": "eval_icd_topup",
        "cpus": os.cpu_count(),
        "seeds": list(args.seeds),
        "holdout": args.holdout,
        "validation_notes": len(held),
        "validation_train_notes": len(kept),
        "max_acc1_drop": args.max_acc1_drop,
        "selection": selection,
        "chosen": {"view": chosen["view"], "topup": chosen["topup"]},
        "dev": reported,
        "dev_grid": dev_results[1:],
        "target_met": reported["paired_diff"]["rare_hit3"]["diff"] >= 5
        and reported["paired_diff"]["acc1"]["diff"] >= -1,
        "total_seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-fraction", type=float, default=0.5)
    parser.add_argument("--synthetic-max-chars", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--topup", action="store_true", help="the targeted-upsampling benchmark instead")
    parser.add_argument("--views", type=lambda text: text.split(","), default=["head", "complaint"])
    parser.add_argument("--topups", type=lambda text: [int(k) for k in text.split(",")], default=[20, 40, 80])
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=[0, 1, 2])
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--max-acc1-drop", type=float, default=1.0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--dev-grid", action="store_true", help="--topup: also report the other configurations on dev")
    args = parser.parse_args()

    import datasets

    datasets.disable_progress_bars()
    if args.topup:
        print(json.dumps(topup_benchmark(args), ensure_ascii=False))
        return

    from medsyn_hf.evaluation import icd
    from medsyn_hf.evaluation.icd_data import load_labelled, stratified_sample
    from medsyn_hf.evaluation.icd_metrics import icd_scores

    datasets.disable_progress_bars()
    real = load_labelled(SOURCES / "rumedtop3" / "train_v1.jsonl", "symptoms", "code")
    dev = load_labelled(SOURCES / "rumedtop3" / "dev_v1.jsonl", "symptoms", "code")
    gpt = load_labelled(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "response", "icd10")
    experiment = icd.prepare(real, dev)
    mixed = icd.prepare(real, dev, gpt, max_chars=args.synthetic_max_chars)
    train = stratified_sample(real.codes, args.real_fraction, args.seed)
    with_gpt = np.concatenate([train, len(real.codes) + np.arange(len(mixed.synthetic.codes))])

    def scored(predictions, timing):
        scores = icd_scores(predictions, dev.codes, experiment.rare, n_bootstrap=0)
        return {**timing, **{k: round(scores[k], 2) for k in ("acc1", "hit3", "rare_acc1", "rare_hit3")}}

    reference, reference_time = _timed(lambda: icd.make_ranker(experiment, "reference")(train, args.seed))
    ours, ours_time = _timed(lambda: icd.make_ranker(experiment, "tfidf")(train, args.seed))
    ours_gpt, ours_gpt_time = _timed(lambda: icd.make_ranker(mixed, "tfidf")(with_gpt, args.seed))
    print(
        json.dumps(
            {
                "benchmark": "eval_icd",
                "cpus": os.cpu_count(),
                "load_average": round(os.getloadavg()[0], 2),
                "real_fraction": args.real_fraction,
                "train_notes": len(train),
                "eval_notes": len(dev.codes),
                "gpt_notes": len(mixed.synthetic.codes),
                "synthetic_max_chars": args.synthetic_max_chars,
                "reference": scored(reference, reference_time),
                "ours": scored(ours, ours_time),
                "top1_agreement": round(float(np.mean([a[0] == b[0] for a, b in zip(reference, ours)])), 4),
                "speedup_wall": round(reference_time["seconds"] / ours_time["seconds"], 2),
                "speedup_cpu": round(reference_time["cpu_seconds"] / ours_time["cpu_seconds"], 2),
                "ours_with_gpt_notes": scored(ours_gpt, ours_gpt_time),
            }
        )
    )


if __name__ == "__main__":
    main()
