"""`medsyn eval icd`'s experiment: real notes (optionally a fraction of them) plus synthetic ones (a fraction or a
top-up) train a classifier, scored on eval notes against real only, cell by cell and seed by seed; the comparison
(:func:`compare`) and the MedSyn grid (:func:`grid_cells`, :func:`summarise`). What the command prints is
``render.py``, its options ``arguments.py``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsyn_hf import text_views
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd import classifier as icd_classifier
from medsyn_hf.evaluation.icd.metrics import icd_scores, paired_differences
from medsyn_hf.evaluation.icd.sampling import (
    LabelledNotes,
    check_topup,
    rare_codes,
    stratified_sample,
    topup_sample,
)

RARE_K = 20  # RuMedTop3 train has 11 to 560 notes per code: 33 of its 105 codes have fewer than 20
MAX_CHARS = text_views.MAX_CHARS
GRID_REAL = (0.5, 0.75, 1.0)
GRID_SYNTHETIC = (0.0, 0.25, 0.5, 1.0)
GRID_TOPUP = (0, 20, 40, 80)
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

Ranker = Callable[
    [np.ndarray, int], list[list[str]]
]  # (indices of training notes, seed) -> ranked codes per eval note
Cell = tuple[float, float, int]  # (real fraction, synthetic fraction, top-up K): a cell adds a fraction or a top-up


@dataclass
class Experiment:
    real: LabelledNotes
    eval: LabelledNotes
    rare: list[str]
    synthetic: LabelledNotes = field(default_factory=lambda: LabelledNotes([], []))
    synthetic_dropped: int = 0
    eval_dropped: int = 0


def prepare(
    real: LabelledNotes,
    evaluation: LabelledNotes,
    synthetic: LabelledNotes | None = None,
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
        evaluation = LabelledNotes([evaluation.texts[i] for i in keep], [evaluation.codes[i] for i in keep])
    experiment = Experiment(real, evaluation, rare_codes(real.codes, rare_k), eval_dropped=eval_dropped)
    if synthetic is not None:
        keep = [i for i, code in enumerate(synthetic.codes) if code in known]
        if not keep:
            raise MedsynError("no synthetic note has a code of the real training notes")
        experiment.synthetic = LabelledNotes(
            [text_views.view(synthetic.texts[i], view, max_chars) for i in keep], [synthetic.codes[i] for i in keep]
        )
        experiment.synthetic_dropped = len(synthetic.codes) - len(keep)
    return experiment


def make_ranker(experiment: Experiment, classifier: str = "tfidf", **transformer_options) -> Ranker:
    """Real notes then synthetic ones form one pool; features are computed once for the pool and the eval notes."""
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
                    f"seed {seed} {cell_label(run)} (real {cell[0]:g}): acc@1 {run['acc1']:.2f} "
                    f"hit@3 {run['hit3']:.2f} ({run['seconds']:.0f} s)"
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
    train: LabelledNotes,
    evaluation: LabelledNotes,
    synthetic: LabelledNotes | None = None,
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


def cell_label(row: dict) -> str:
    """A grid cell in words: real only, a synthetic fraction, a top-up or synthetic only."""
    if row["real_fraction"] == 0:
        return "synthetic only"
    if row["topup"]:
        return f"top-up to {row['topup']}"
    return f"{row['synthetic_fraction']:g}" if row["synthetic_fraction"] else "real only"
