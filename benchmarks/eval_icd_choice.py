"""Does the choice rule of `medsyn eval icd --choose-on-train` pick well from a small validation set? Train only:
RuMedTop3 dev is never read.

The candidates are the command's own benchmark candidates (benchmarks/eval_icd.py --topup): the MedSyn GPT notes
written by GPT-4 (``gpt4``) and all MedSyn GPT notes (``all``), x view (``--views``) x K (``--topups``), and real only.

- Outer split ``o`` (``--outer`` of them, split seed ``o``): RuMedTop3 train is split, stratified by code, into a fit
  part (``1 - --held``, default 60 %) and held-out notes (40 %). Every configuration is fitted on the fit part with
  every seed (K x the fit part's share, rare codes those of all of train: the command's scaling) and ranks every
  held-out note; one fit per distinct training set, as in the command.
- Resample ``r`` (``--resamples`` per outer split): the held-out notes are split, stratified by code, into a
  validation half and a pseudo-test half (each ~20 % of train, the size of the command's validation split). Each rule
  chooses from the validation half's cells (the command's ``Scores`` and ``rule.choose``); the choice is then
  scored on the pseudo-test half: its rare-code hit@3 gain, the best gain any configuration has there (regret = best
  minus chosen) and its acc@1 change.

Rules (medsyn_hf/evaluation/icd/rule.py): ``largest`` with a 1-point acc@1 allowance (the former rule, README
"Targeted upsampling") and without; ``one-se`` (acc@1 loss within one standard error; the smallest intervention
within one standard error of the best gain) and ``paired-se`` (the same, "within noise" judged on the paired
difference to the best cell), each also with the former 1-point acc@1 allowance on top.

Reported per rule: the mean, median and 90th percentile regret, the mean pseudo-test gain and acc@1 change of the
choice, how often it loses more than 1 point of acc@1 there, the mean notes added, how often each configuration is
chosen and the share of the most frequent choice (stability: 1 = always the same), overall and per outer split. The
fits' validation and pseudo-test halves hold the same fitted classifiers, so the comparison isolates what the
validation sample's noise does to each rule (the final refit on all of train is the same for every rule).

    python benchmarks/eval_icd_choice.py [--outer 3] [--resamples 100] > benchmarks/eval_icd_choice.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from eval_icd import GPT_NOTES, TRAIN, gpt4_notes

RULES = {  # name: (rule, acc@1 allowance in points)
    "largest, acc@1 drop <= 1 (former)": ("largest", 1.0),
    "largest, no acc@1 drop": ("largest", 0.0),
    "one-se": ("one-se", 0.0),
    "one-se, acc@1 drop <= 1 + 1 SE": ("one-se", 1.0),
    "paired-se": ("paired-se", 0.0),
    "paired-se, acc@1 drop <= 1 + 1 SE": ("paired-se", 1.0),
}
METRIC = "rare_hit3"


def _name(cell: dict) -> str:
    return "real only" if not cell["candidate"] else f"{cell['candidate']}/{cell['view']}/K={cell['topup']}"


def _summary(picks: list[dict]) -> dict:
    regret = np.array([p["regret"] for p in picks])
    counts = Counter(p["choice"] for p in picks)
    return {
        "regret_mean": round(float(regret.mean()), 2),
        "regret_median": round(float(np.median(regret)), 2),
        "regret_p90": round(float(np.percentile(regret, 90)), 2),
        "zero_regret_share": round(float(np.mean(regret <= 1e-9)), 3),
        "pseudo_test_gain_mean": round(float(np.mean([p["gain"] for p in picks])), 2),
        "pseudo_test_acc1_mean": round(float(np.mean([p["acc1"] for p in picks])), 2),
        "acc1_loss_over_1_share": round(float(np.mean([p["acc1"] < -1 for p in picks])), 3),
        "notes_added_mean": round(float(np.mean([p["size"] for p in picks])), 1),
        "stability": round(counts.most_common(1)[0][1] / len(picks), 3),
        "choices": dict(counts.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outer", type=int, default=3, help="outer splits (each fits every configuration)")
    parser.add_argument("--resamples", type=int, default=100, help="validation / pseudo-test splits per outer split")
    parser.add_argument("--held", type=float, default=0.4, help="share of train held out (half validation)")
    parser.add_argument("--views", type=lambda text: text.split(","), default=["head", "complaint"])
    parser.add_argument("--topups", type=lambda text: [int(k) for k in text.split(",")], default=[20, 40, 80])
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=[0, 1, 2])
    parser.add_argument("--bootstrap", type=int, default=500, help="resamples for the rule's standard errors")
    parser.add_argument(
        "--fits", type=Path, help="folder for each outer split's predictions: a re-run scores them without refitting"
    )
    args = parser.parse_args()

    import datasets

    from medsyn_hf.evaluation.icd import choice as icd_choose
    from medsyn_hf.evaluation.icd import experiment as icd
    from medsyn_hf.evaluation.icd.sampling import load_labelled, rare_codes

    datasets.disable_progress_bars()
    start = time.perf_counter()
    train = load_labelled(TRAIN, "symptoms", "code")
    with tempfile.TemporaryDirectory(prefix="eval-icd-choice-") as tmp:
        candidates = {
            "gpt4": load_labelled(gpt4_notes(Path(tmp)), "response", "icd10"),
            "all": load_labelled(GPT_NOTES, "response", "icd10"),
        }
    rare = rare_codes(train.codes, icd.RARE_K)
    picks = {name: [] for name in RULES}
    outer, fits, fit_seconds, scoring_seconds = [], 0, 0.0, 0.0
    for o in range(args.outer):
        fit_index, held_index = icd_choose.split_train(train.codes, args.held, o)
        fit, held = (icd_choose.notes_at(train, index) for index in (fit_index, held_index))
        saved = args.fits / f"outer{o}-{'-'.join(args.views)}-{'-'.join(map(str, args.topups))}.json.gz"
        if args.fits and saved.exists():  # the same configurations fitted before: their predictions
            with gzip.open(saved, "rt", encoding="utf-8") as f:
                fitted = [{**c, "predictions": {int(s): p for s, p in c["predictions"].items()}} for c in json.load(f)]
        else:
            pool = icd_choose.Pool(fit, held, candidates, args.views, rare)
            configs = icd_choose.configurations(list(candidates), args.views, args.topups)
            fitted = icd_choose.fit_configurations(
                pool,
                configs,
                args.seeds,
                len(fit.codes) / len(train.codes),
                log=lambda line, o=o: print(f"outer {o}: {line}", file=sys.stderr, flush=True),
            )
            fits, fit_seconds = fits + pool.fits, fit_seconds + pool.seconds
            if args.fits:
                args.fits.mkdir(parents=True, exist_ok=True)
                with gzip.open(saved, "wt", encoding="utf-8") as f:
                    json.dump(fitted, f, ensure_ascii=False)
        references = held.codes
        gains, here = {_name(c): [] for c in fitted}, {name: [] for name in RULES}
        scoring = time.perf_counter()
        for r in range(args.resamples):
            validation, pseudo_test = icd_choose.split_train(references, 0.5, 1000 * (o + 1) + r)
            scores = icd_choose.Scores(fitted, references, rare, args.bootstrap, r, subset=validation)
            cells = scores.cells()
            truth = icd_choose.Scores(fitted, references, rare, 0, r, subset=pseudo_test).cells()
            gain = [c["paired_diff"][METRIC]["diff"] if c.get("paired_diff") else 0.0 for c in truth]
            acc1 = [c["paired_diff"]["acc1"]["diff"] if c.get("paired_diff") else 0.0 for c in truth]
            for c, g in zip(truth, gain):
                gains[_name(c)].append(g)
            for name, (rule, allowance) in RULES.items():
                i = scores.choose(cells, rule, METRIC, allowance)["chosen"]
                pick = {
                    "outer": o,
                    "choice": _name(cells[i]),
                    "gain": gain[i],
                    "acc1": acc1[i],
                    "regret": max(gain) - gain[i],
                    "size": cells[i]["size"],
                }
                picks[name].append(pick)
                here[name].append(pick)
        scoring_seconds += time.perf_counter() - scoring
        outer.append(
            {
                "split_seed": o,
                "fit_notes": len(fit.codes),
                "held_notes": len(references),
                "pseudo_test_gain_by_configuration": {k: round(float(np.mean(v)), 2) for k, v in gains.items()},
                "rules": {name: _summary(p) for name, p in here.items()},
            }
        )
        print(json.dumps({"outer": o, **outer[-1]["rules"]}, ensure_ascii=False), file=sys.stderr, flush=True)
    result = {
        "benchmark": "eval_icd_choice",
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "metric": METRIC,
        "outer": args.outer,
        "resamples": args.resamples,
        "held": args.held,
        "views": args.views,
        "topups": args.topups,
        "seeds": args.seeds,
        "bootstrap": args.bootstrap,
        "rules": {name: _summary(p) for name, p in picks.items()},
        "by_outer_split": outer,
        "fits": fits,
        "fit_seconds": round(fit_seconds, 1),
        "scoring_seconds": round(scoring_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
