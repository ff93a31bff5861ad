"""`medsyn eval icd`: what synthetic notes add to an ICD-10 code classifier trained on real ones, above all on rare codes.

The classifier is trained on real notes (RuMedTop3's JSON lines: ``symptoms``, ``code``), optionally plus a stratified
fraction of a synthetic dataset, and scored on ``--eval`` with RuMedBench's acc@1 / hit@3, per code, macro, and on
the rare codes (fewer than ``--rare-k`` real training notes). ``--grid`` runs MedSyn's design: real fraction
{0.5, 0.75, 1} x synthetic fraction {0, 0.25, 0.5, 1}, plus synthetic only, over several seeds.

Synthetic notes are cut to their first ``--synthetic-max-chars`` characters (default 300): real RuMedTop3 notes are
complaints (median 117 characters) and the complaint of a generated note comes first (MedSyn GPT notes: "жалоб" at
character 84 in the median note), while the rest of a 2,000-character note multiplies the classifier's cost without
adding accuracy (measured in benchmarks/eval_icd.py). Synthetic notes whose code no real training note has are
dropped (the classifier's codes are RuMedTop3's); eval notes with such codes are an error unless ``--drop-unseen``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd_data import Notes, load_labelled, rare_codes, stratified_sample
from medsyn_hf.evaluation.icd_metrics import icd_scores
from medsyn_hf.io import atomic_path

RARE_K = 20  # RuMedTop3 train has 11 to 560 notes per code: 33 of its 105 codes have fewer than 20
MAX_CHARS = 300
GRID_REAL = (0.5, 0.75, 1.0)
GRID_SYNTHETIC = (0.0, 0.25, 0.5, 1.0)
SYNTHETIC_CODE_COLUMNS = ("ICD-10", "icd10")  # our notes' schema, then the MedSyn GPT notes'
PLOTTED = {"acc1": "acc@1", "hit3": "hit@3", "rare_acc1": "rare codes: acc@1", "rare_hit3": "rare codes: hit@3"}
SUMMARISED = ("acc1", "hit3", "macro_acc1", "macro_hit3", "rare_acc1", "rare_hit3", "rare_macro_acc1",
              "rare_macro_hit3", "train_real", "train_synthetic", "seconds")

Ranker = Callable[[np.ndarray, int], list[list[str]]]  # (indices of training notes, seed) -> ranked codes per eval note


@dataclass
class Experiment:
    real: Notes
    eval: Notes
    rare: list[str]
    synthetic: Notes = field(default_factory=lambda: Notes([], []))
    synthetic_dropped: int = 0
    eval_dropped: int = 0


def prepare(real: Notes, evaluation: Notes, synthetic: Notes | None = None, rare_k: int = RARE_K,
            max_chars: int = MAX_CHARS, drop_unseen: bool = False) -> Experiment:
    """Check the three sets against each other; the rare codes are those of the full real training set."""
    known = set(real.codes)
    unseen = sorted({code for code in evaluation.codes if code not in known})
    eval_dropped = 0
    if unseen and not drop_unseen:
        raise MedsynError(f"eval notes have {len(unseen)} codes no training note has ({', '.join(unseen[:5])}); "
                          "pass --drop-unseen to score only the others")
    if unseen:
        keep = [i for i, code in enumerate(evaluation.codes) if code in known]
        if not keep:
            raise MedsynError("no eval note has a code of the training notes")
        eval_dropped = len(evaluation.codes) - len(keep)
        evaluation = Notes([evaluation.texts[i] for i in keep], [evaluation.codes[i] for i in keep])
    experiment = Experiment(real, evaluation, rare_codes(real.codes, rare_k), eval_dropped=eval_dropped)
    if synthetic is not None:
        keep = [i for i, code in enumerate(synthetic.codes) if code in known]
        if not keep:
            raise MedsynError("no synthetic note has a code of the real training notes")
        experiment.synthetic = Notes([synthetic.texts[i][: max_chars or None] for i in keep],
                                     [synthetic.codes[i] for i in keep])
        experiment.synthetic_dropped = len(synthetic.codes) - len(keep)
    return experiment


def make_ranker(experiment: Experiment, classifier: str = "tfidf", **transformer_options) -> Ranker:
    """Real notes then synthetic ones form one pool; features are computed once for the pool and the eval notes."""
    from medsyn_hf.evaluation import icd_classifier

    texts = experiment.real.texts + experiment.synthetic.texts
    codes = np.asarray(experiment.real.codes + experiment.synthetic.codes, dtype=object)
    if classifier == "tfidf":
        counts = icd_classifier.char_ngram_counts(texts)
        eval_counts = icd_classifier.char_ngram_counts(experiment.eval.texts)
        return lambda index, seed: icd_classifier.linear_rank(counts[index], codes[index], eval_counts, seed=seed)
    if classifier == "reference":
        return lambda index, seed: icd_classifier.reference_rank(
            [texts[i] for i in index], codes[index].tolist(), experiment.eval.texts)
    if not Path(classifier).is_dir():
        raise MedsynError(f"--classifier {classifier}: neither 'tfidf', 'reference' nor a local model folder")
    return lambda index, seed: icd_classifier.transformer_rank(
        classifier, [texts[i] for i in index], codes[index].tolist(), experiment.eval.texts, seed=seed,
        **transformer_options)


def run_cell(experiment: Experiment, rank: Ranker, real_fraction: float = 1.0, synthetic_fraction: float = 1.0,
             seed: int = 0, n_bootstrap: int = 1000) -> dict:
    """Train on stratified fractions of the real and synthetic notes, score on the eval notes."""
    real = stratified_sample(experiment.real.codes, real_fraction, seed)
    synthetic = stratified_sample(experiment.synthetic.codes, synthetic_fraction, seed) if experiment.synthetic.codes \
        else np.zeros(0, dtype=int)
    if not len(real) + len(synthetic):
        raise MedsynError("no training notes: both fractions are 0")
    start = time.perf_counter()
    predictions = rank(np.concatenate([real, len(experiment.real.codes) + synthetic]), seed)
    seconds = time.perf_counter() - start
    scores = icd_scores(predictions, experiment.eval.codes, experiment.rare, n_bootstrap, seed=seed)
    return {"real_fraction": real_fraction, "synthetic_fraction": synthetic_fraction, "seed": seed,
            "train_real": len(real), "train_synthetic": len(synthetic), "seconds": round(seconds, 2), **scores}


def grid_cells(real_fractions: Sequence[float] = GRID_REAL,
               synthetic_fractions: Sequence[float] = GRID_SYNTHETIC) -> list[tuple[float, float]]:
    """Every (real, synthetic) pair, the real-only baseline (largest real fraction, no synthetic) and synthetic only."""
    cells = {(r, s) for r in real_fractions for s in synthetic_fractions}
    cells |= {(max(real_fractions), 0.0), (0.0, 1.0)}
    return sorted(cells, key=lambda cell: (cell[0] == 0, cell))


def run_grid(experiment: Experiment, rank: Ranker, seeds: Sequence[int], real_fractions=GRID_REAL,
             synthetic_fractions=GRID_SYNTHETIC, n_bootstrap: int = 1000, log=None) -> list[dict]:
    runs = []
    for seed in seeds:
        for real_fraction, synthetic_fraction in grid_cells(real_fractions, synthetic_fractions):
            runs.append(run_cell(experiment, rank, real_fraction, synthetic_fraction, seed, n_bootstrap))
            if log:
                log(f"seed {seed} real {real_fraction:g} synthetic {synthetic_fraction:g}: "
                    f"acc@1 {runs[-1]['acc1']:.2f} hit@3 {runs[-1]['hit3']:.2f} ({runs[-1]['seconds']:.0f} s)")
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds of each cell's scores (a score that is None in a run is left out)."""
    cells = {}
    for run in runs:
        cells.setdefault((run["real_fraction"], run["synthetic_fraction"]), []).append(run)
    summary = []
    for (real_fraction, synthetic_fraction), group in cells.items():
        row = {"real_fraction": real_fraction, "synthetic_fraction": synthetic_fraction, "seeds": len(group)}
        for key in SUMMARISED:
            values = [run[key] for run in group if run[key] is not None]
            row[key] = round(float(np.mean(values)), 2) if values else None
            if key not in ("train_real", "train_synthetic", "seconds"):
                row[f"{key}_std"] = round(float(np.std(values)), 2) if values else None
        summary.append(row)
    return summary


