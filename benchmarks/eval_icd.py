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

``--topup`` measures instead what targeted upsampling is worth, chosen without looking at dev: it runs
`medsyn eval icd --choose-on-train` (medsyn_hf/evaluation/icd/choice.py) with two candidates, the MedSyn GPT notes
written by GPT-4 (``gpt4``: ``generation_model == gpt-4``) and all MedSyn GPT notes (``all``), views ``--views`` and
K ``--topups``, over ``--seeds``: the choice is made on a stratified ``--holdout`` share of train held out as
validation, then reported once on dev, trained on all of train. ``--dev-grid`` adds every other configuration on
dev, for reading only (they play no part in the choice). The command's progress goes to stderr; stdout gets one JSON
line.

    python benchmarks/eval_icd.py --topup [--views head,complaint] [--topups 20,40,80] [--seeds 0,1,2] [--dev-grid]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SOURCES = Path(__file__).resolve().parents[1] / "data" / "sources"
TRAIN = SOURCES / "rumedtop3" / "train_v1.jsonl"
DEV = SOURCES / "rumedtop3" / "dev_v1.jsonl"
GPT_NOTES = SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz"
SCORED = ("acc1", "hit3", "macro_acc1", "macro_hit3", "rare_acc1", "rare_hit3")


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"seconds": round(time.perf_counter() - wall, 2), "cpu_seconds": round(time.process_time() - cpu, 2)}


def gpt4_notes(folder: Path) -> Path:
    """The MedSyn GPT notes written by GPT-4, as a file that `eval icd --synthetic` reads."""
    from medsyn_hf.data import load_dataset

    notes = load_dataset(GPT_NOTES).filter(lambda row: row["generation_model"] == "gpt-4")
    path = folder / "gpt4.jsonl"
    notes.select_columns(["icd10", "response", "generation_model"]).to_json(path, force_ascii=False)
    return path


def topup_benchmark(args) -> dict:
    """`medsyn eval icd --choose-on-train` as a user runs it, and (``--dev-grid``) the other cells on dev."""
    from medsyn_hf.cli import main
    from medsyn_hf.evaluation.icd import choice as icd_choose
    from medsyn_hf.evaluation.icd import experiment as icd
    from medsyn_hf.evaluation.icd.sampling import load_labelled, rare_codes

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval-icd-topup-") as tmp:
        candidates = {"gpt4": gpt4_notes(Path(tmp)), "all": GPT_NOTES}
        argv = ["eval", "icd", "--train", TRAIN, "--eval", DEV, "--choose-on-train", "--out", Path(tmp) / "choice"]
        argv += [arg for name, path in candidates.items() for arg in ("--synthetic", f"{name}={path}")]
        argv += ["--synthetic-views", ",".join(args.views), "--topups", ",".join(map(str, args.topups))]
        argv += ["--seeds", ",".join(map(str, args.seeds)), "--bootstrap", args.bootstrap]
        argv += ["--validation-fraction", args.holdout, "--split-seed", args.split_seed, "--choice-rule", args.rule]
        argv += ["--max-acc1-drop", args.max_acc1_drop, "--synthetic-max-chars", args.synthetic_max_chars]
        with contextlib.redirect_stdout(sys.stderr):  # the command's report goes with its progress
            code = main([str(arg) for arg in argv])
        if code:
            raise SystemExit(code)
        result = json.loads((Path(tmp) / "choice" / "choice.json").read_text(encoding="utf-8"))
        dev_grid = []
        if args.dev_grid:
            train, dev = load_labelled(TRAIN, "symptoms", "code"), load_labelled(DEV, "symptoms", "code")
            notes = {name: load_labelled(path, "response", "icd10") for name, path in candidates.items()}
            rare = rare_codes(train.codes, icd.RARE_K)
            pool = icd_choose.Pool(train, dev, notes, args.views, rare, max_chars=args.synthetic_max_chars)
            configs = icd_choose.configurations(list(notes), args.views, args.topups)
            fitted = icd_choose.fit_configurations(
                pool, configs, args.seeds, 1.0, log=lambda line: print(line, file=sys.stderr)
            )
            scores = icd_choose.Scores(fitted, dev.codes, rare, args.bootstrap, args.seeds[0])
            dev_grid = [_brief(cell) for cell in scores.cells()]
    summary = result.pop("choose_on_train")
    return {
        "benchmark": "eval_icd_topup",
        "command": " ".join(["medsyn", *map(str, argv)]).replace(tmp, "TMP").replace(f"{SOURCES.parents[1]}/", ""),
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "chosen": summary["chosen"],
        "validation": {
            **{k: v for k, v in summary.items() if k != "cells"},
            "cells": [_brief(c) for c in summary["cells"]],
        },
        "dev": {key: result.get(key) for key in ("n", "n_rare", "view", "topup", "real_only", "upsampled")}
        | {"paired_diff": _rounded(result.get("paired_diff", {}))},
        "dev_grid": dev_grid,
        "target_met": result.get("paired_diff", {}).get("rare_hit3", {}).get("diff", 0) >= 5
        and result.get("paired_diff", {}).get("acc1", {}).get("diff", 0) >= -1,
        "total_seconds": round(time.perf_counter() - start, 1),
    }


def _rounded(differences: dict) -> dict:
    return {
        key: {
            "diff": round(d["diff"], 2),
            "ci": d["ci"] and [round(x, 2) for x in d["ci"]],
            "se": d["se"] and round(d["se"], 2),
        }
        for key, d in differences.items()
    }


def _brief(cell: dict) -> dict:
    """A cell without its per-seed detail."""
    keep = ("candidate", "view", "topup", "topup_applied", "train_synthetic", "verdict", "best", "chosen")
    return (
        {k: cell[k] for k in keep if k in cell}
        | {k: round(cell[k], 2) for k in SCORED if cell.get(k) is not None}
        | {"paired_diff": _rounded(cell.get("paired_diff", {}))}
    )


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
    parser.add_argument("--max-acc1-drop", type=float, default=0.0)
    parser.add_argument("--rule", default="one-se", help="--topup: the choice rule (one-se or largest)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--dev-grid", action="store_true", help="--topup: also score the other configurations on dev")
    args = parser.parse_args()

    import datasets

    datasets.disable_progress_bars()
    if args.topup:
        print(json.dumps(topup_benchmark(args), ensure_ascii=False))
        return

    from medsyn_hf.evaluation import icd
    from medsyn_hf.evaluation.icd.metrics import icd_scores
    from medsyn_hf.evaluation.icd.sampling import load_labelled, stratified_sample

    datasets.disable_progress_bars()
    real = load_labelled(TRAIN, "symptoms", "code")
    dev = load_labelled(DEV, "symptoms", "code")
    gpt = load_labelled(GPT_NOTES, "response", "icd10")
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
