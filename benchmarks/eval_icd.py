"""Speed and fidelity of `medsyn eval icd`'s default classifier against RuMedBench's baseline as published; one JSON line.

Both are trained on the same stratified share of RuMedTop3 train (``--real-fraction``, default 0.5 so that the
published form, the baseline, finishes in a few minutes; 1 for the full comparison) and scored on dev:

- reference: RuMedBench ``code/linear_models/single_text_classifier.py`` (TfidfVectorizer char 3–8-grams, lbfgs
  one-vs-rest logistic regression, C=10);
- ours: ``--classifier tfidf`` (hashed n-grams counted once, liblinear dual), timed from raw texts, features included;
- ours_with_gpt_notes: ours on the same real notes plus every MedSyn GPT note of a RuMedTop3 code, cut to
  ``--synthetic-max-chars`` (the reference is not run on these: > 30 minutes on 2 cores).

Times are wall and CPU seconds; speedups are ratios measured in this run.

    python benchmarks/eval_icd.py [--real-fraction 1] [--synthetic-max-chars 300]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

SOURCES = Path(__file__).resolve().parents[1] / "data" / "sources"


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"seconds": round(time.perf_counter() - wall, 2), "cpu_seconds": round(time.process_time() - cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-fraction", type=float, default=0.5)
    parser.add_argument("--synthetic-max-chars", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import datasets

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
    print(json.dumps({
        "benchmark": "eval_icd", "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
        "real_fraction": args.real_fraction, "train_notes": len(train), "eval_notes": len(dev.codes),
        "gpt_notes": len(mixed.synthetic.codes), "synthetic_max_chars": args.synthetic_max_chars,
        "reference": scored(reference, reference_time), "ours": scored(ours, ours_time),
        "top1_agreement": round(float(np.mean([a[0] == b[0] for a, b in zip(reference, ours)])), 4),
        "speedup_wall": round(reference_time["seconds"] / ours_time["seconds"], 2),
        "speedup_cpu": round(reference_time["cpu_seconds"] / ours_time["cpu_seconds"], 2),
        "ours_with_gpt_notes": scored(ours_gpt, ours_gpt_time),
    }))


if __name__ == "__main__":
    main()
