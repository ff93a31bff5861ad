"""`medsyn eval icd`: what synthetic notes add to an ICD-10 classifier trained on real ones, above all on rare codes.

The classifier is trained on real notes (RuMedTop3's JSON lines: ``symptoms``, ``code``), optionally plus synthetic
notes, and scored on ``--eval`` with RuMedBench's acc@1 / hit@3, per code, macro, and on the rare codes (fewer than
``--rare-k`` real training notes). Synthetic notes are added in one of two ways:

- ``--topup K``: every code is brought up to K training notes with synthetic notes of that code (codes that already
  have K get none) — the notes go where the real ones are few, i.e. to the rare codes. A synthetic dataset made
  from a plan (`medsyn plan`) carries it: its K is the default, and ``--topup`` without K;
- ``--synthetic-fraction F``: a stratified share of the whole synthetic set (MedSyn's design; default 1).

Each is compared with real only on the same eval notes and seeds (``--seeds``): the difference of every score with a
paired bootstrap 95 % interval, averaged over seeds. ``--grid`` runs MedSyn's design — real fraction {0.5, 0.75, 1} x
synthetic fraction {0, 0.25, 0.5, 1}, plus synthetic only — and a top-up axis, K in {0, 20, 40, 80}, over seeds.

Real RuMedTop3 notes are complaints (median 117 characters), a generated note a whole 2,000-character anamnesis.
``--synthetic-view`` decides what of it the classifier sees: ``head`` its first ``--synthetic-max-chars`` characters
(default 300), ``complaint`` its complaints section (medsyn_hf/text_views.py, same cap), ``full`` all of it (slow: the
rest multiplies the classifier's cost). Synthetic notes whose code no real training note has are dropped (the
classifier's codes are the real ones); eval notes with such codes are an error unless ``--drop-unseen``.

--json prints one line. Without --grid: classifier, view, rare_k, rare_codes, eval_dropped, synthetic_dropped, seeds,
real_fraction, synthetic_fraction, topup, n, n_rare, total_seconds and
  real_only, upsampled: the means over seeds (and *_std) of acc1, hit3, macro_acc1, macro_hit3 and rare_* of each,
    train_real, train_synthetic, seconds (upsampled: real + synthetic notes; only with --synthetic);
  paired_diff: {score: {diff, ci: [low, high], se (bootstrap standard error), per_seed}} upsampled minus real only
    (only with --synthetic);
  runs: every run with its bootstrap intervals (ci) and per-code scores (per_code).
With --grid: out, the same metadata, baseline (the real-only cell with the most real notes) and cells: one per
  (real_fraction, synthetic_fraction, topup) with the means, *_std and paired_diff against real only with the same
  real notes (synthetic only: against the baseline). Scores are percent; differences are percentage points.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsyn_hf import text_views
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd_data import (
    Notes,
    check_topup,
    load_labelled,
    rare_codes,
    stratified_sample,
    topup_sample,
)
from medsyn_hf.evaluation.icd_metrics import excludes_zero, icd_scores, paired_differences
from medsyn_hf.io import safe_output
from medsyn_hf.priors.plan import plan_of

RARE_K = 20  # RuMedTop3 train has 11 to 560 notes per code: 33 of its 105 codes have fewer than 20
MAX_CHARS = text_views.MAX_CHARS
GRID_REAL = (0.5, 0.75, 1.0)
GRID_SYNTHETIC = (0.0, 0.25, 0.5, 1.0)
GRID_TOPUP = (0, 20, 40, 80)
SYNTHETIC_CODE_COLUMNS = ("ICD-10", "icd10")  # our notes' schema, then the MedSyn GPT notes'
PLOTTED = {"acc1": "acc@1", "hit3": "hit@3", "rare_acc1": "rare codes: acc@1", "rare_hit3": "rare codes: hit@3"}
SUMMARISED = (
    "acc1",
    "hit3",
    "macro_acc1",
    "macro_hit3",
    "rare_acc1",
    "rare_hit3",
    "rare_macro_acc1",
    "rare_macro_hit3",
    "train_real",
    "train_synthetic",
    "seconds",
)
COMMAND = "medsyn eval icd"
PLAN_K = object()  # `--topup` without a value: the plan's K (a string const would go through `type=int`)
_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")  # a candidate's name in --synthetic NAME=PATH

Ranker = Callable[
    [np.ndarray, int], list[list[str]]
]  # (indices of training notes, seed) -> ranked codes per eval note
Cell = tuple[float, float, int]  # (real fraction, synthetic fraction, top-up K): a cell adds a fraction or a top-up


@dataclass
class Experiment:
    real: Notes
    eval: Notes
    rare: list[str]
    synthetic: Notes = field(default_factory=lambda: Notes([], []))
    synthetic_dropped: int = 0
    eval_dropped: int = 0


def prepare(
    real: Notes,
    evaluation: Notes,
    synthetic: Notes | None = None,
    rare_k: int = RARE_K,
    max_chars: int = MAX_CHARS,
    drop_unseen: bool = False,
    view: str = "head",
) -> Experiment:
    """Check the three sets against each other and take ``view`` of each synthetic note; the rare codes are those of
    the full real training set."""
    if view not in text_views.VIEWS:
        raise MedsynError(f"unknown view {view!r}; allowed: {', '.join(text_views.VIEWS)}")
    known = set(real.codes)
    unseen = sorted({code for code in evaluation.codes if code not in known})
    eval_dropped = 0
    if unseen and not drop_unseen:
        raise MedsynError(
            f"eval notes have {len(unseen)} codes no training note has ({', '.join(unseen[:5])}); "
            "pass --drop-unseen to score only the others"
        )
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
        experiment.synthetic = Notes(
            [text_views.view(synthetic.texts[i], view, max_chars) for i in keep], [synthetic.codes[i] for i in keep]
        )
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
            [texts[i] for i in index], codes[index].tolist(), experiment.eval.texts
        )
    if not Path(classifier).is_dir():
        raise MedsynError(f"--classifier {classifier}: neither 'tfidf', 'reference' nor a local model folder")
    return lambda index, seed: icd_classifier.transformer_rank(
        classifier,
        [texts[i] for i in index],
        codes[index].tolist(),
        experiment.eval.texts,
        seed=seed,
        **transformer_options,
    )


def run_cell(
    experiment: Experiment,
    rank: Ranker,
    real_fraction: float = 1.0,
    synthetic_fraction: float = 0.0,
    topup: int = 0,
    seed: int = 0,
    n_bootstrap: int = 1000,
) -> tuple[dict, list[list[str]]]:
    """Train on a stratified fraction of the real notes plus a stratified fraction of the synthetic ones or the top-up
    of every code to ``topup`` notes; score on the eval notes. Returns the scores and the predictions."""
    if topup and synthetic_fraction:
        raise MedsynError("add either a fraction of the synthetic notes or a top-up, not both")
    real = stratified_sample(experiment.real.codes, real_fraction, seed)
    if topup:
        synthetic = topup_sample([experiment.real.codes[i] for i in real], experiment.synthetic.codes, topup, seed)
    else:
        synthetic = stratified_sample(experiment.synthetic.codes, synthetic_fraction, seed)
    if not len(real) + len(synthetic):
        raise MedsynError("no training notes: both fractions are 0")
    start = time.perf_counter()
    predictions = rank(np.concatenate([real, len(experiment.real.codes) + synthetic]), seed)
    seconds = time.perf_counter() - start
    scores = icd_scores(predictions, experiment.eval.codes, experiment.rare, n_bootstrap, seed=seed)
    return (
        {
            "real_fraction": real_fraction,
            "synthetic_fraction": synthetic_fraction,
            "topup": topup,
            "seed": seed,
            "train_real": len(real),
            "train_synthetic": len(synthetic),
            "seconds": round(seconds, 2),
            **scores,
        },
        predictions,
    )


def cell_of(run: dict) -> Cell:
    return run["real_fraction"], run["synthetic_fraction"], run["topup"]


def real_only_of(cell: Cell, cells: Sequence[Cell]) -> Cell | None:
    """The cell a cell is compared with: real only with the same real notes; synthetic only: the most real notes."""
    real_fraction = cell[0] or max(c[0] for c in cells)
    reference = (real_fraction, 0.0, 0)
    return reference if reference != cell and reference in cells else None


def grid_cells(
    real_fractions: Sequence[float] = GRID_REAL,
    synthetic_fractions: Sequence[float] = GRID_SYNTHETIC,
    topups: Sequence[int] = GRID_TOPUP,
) -> list[Cell]:
    """Every (real, synthetic fraction) pair and every (real, top-up) pair, real only at each real fraction, and
    synthetic only; ordered by real fraction, then fractions, then top-ups, synthetic only last."""
    cells = {(r, s, 0) for r in real_fractions for s in synthetic_fractions}
    cells |= {(r, 0.0, k) for r in real_fractions for k in topups} | {(r, 0.0, 0) for r in real_fractions}
    cells.add((0.0, 1.0, 0))
    return sorted(cells, key=lambda c: (c[0] == 0, c[0], c[2] > 0, c[1], c[2]))


def run_cells(
    experiment: Experiment,
    rank: Ranker,
    cells: Sequence[Cell],
    seeds: Sequence[int],
    n_bootstrap: int = 1000,
    log=None,
) -> tuple[list[dict], dict]:
    """Every cell with every seed: the runs, and the predictions by (cell, seed) for the paired comparisons."""
    runs, predictions = [], {}
    for seed in seeds:
        for cell in cells:
            run, predictions[cell, seed] = run_cell(experiment, rank, *cell, seed=seed, n_bootstrap=n_bootstrap)
            runs.append(run)
            if log:
                log(
                    f"seed {seed} {_label(run)} (real {cell[0]:g}): acc@1 {run['acc1']:.2f} hit@3 {run['hit3']:.2f} "
                    f"({run['seconds']:.0f} s)"
                )
    return runs, predictions


def summarise(runs: list[dict], predictions: dict, experiment: Experiment, n_bootstrap: int = 1000) -> list[dict]:
    """Per cell: the mean and standard deviation over seeds of each score (a score that is None in a run is left out)
    and the paired difference to its real-only cell (:func:`real_only_of`), on the same seeds."""
    groups = {}
    for run in runs:
        groups.setdefault(cell_of(run), []).append(run)
    summary = []
    for cell, group in groups.items():
        row = {"real_fraction": cell[0], "synthetic_fraction": cell[1], "topup": cell[2], "seeds": len(group)}
        for key in SUMMARISED:
            values = [run[key] for run in group if run[key] is not None]
            row[key] = round(float(np.mean(values)), 2) if values else None
            if key not in ("train_real", "train_synthetic", "seconds"):
                row[f"{key}_std"] = round(float(np.std(values)), 2) if values else None
        reference = real_only_of(cell, list(groups))
        if reference is not None:
            seeds = [run["seed"] for run in group]
            row["vs_real_fraction"] = reference[0]
            row["paired_diff"] = paired_differences(
                [predictions[reference, s] for s in seeds],
                [predictions[cell, s] for s in seeds],
                experiment.eval.codes,
                experiment.rare,
                n_bootstrap,
                seed=seeds[0],
            )
        summary.append(row)
    return summary


def compare(
    train: Notes,
    evaluation: Notes,
    synthetic: Notes | None = None,
    topup: int | None = None,
    synthetic_fraction: float | None = None,
    view: str = "head",
    seeds: Sequence[int] = (0,),
    real_fraction: float = 1.0,
    rare_k: int = RARE_K,
    max_chars: int = MAX_CHARS,
    n_bootstrap: int = 1000,
    classifier: str = "tfidf",
    drop_unseen: bool = False,
    log=None,
    **transformer_options,
) -> dict:
    """Real only against real plus synthetic notes (a top-up to ``topup`` notes per code, else ``synthetic_fraction``
    of them, default all), on the same eval notes and ``seeds``: the dict that `medsyn eval icd --json` prints (see
    the module), without total_seconds. Without ``synthetic``: real only."""
    if topup is not None:
        check_topup(topup)
    if topup is not None and synthetic_fraction is not None:
        raise MedsynError("--topup and --synthetic-fraction are alternatives: add a top-up or a fraction, not both")
    if (topup is not None or synthetic_fraction is not None) and synthetic is None:
        raise MedsynError("--topup and --synthetic-fraction need --synthetic")
    if not seeds:
        raise MedsynError("--seeds: give at least one seed")
    if synthetic_fraction == 0 or not 0 < real_fraction <= 1:
        raise MedsynError("--synthetic-fraction 0 adds nothing, and --real-fraction must be above 0 and at most 1")
    experiment = prepare(train, evaluation, synthetic, rare_k, max_chars, drop_unseen, view)
    rank = make_ranker(experiment, classifier, **transformer_options)
    fraction = 0.0 if synthetic is None or topup else 1.0 if synthetic_fraction is None else synthetic_fraction
    cells = [(real_fraction, 0.0, 0)] + ([(real_fraction, fraction, topup or 0)] if synthetic is not None else [])
    runs, predictions = run_cells(experiment, rank, cells, seeds, n_bootstrap, log)
    summary = {
        (row["real_fraction"], row["synthetic_fraction"], row["topup"]): row
        for row in summarise(runs, predictions, experiment, n_bootstrap)
    }
    result = {
        "classifier": classifier,
        "view": view,
        "rare_k": rare_k,
        "rare_codes": experiment.rare,
        "eval_dropped": experiment.eval_dropped,
        "synthetic_dropped": experiment.synthetic_dropped,
        "seeds": list(seeds),
        "real_fraction": real_fraction,
        "synthetic_fraction": fraction,
        "topup": topup or 0,
        "n": runs[0]["n"],
        "n_rare": runs[0]["n_rare"],
        "real_only": _means(summary[cells[0]]),
    }
    if synthetic is not None:
        result["upsampled"] = _means(summary[cells[1]])
        result["paired_diff"] = summary[cells[1]]["paired_diff"]
    result["runs"] = runs
    return result


def _means(row: dict) -> dict:
    return {
        key: value
        for key, value in row.items()
        if key not in ("real_fraction", "synthetic_fraction", "topup", "seeds", "vs_real_fraction", "paired_diff")
    }


def baseline_of(summary: list[dict]) -> dict:
    """The real-only cell with the most real notes."""
    return max(
        (row for row in summary if row["synthetic_fraction"] == 0 and not row["topup"]),
        key=lambda row: row["real_fraction"],
    )


def _label(row: dict) -> str:
    if row["real_fraction"] == 0:
        return "synthetic only"
    if row["topup"]:
        return f"top-up to {row['topup']}"
    return f"{row['synthetic_fraction']:g}" if row["synthetic_fraction"] else "real only"


def markdown_table(summary: list[dict]) -> str:
    """One row per cell: mean ± std over seeds, and the paired difference to real only with the same real notes,
    starred where its 95 % interval excludes 0."""
    lines = [
        "| real | synthetic | training notes (real + synthetic) | " + " | ".join(PLOTTED.values()) + " |",
        "|---:|---:|---:|" + "---:|" * len(PLOTTED),
    ]
    for row in summary:
        cells = []
        for key in PLOTTED:
            if row[key] is None:
                cells.append("—")
                continue
            difference = row.get("paired_diff", {}).get(key)
            delta = f" ({difference['diff']:+.2f}{'*' if excludes_zero(difference) else ''})" if difference else ""
            cells.append(f"{row[key]:.2f} ± {row[f'{key}_std']:.2f}{delta}")
        lines.append(
            f"| {row['real_fraction']:g} | {_label(row)} | {row['train_real']:.0f} + "
            f"{row['train_synthetic']:.0f} | " + " | ".join(cells) + " |"
        )
    return (
        "\n".join(lines) + "\n\nMean ± std over seeds; in brackets the paired difference to real only with the same "
        "real notes (synthetic only: the most real notes), * where its 95 % bootstrap interval excludes 0.\n"
    )


def plot_grid(summary: list[dict], path: Path) -> None:
    """acc@1 and hit@3, overall and on rare codes, against the synthetic fraction (top row) and the top-up K (bottom
    row, when the grid has one): a line per real fraction, the real-only baseline dashed, synthetic only in words, a
    star where the paired difference to real only excludes 0."""
    from matplotlib.figure import Figure

    baseline = baseline_of(summary)
    has_topup = any(row["topup"] for row in summary)
    axes_rows = [("synthetic_fraction", "synthetic fraction")] + ([("topup", "top-up: notes per code")] * has_topup)
    figure = Figure(figsize=(18, 4.5 * len(axes_rows)), layout="constrained")
    grid = figure.subplots(len(axes_rows), len(PLOTTED), squeeze=False)
    for (axis_key, axis_label), row_axes in zip(axes_rows, grid):
        other = "topup" if axis_key == "synthetic_fraction" else "synthetic_fraction"
        for axes, (key, title) in zip(row_axes, PLOTTED.items()):
            for real_fraction in sorted({row["real_fraction"] for row in summary} - {0.0}):
                rows = sorted(
                    (
                        r
                        for r in summary
                        if r["real_fraction"] == real_fraction and not r[other] and r[key] is not None
                    ),
                    key=lambda r: r[axis_key],
                )
                axes.errorbar(
                    [r[axis_key] for r in rows],
                    [r[key] for r in rows],
                    yerr=[r[f"{key}_std"] for r in rows],
                    marker="o",
                    capsize=3,
                    label=f"real {real_fraction:g}",
                )
                starred = [r for r in rows if excludes_zero(r.get("paired_diff", {}).get(key, {}))]
                axes.scatter(
                    [r[axis_key] for r in starred],
                    [r[key] for r in starred],
                    marker="*",
                    s=220,
                    color="black",
                    zorder=3,
                )
            if baseline[key] is not None:
                axes.axhline(baseline[key], color="grey", linestyle="--", label="real only")
            for row in summary:  # far below the others: as text, so that the axis keeps their differences readable
                if row["real_fraction"] == 0 and row[key] is not None and axis_key == "synthetic_fraction":
                    axes.text(
                        0.98,
                        0.03,
                        f"synthetic only: {row[key]:.2f} ± {row[f'{key}_std']:.2f}",
                        ha="right",
                        transform=axes.transAxes,
                    )
            axes.set(title=title, xlabel=axis_label, ylabel="%")
            axes.grid(alpha=0.3)
    grid[0][0].legend(fontsize=8)
    figure.suptitle(
        "mean ± std over seeds; ★ the 95 % paired bootstrap interval of the difference to real only excludes 0"
    )
    figure.savefig(path, dpi=100)


def write_grid(tmp: Path, runs: list[dict], summary: list[dict], meta: dict) -> None:
    """grid.md, grid.png and grid.json (every run, with per-code scores) into the temporary folder of safe_output."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "grid.md").write_text(markdown_table(summary), encoding="utf-8")
    plot_grid(summary, tmp / "grid.png")
    (tmp / "grid.json").write_text(
        json.dumps({**meta, "summary": summary, "runs": runs}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def add_cli(eval_subparsers) -> argparse.ArgumentParser:
    parser = eval_subparsers.add_parser(
        "icd",
        help="ICD-code classifier on real notes ± synthetic ones: acc@1, hit@3, rare codes, top-up, MedSyn grid",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", required=True, help="real training notes (RuMedTop3 train_v1.jsonl or any dataset)")
    data.add_argument("--eval", required=True, help="notes to score on (RuMedTop3 dev_v1.jsonl)")
    data.add_argument("--text-column", default="symptoms", help="text column of --train and --eval")
    data.add_argument("--code-column", default="code", help="ICD-10 column of --train and --eval")
    data.add_argument(
        "--synthetic",
        action="append",
        metavar="[NAME=]PATH",
        help="synthetic notes: a .jsonl(.gz)/.parquet file, a dataset folder or a Hub id; with --choose-on-train, "
        "repeat it with names (selected=PATH --synthetic all=PATH) to choose between candidates",
    )
    data.add_argument("--synthetic-split", help="split of a multi-split synthetic dataset (default: train)")
    data.add_argument("--synthetic-text-column", default="response")
    data.add_argument(
        "--synthetic-code-column",
        help=f"ICD-10 column, subcodes allowed (default: the first of {', '.join(SYNTHETIC_CODE_COLUMNS)})",
    )
    data.add_argument(
        "--synthetic-view",
        choices=text_views.VIEWS,
        default="head",
        help="what of each synthetic note the classifier sees (default: head)",
    )
    data.add_argument(
        "--synthetic-max-chars",
        type=int,
        default=MAX_CHARS,
        help="cap of the head and complaint views, in characters (0: none)",
    )
    data.add_argument("--drop-unseen", action="store_true", help="skip eval notes whose code no training note has")
    run = parser.add_argument_group("experiment")
    run.add_argument("--real-fraction", type=float, default=1.0, help="stratified share of the real notes")
    run.add_argument(
        "--topup",
        type=int,
        nargs="?",
        const=PLAN_K,
        metavar="K",
        help="bring every code up to K training notes with synthetic notes of that code; without K, or by default "
        "when the synthetic dataset carries a plan (`medsyn plan`'s plan.json) and no --synthetic-fraction is given: "
        "the plan's K",
    )
    run.add_argument(
        "--synthetic-fraction",
        type=float,
        help="stratified share of the synthetic notes instead of a top-up (default with --synthetic: 1)",
    )
    run.add_argument("--seeds", "--seed", type=_ints, help="comma-separated (default: 0; with --grid: 0,1,2)")
    run.add_argument("--rare-k", type=int, default=RARE_K, help="rare codes have fewer than K real training notes")
    run.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (0: none)"
    )
    run.add_argument("--grid", action="store_true", help="run the MedSyn grid instead (needs --synthetic and --out)")
    run.add_argument("--real-fractions", type=_floats, default=GRID_REAL, help="grid: comma-separated")
    run.add_argument("--synthetic-fractions", type=_floats, default=GRID_SYNTHETIC, help="grid: comma-separated")
    run.add_argument(
        "--topups",
        type=_ints,
        default=GRID_TOPUP,
        help="grid and --choose-on-train: comma-separated K (0: no top-up); default 0,20,40,80",
    )
    run.add_argument(
        "--out",
        type=Path,
        help="folder for grid.md, grid.png, grid.json (--grid) or choice.md, choice.json, split (--choose-on-train)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace --out even if another command wrote it")
    model = parser.add_argument_group("classifier")
    model.add_argument(
        "--classifier",
        default="tfidf",
        help="'tfidf' (fast RuMedBench baseline), 'reference' (RuMedBench's code as published, slow) "
        "or a local encoder folder to fine-tune",
    )
    model.add_argument("--epochs", type=float, default=3.0, help="encoder only")
    model.add_argument("--learning-rate", type=float, default=5e-5, help="encoder only")
    model.add_argument("--batch-size", type=int, default=16, help="encoder only")
    model.add_argument("--max-length", type=int, default=256, help="encoder only: tokens per note")
    parser.add_argument("--json", action="store_true", help="print one JSON line (keys: see above)")
    parser.set_defaults(func=_run)
    return parser


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


def check_arguments(args) -> None:
    """Everything that can be checked before the data is read."""
    if args.grid and not (args.synthetic and args.out):
        raise MedsynError("--grid needs --synthetic and --out")
    if args.grid and (args.topup is not None or args.synthetic_fraction is not None):
        raise MedsynError(
            "--grid takes its cells from --real-fractions, --synthetic-fractions and --topups, "
            "not --topup or --synthetic-fraction"
        )
    if args.topup is not None:
        check_topup(args.topup)
    if any(k < 0 for k in args.topups):
        raise MedsynError("--topups: each K must be at least 0 (0: no top-up)")
    fractions = (
        args.real_fraction,
        *args.real_fractions,
        *args.synthetic_fractions,
        *([args.synthetic_fraction] if args.synthetic_fraction is not None else []),
    )
    if not all(0 <= f <= 1 for f in fractions) or args.real_fraction == 0 or 0 in args.real_fractions:
        raise MedsynError("fractions must lie between 0 and 1, real ones above 0")
    if args.rare_k < 1 or args.bootstrap < 0 or args.synthetic_max_chars < 0:
        raise MedsynError("--rare-k must be at least 1, --bootstrap and --synthetic-max-chars at least 0")


def _plan_topup(args, synthetic: str | None) -> None:
    """``--topup`` from the plan the synthetic dataset carries: K when ``--topup`` has no value, and by default (no
    ``--topup``, ``--synthetic-fraction`` or ``--grid``)."""
    asked = args.topup is PLAN_K
    if not (asked or (synthetic and args.topup is None and args.synthetic_fraction is None and not args.grid)):
        return
    plan = plan_of(synthetic) if synthetic else None
    if plan is not None:
        args.topup = plan.fill_to
        if not args.json:
            print(f"--topup {plan.fill_to}: the K of the plan {synthetic} carries", file=sys.stderr)
    elif asked:
        raise MedsynError(
            f"--topup without K takes the plan's K, but {synthetic or 'no --synthetic'} carries no plan "
            "(plan.json); give --topup K"
        )


def synthetic_sources(values: Sequence[str] | None) -> dict[str, str]:
    """``--synthetic`` values by name: ``NAME=PATH``, or a plain path (an existing path, or one without a name before
    an ``=``) named by itself."""
    sources = {}
    for value in values or ():
        name, separator, path = value.partition("=")
        if not separator or not _NAME.fullmatch(name) or Path(value).exists():
            name, path = value, value
        if not path:
            raise MedsynError(f"--synthetic {value}: no path after the name")
        if name in sources:
            raise MedsynError(f"--synthetic {name}: given twice; give each candidate once, with its own name")
        sources[name] = path
    return sources


def _run(args) -> int:
    sources = synthetic_sources(args.synthetic)
    if len(sources) > 1:
        raise MedsynError("several --synthetic candidates are chosen between with --choose-on-train; else give one")
    synthetic = next(iter(sources.values()), None)
    _plan_topup(args, synthetic)
    check_arguments(args)
    import datasets

    datasets.disable_progress_bars()
    start = time.perf_counter()
    log = None if args.json else lambda line: print(line, file=sys.stderr, flush=True)
    transformer_options = {
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
    }
    load = (
        load_labelled(args.train, args.text_column, args.code_column),
        load_labelled(args.eval, args.text_column, args.code_column),
        load_labelled(
            synthetic,
            args.synthetic_text_column,
            args.synthetic_code_column or SYNTHETIC_CODE_COLUMNS,
            args.synthetic_split,
        )
        if synthetic
        else None,
    )
    if args.grid:
        with safe_output(
            args.out, command=COMMAND, inputs=[args.train, args.eval, synthetic], overwrite=args.overwrite
        ) as tmp:
            experiment = prepare(*load, args.rare_k, args.synthetic_max_chars, args.drop_unseen, args.synthetic_view)
            rank = make_ranker(experiment, args.classifier, **transformer_options)
            cells = grid_cells(args.real_fractions, args.synthetic_fractions, args.topups)
            runs, predictions = run_cells(
                experiment,
                rank,
                cells,
                args.seeds or (0, 1, 2),
                args.bootstrap,
                log=lambda line: print(line, file=sys.stderr, flush=True),
            )
            summary = summarise(runs, predictions, experiment, args.bootstrap)
            meta = {
                "classifier": args.classifier,
                "view": args.synthetic_view,
                "eval_dropped": experiment.eval_dropped,
                "synthetic_dropped": experiment.synthetic_dropped,
                "rare_k": args.rare_k,
                "rare_codes": experiment.rare,
            }
            write_grid(tmp, runs, summary, meta)
        result = {"out": str(args.out), **meta, "baseline": baseline_of(summary), "cells": summary}
    else:
        result = compare(
            *load,
            topup=args.topup,
            synthetic_fraction=args.synthetic_fraction,
            view=args.synthetic_view,
            seeds=args.seeds or (0,),
            real_fraction=args.real_fraction,
            rare_k=args.rare_k,
            max_chars=args.synthetic_max_chars,
            n_bootstrap=args.bootstrap,
            classifier=args.classifier,
            drop_unseen=args.drop_unseen,
            log=log,
            **transformer_options,
        )
    result["total_seconds"] = round(time.perf_counter() - start, 2)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif args.grid:
        print(markdown_table(result["cells"]) + f"\nwritten: {args.out}/grid.md, grid.png, grid.json")
    else:
        print(report_text(result))
    return 0


def report_text(result: dict) -> str:
    """The comparison as a small table: real only, with synthetic notes, their paired difference and its interval."""
    added = result.get("upsampled")
    how = (
        f"top-up to {result['topup']} notes per code"
        if result["topup"]
        else f"synthetic fraction {result['synthetic_fraction']:g}"
    )
    lines = [
        f"train: {result['real_only']['train_real']:.0f} real notes"
        + (f" + {added['train_synthetic']:.0f} synthetic ({how}, {result['view']} view)" if added else ", 0 synthetic")
        + (
            f" ({result['synthetic_dropped']} synthetic notes dropped: codes outside the real ones)"
            if result["synthetic_dropped"]
            else ""
        )
        + f"; eval: {result['n']} notes"
        + (f" ({result['eval_dropped']} dropped)" if result["eval_dropped"] else "")
        + f"; rare codes (< {result['rare_k']} real training notes): {len(result['rare_codes'])} codes, "
        f"{result['n_rare']} eval notes; seeds {','.join(map(str, result['seeds']))}",
        f"{'':16s} {'real only':>10s}" + (f" {'+ synthetic':>12s}  difference [95% CI]" if added else ""),
    ]
    names = {"acc1": "acc@1", "hit3": "hit@3", "macro_acc1": "macro acc@1", "macro_hit3": "macro hit@3"}
    for prefix in ("", "rare_"):
        for key, name in names.items():
            key = prefix + key
            value = result["real_only"][key]
            line = f"{('rare ' if prefix else '') + name:16s} {'—' if value is None else f'{value:.2f}':>10s}"
            difference = result.get("paired_diff", {}).get(key)
            if added and difference:
                low_high = difference["ci"]
                line += (
                    f" {added[key]:12.2f}  {difference['diff']:+.2f}"
                    + (f" [{low_high[0]:+.2f}, {low_high[1]:+.2f}]" if low_high else "")
                    + (" *" if excludes_zero(difference) else "")
                )
            lines.append(line)
    lines.append(f"(* the interval excludes 0; {result['real_only']['seconds']:.1f} s per real-only fit)")
    return "\n".join(lines)