def baseline_of(summary: list[dict]) -> dict:
    """The real-only cell with the most real notes."""
    return max((row for row in summary if row["synthetic_fraction"] == 0), key=lambda row: row["real_fraction"])


def markdown_table(summary: list[dict]) -> str:
    """One row per cell: mean ± std over seeds, and the difference to the real-only baseline."""
    baseline = baseline_of(summary)
    lines = ["| real | synthetic | training notes (real + synthetic) | " + " | ".join(PLOTTED.values()) + " |",
             "|---:|---:|---:|" + "---:|" * len(PLOTTED)]
    for row in summary:
        cells = []
        for key in PLOTTED:
            if row[key] is None:
                cells.append("—")
                continue
            delta = "" if row is baseline else f" ({row[key] - baseline[key]:+.2f})"
            cells.append(f"{row[key]:.2f} ± {row[f'{key}_std']:.2f}{delta}")
        label = ("real only" if row is baseline else "synthetic only" if row["real_fraction"] == 0
                 else f"{row['synthetic_fraction']:g}")
        lines.append(f"| {row['real_fraction']:g} | {label} | {row['train_real']:.0f} + {row['train_synthetic']:.0f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_grid(summary: list[dict], path: Path) -> None:
    """acc@1 and hit@3, overall and on rare codes, against the synthetic fraction: a line per real fraction, the
    real-only baseline dashed, synthetic only in words."""
    from matplotlib.figure import Figure

    baseline = baseline_of(summary)
    figure = Figure(figsize=(11, 8), layout="constrained")
    for axes, (key, title) in zip(figure.subplots(2, 2).flat, PLOTTED.items()):
        for real_fraction in sorted({row["real_fraction"] for row in summary} - {0.0}):
            rows = sorted((r for r in summary if r["real_fraction"] == real_fraction and r[key] is not None),
                          key=lambda r: r["synthetic_fraction"])
            axes.errorbar([r["synthetic_fraction"] for r in rows], [r[key] for r in rows],
                          yerr=[r[f"{key}_std"] for r in rows], marker="o", capsize=3, label=f"real {real_fraction:g}")
        if baseline[key] is not None:
            axes.axhline(baseline[key], color="grey", linestyle="--", label="real only")
        for row in summary:  # far below the others: as text, so that the axis keeps their differences readable
            if row["real_fraction"] == 0 and row[key] is not None:
                axes.text(0.98, 0.03, f"synthetic only: {row[key]:.2f} ± {row[f'{key}_std']:.2f}", ha="right",
                          transform=axes.transAxes)
        axes.set(title=title, xlabel="synthetic fraction", ylabel="%")
        axes.grid(alpha=0.3)
    figure.axes[0].legend(fontsize=8)
    figure.savefig(path, dpi=120)


def write_grid(out: Path, runs: list[dict], summary: list[dict], meta: dict) -> None:
    """grid.md, grid.png and grid.json (every run, with per-code scores), all or nothing."""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "grid.md").write_text(markdown_table(summary), encoding="utf-8")
        plot_grid(summary, tmp / "grid.png")
        (tmp / "grid.json").write_text(json.dumps({**meta, "summary": summary, "runs": runs}, ensure_ascii=False,
                                                  indent=1), encoding="utf-8")


def add_cli(eval_subparsers) -> None:
    parser = eval_subparsers.add_parser(
        "icd", help="ICD-code classifier on real notes ± synthetic ones: acc@1, hit@3, rare codes, the MedSyn grid",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--train", required=True, help="real training notes (RuMedTop3 train_v1.jsonl or any dataset)")
    data.add_argument("--eval", required=True, help="notes to score on (RuMedTop3 dev_v1.jsonl)")
    data.add_argument("--text-column", default="symptoms", help="text column of --train and --eval")
    data.add_argument("--code-column", default="code", help="ICD-10 column of --train and --eval")
    data.add_argument("--synthetic", help="synthetic notes: a .jsonl(.gz)/.parquet file, a dataset folder or a Hub id")
    data.add_argument("--synthetic-split", help="split of a multi-split synthetic dataset (default: train)")
    data.add_argument("--synthetic-text-column", default="response")
    data.add_argument("--synthetic-code-column",
                      help=f"ICD-10 column, subcodes allowed (default: the first of {', '.join(SYNTHETIC_CODE_COLUMNS)})")
    data.add_argument("--synthetic-max-chars", type=int, default=MAX_CHARS,
                      help="keep the first N characters of each synthetic note (0: all)")
    data.add_argument("--drop-unseen", action="store_true", help="skip eval notes whose code no training note has")
    run = parser.add_argument_group("experiment")
    run.add_argument("--real-fraction", type=float, default=1.0, help="stratified share of the real notes")
    run.add_argument("--synthetic-fraction", type=float, default=1.0, help="stratified share of the synthetic notes")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--rare-k", type=int, default=RARE_K, help="rare codes have fewer than K real training notes")
    run.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (0: none)")
    run.add_argument("--grid", action="store_true", help="run the MedSyn grid instead (needs --synthetic and --out)")
    run.add_argument("--real-fractions", type=_floats, default=GRID_REAL, help="grid: comma-separated")
    run.add_argument("--synthetic-fractions", type=_floats, default=GRID_SYNTHETIC, help="grid: comma-separated")
    run.add_argument("--seeds", type=_ints, default=(0, 1, 2), help="grid: comma-separated")
    run.add_argument("--out", type=Path, help="grid: folder for grid.md, grid.png and grid.json")
    model = parser.add_argument_group("classifier")
    model.add_argument("--classifier", default="tfidf",
                       help="'tfidf' (fast RuMedBench baseline), 'reference' (RuMedBench's code as published, slow) "
                            "or a local encoder folder to fine-tune")
    model.add_argument("--epochs", type=float, default=3.0, help="encoder only")
    model.add_argument("--learning-rate", type=float, default=5e-5, help="encoder only")
    model.add_argument("--batch-size", type=int, default=16, help="encoder only")
    model.add_argument("--max-length", type=int, default=256, help="encoder only: tokens per note")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.set_defaults(func=_run)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None


def _run(args) -> int:
    if args.grid and not (args.synthetic and args.out):
        raise MedsynError("--grid needs --synthetic and --out")
    if args.rare_k < 1 or args.bootstrap < 0 or args.synthetic_max_chars < 0:
        raise MedsynError("--rare-k must be at least 1, --bootstrap and --synthetic-max-chars at least 0")
    import datasets

    datasets.disable_progress_bars()
    start = time.perf_counter()
    experiment = prepare(load_labelled(args.train, args.text_column, args.code_column),
                         load_labelled(args.eval, args.text_column, args.code_column),
                         args.synthetic and load_labelled(args.synthetic, args.synthetic_text_column,
                                                          args.synthetic_code_column or SYNTHETIC_CODE_COLUMNS,
                                                          args.synthetic_split),
                         args.rare_k, args.synthetic_max_chars, args.drop_unseen)
    rank = make_ranker(experiment, args.classifier, epochs=args.epochs, learning_rate=args.learning_rate,
                       batch_size=args.batch_size, max_length=args.max_length)
    meta = {"classifier": args.classifier, "eval_dropped": experiment.eval_dropped,
            "synthetic_dropped": experiment.synthetic_dropped, "rare_k": args.rare_k, "rare_codes": experiment.rare}
    if args.grid:
        runs = run_grid(experiment, rank, args.seeds, args.real_fractions, args.synthetic_fractions, args.bootstrap,
                        log=lambda line: print(line, file=sys.stderr, flush=True))
        summary = summarise(runs)
        write_grid(args.out, runs, summary, meta)
        result = {"out": str(args.out), **meta, "baseline": baseline_of(summary), "cells": summary}
    else:
        result = {**meta, **run_cell(experiment, rank, args.real_fraction,
                                     args.synthetic_fraction if args.synthetic else 0.0, args.seed, args.bootstrap)}
    result["total_seconds"] = round(time.perf_counter() - start, 2)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif args.grid:
        print(markdown_table(result["cells"]) + f"\nwritten: {args.out}/grid.md, grid.png, grid.json")
    else:
        print(_report(result))
    return 0


def _report(result: dict) -> str:
    def line(name, key):
        value = result[key]
        if value is None:
            return f"{name:12s} —"
        low_high = result.get("ci", {}).get(key)
        return f"{name:12s} {value:6.2f}" + (f"  [{low_high[0]:.2f}, {low_high[1]:.2f}]" if low_high else "")

    lines = [f"train: {result['train_real']} real + {result['train_synthetic']} synthetic notes"
             + (f" ({result['synthetic_dropped']} synthetic notes dropped: codes outside the real ones)"
                if result["synthetic_dropped"] else "")
             + f"; eval: {result['n']} notes" + (f" ({result['eval_dropped']} dropped)" if result["eval_dropped"] else ""),
             line("acc@1", "acc1"), line("hit@3", "hit3"), line("macro acc@1", "macro_acc1"),
             line("macro hit@3", "macro_hit3"),
             f"rare codes (< {result['rare_k']} real training notes): {len(result['rare_codes'])} codes, "
             f"{result['n_rare']} eval notes",
             line("acc@1", "rare_acc1"), line("hit@3", "rare_hit3"), line("macro acc@1", "rare_macro_acc1"),
             line("macro hit@3", "rare_macro_hit3"), f"({result['seconds']:.1f} s to train and predict)"]
    return "\n".join(lines)
