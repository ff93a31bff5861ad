"""`medsyn eval icd --choose-on-train`: choose which synthetic notes to add — the candidate dataset, the view of its
notes, the top-up K — on a validation split of the training notes only, then train once on all of them and report
once on ``--eval``. `eval icd --topup` reports a configuration someone chose; this chooses it without looking at
``--eval``.

1. Split ``--train``, stratified by code, into a fit part and validation notes (``--validation-fraction``, default
   0.2, ``--split-seed``), or take the validation notes you give (``--validation``; ``--train`` is then the fit part).
2. On the validation notes, compare real only (the fit part) with every cell: candidate (``--synthetic NAME=PATH``,
   repeatable) x view (``--synthetic-views``) x K (``--topups``, default 20, 40, 80, and ``--topup K`` if given, in
   notes per code of the whole training set; on the fit part K x its share of the notes, so that a cell adds what K
   would add to all of them), each over ``--seeds``, with the paired bootstrap. Rare codes are those of the whole
   training set, on validation as on ``--eval``.
3. Choose with ``--choice-rule`` (``medsyn_hf/evaluation/icd/rule.py``): by default the smallest intervention whose
   ``--choose-by`` gain (rare-code hit@3) is within one standard error of the best gain, among the cells that lose
   no acc@1 beyond noise (``--max-acc1-drop`` more points allowed). Real only is a cell: when no gain stands out of
   the noise, nothing is added.
4. Train on all of ``--train`` (plus the chosen cell's notes) and report on ``--eval`` as `eval icd --topup` does.

Caveat — selection that saw the validation notes: if a candidate's notes were selected with a classifier (or
anything else) fitted on all of ``--train``, the validation notes took part in the selection, which flatters that
candidate on validation. To avoid it, write the split first (``--split-only --out DIR``: ``DIR/fit.jsonl``,
``DIR/validation.jsonl``), select with ``DIR/fit.jsonl`` as the real notes, then choose with
``--train DIR/fit.jsonl --validation DIR/validation.jsonl``.

Cost: the n-grams of every note are counted once; a training set met twice (real only over seeds, a candidate with
too few notes to differ between seeds, two candidates that add the same notes) is fitted once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from medsyn_hf import text_views
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd import experiment as icd
from medsyn_hf.evaluation.icd import rule as icd_rule
from medsyn_hf.evaluation.icd.metrics import KEYS, icd_scores, paired_differences
from medsyn_hf.evaluation.icd.sampling import LabelledNotes, rare_codes, stratified_sample, topup_sample

VIEWS = ("head", "complaint")
VALIDATION_FRACTION = 0.2
CAVEAT = (
    "If a candidate's notes were selected with a model fitted on all of --train, the validation notes took part in "
    "that selection; select on the fit part instead (--split-only --out DIR, then --train DIR/fit.jsonl "
    "--validation DIR/validation.jsonl)."
)


def split_train(codes: Sequence[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices: ``fraction`` of each code's notes held out (a code keeps at least one fit note)."""
    if not 0 < fraction < 1:
        raise MedsynError(f"--validation-fraction {fraction}: must lie strictly between 0 and 1")
    fit = stratified_sample(list(codes), 1 - fraction, seed)
    validation = np.setdiff1d(np.arange(len(codes)), fit)
    if not len(validation):
        raise MedsynError(f"--validation-fraction {fraction} holds out no note: give a larger share")
    return fit, validation


def notes_at(notes: LabelledNotes, index: np.ndarray) -> LabelledNotes:
    return LabelledNotes([notes.texts[i] for i in index], [notes.codes[i] for i in index])


class Pool:
    """The fit part's real notes and every (candidate, view)'s synthetic notes, each distinct (text, code) counted once
    (a note in two candidates, or twice in one, is one row, trained on as often as it is drawn, as `eval icd --topup`
    does), and a ranker that fits each distinct training set once: for the linear baselines the seed only decides which
    synthetic notes are drawn (its other use, liblinear's coordinate order, moves scores by solver noise only), so the
    first seed's fit of a training set serves every seed; a fine-tuned encoder is fitted per seed."""

    def __init__(
        self,
        fit: LabelledNotes,
        held: LabelledNotes,
        candidates: dict[str, LabelledNotes],
        views: Sequence[str],
        rare: Sequence[str],
        max_chars: int = icd.MAX_CHARS,
        drop_unseen: bool = False,
        classifier: str = "tfidf",
        **transformer_options,
    ):
        rows: dict[tuple[str, str], int] = {}
        self.blocks: dict[tuple[str, str], tuple[np.ndarray, list[str]]] = {}
        self.dropped: dict[str, int] = {}
        part = icd.prepare(fit, held, drop_unseen=drop_unseen)
        for name, notes in candidates.items():
            for view in views:
                try:
                    part = icd.prepare(fit, held, notes, max_chars=max_chars, drop_unseen=drop_unseen, view=view)
                except MedsynError as err:
                    raise MedsynError(f"--synthetic {name}: {err}") from None
                pairs = zip(part.synthetic.texts, part.synthetic.codes)
                index = np.array([rows.setdefault(pair, len(rows)) for pair in pairs], dtype=int)
                self.blocks[name, view] = index, part.synthetic.codes
                self.dropped[name] = part.synthetic_dropped
        synthetic = LabelledNotes([text for text, _ in rows], [code for _, code in rows])  # in row order
        self.experiment = icd.Experiment(part.real, part.eval, sorted(rare), synthetic, eval_dropped=part.eval_dropped)
        self._rank = icd.make_ranker(self.experiment, classifier, **transformer_options)
        self._seeded = classifier not in ("tfidf", "reference")
        self._cache: dict[bytes, list[list[str]]] = {}
        self.fits, self.seconds = 0, 0.0

    def predict(self, synthetic_rows: np.ndarray, seed: int) -> list[list[str]]:
        """Ranked codes for the held-out notes of a classifier trained on the real notes plus these pool rows."""
        n_real = len(self.experiment.real.codes)
        index = np.concatenate([np.arange(n_real), n_real + np.sort(synthetic_rows)])
        key = index.tobytes() + (str(seed).encode() if self._seeded else b"")
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = self._rank(index, seed)
            self.fits, self.seconds = self.fits + 1, self.seconds + time.perf_counter() - start
        return self._cache[key]


def configurations(candidates: Sequence[str], views: Sequence[str], topups: Sequence[int]) -> list[dict]:
    """Real only, then every candidate x view x K (K of 0 is real only, already there)."""
    ks = sorted({k for k in topups if k > 0})
    return [{"candidate": None, "view": None, "topup": 0}] + [
        {"candidate": name, "view": view, "topup": k} for name in candidates for view in views for k in ks
    ]


def fit_configurations(pool: Pool, configs: list[dict], seeds: Sequence[int], share: float, log=None) -> list[dict]:
    """Every configuration with every seed on the pool: the configuration with ``topup_applied`` (K x ``share``,
    at least 1), the predictions and the synthetic notes added, by seed."""
    fit_codes = pool.experiment.real.codes
    fitted = []
    for config in configs:
        applied = max(1, round(config["topup"] * share)) if config["topup"] else 0
        predictions, added = {}, {}
        for seed in seeds:
            rows = np.zeros(0, dtype=int)
            if applied:
                block, codes = pool.blocks[config["candidate"], config["view"]]
                rows = block[topup_sample(fit_codes, codes, applied, seed)]
            fits, seconds = pool.fits, pool.seconds
            predictions[seed], added[seed] = pool.predict(rows, seed), len(rows)
            if log:
                log(
                    f"validation: {label(config)}, seed {seed}: {added[seed]} synthetic notes, "
                    + (f"{pool.seconds - seconds:.0f} s" if pool.fits > fits else "same training set: not refitted")
                )
        fitted.append({**config, "topup_applied": applied, "predictions": predictions, "train_synthetic": added})
    return fitted


class Scores:
    """The fitted configurations scored on held-out notes (``subset``: indices of ``references``; default all): each
    one's cell, and paired differences between any two, on the same notes and seeds."""

    def __init__(self, fitted, references: Sequence[str], rare, n_bootstrap: int, seed: int, subset=None):
        self.fitted, self.rare, self.n_bootstrap, self.seed = fitted, list(rare), n_bootstrap, seed
        self.keep = np.arange(len(references)) if subset is None else np.asarray(subset)
        self.references = [references[i] for i in self.keep]
        self._paired: dict[tuple[int, int], dict] = {}

    def _predictions(self, config: int) -> list[list[list[str]]]:
        """The configuration's predictions on the kept notes, seed by seed."""
        return [[ranked[i] for i in self.keep] for ranked in self.fitted[config]["predictions"].values()]

    def paired(self, i: int, j: int) -> dict:
        """Configuration ``j`` minus configuration ``i``: :func:`paired_differences` of every score."""
        if (i, j) not in self._paired:
            self._paired[i, j] = paired_differences(
                self._predictions(i),
                self._predictions(j),
                self.references,
                self.rare,
                self.n_bootstrap,
                seed=self.seed,
            )
        return self._paired[i, j]

    def cells(self) -> list[dict]:
        """Each configuration's cell: the mean over seeds of its scores and, against real only (the first), the
        paired differences."""
        cells = []
        for i, config in enumerate(self.fitted):
            runs = [icd_scores(ranked, self.references, self.rare, n_bootstrap=0) for ranked in self._predictions(i)]
            cell = {key: config[key] for key in ("candidate", "view", "topup", "topup_applied")}
            cell["size"] = cell["train_synthetic"] = float(np.mean(list(config["train_synthetic"].values())))
            cell.update({key: _mean([run[key] for run in runs]) for key in KEYS})
            if i:
                cell["paired_diff"] = self.paired(0, i)
            cells.append(cell)
        return cells

    def choose(self, cells: list[dict], rule: str, choose_by: str, max_acc1_drop: float) -> dict:
        """:func:`icd_rule.choose` on these cells, their paired differences to each other at hand."""
        return icd_rule.choose(cells, rule, choose_by, max_acc1_drop, versus=lambda i, j: self.paired(i, j)[choose_by])

    def decide(self, cells: list[dict], rule: str, choose_by: str, max_acc1_drop: float) -> dict:
        """Apply the rule to the cells; every cell gets its ``verdict``, ``best`` and ``chosen``."""
        decision = self.choose(cells, rule, choose_by, max_acc1_drop)
        for i, (cell, verdict) in enumerate(zip(cells, decision["verdicts"])):
            cell["verdict"] = verdict
            cell["chosen"] = i == decision["chosen"]
            cell["best"] = i == decision["best"]
        return decision


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def label(cell: dict) -> str:
    if not cell["candidate"] and not cell["topup"]:
        return "real only"
    applied = cell.get("topup_applied")
    scaled = f" ({applied} on the fit part)" if applied and applied != cell["topup"] else ""
    return f"{cell['candidate']}, {cell['view']} view, top-up to {cell['topup']}{scaled}"


def choose_on_train(
    train: LabelledNotes,
    evaluation: LabelledNotes,
    candidates: dict[str, LabelledNotes],
    validation: LabelledNotes | None = None,
    views: Sequence[str] = VIEWS,
    topups: Sequence[int] = icd.GRID_TOPUP,
    seeds: Sequence[int] = (0, 1, 2),
    validation_fraction: float = VALIDATION_FRACTION,
    split_seed: int = 0,
    rule: str = "one-se",
    choose_by: str = "rare_hit3",
    max_acc1_drop: float = 0.0,
    rare_k: int = icd.RARE_K,
    max_chars: int = icd.MAX_CHARS,
    n_bootstrap: int = 1000,
    classifier: str = "tfidf",
    drop_unseen: bool = False,
    log=None,
    **transformer_options,
) -> dict:
    """The protocol (see the module): the dict `eval icd --choose-on-train --json` prints, without total_seconds —
    `eval icd`'s comparison of the chosen configuration on ``evaluation`` plus ``choose_on_train``."""
    check(candidates, views, topups, seeds, rule, choose_by, max_acc1_drop, n_bootstrap)
    if validation is None:
        fit_index, held_index = split_train(train.codes, validation_fraction, split_seed)
        fit, held = notes_at(train, fit_index), notes_at(train, held_index)
    else:
        fit, held = train, validation
        train = LabelledNotes(fit.texts + held.texts, fit.codes + held.codes)
    rare = rare_codes(train.codes, rare_k)
    share = len(fit.codes) / len(train.codes)
    pool = Pool(fit, held, candidates, views, rare, max_chars, drop_unseen, classifier, **transformer_options)
    configs = configurations(list(candidates), views, topups)
    fitted = fit_configurations(pool, configs, seeds, share, log)
    references = pool.experiment.eval.codes
    scores = Scores(fitted, references, rare, n_bootstrap, seeds[0])
    cells = scores.cells()
    decision = scores.decide(cells, rule, choose_by, max_acc1_drop)
    chosen = cells[decision["chosen"]]
    if log:
        log(f"chosen on validation: {label(chosen)}; reporting on --eval, trained on all {len(train.codes)} notes")
    report = icd.compare(
        train,
        evaluation,
        candidates[chosen["candidate"]] if chosen["candidate"] else None,
        topup=chosen["topup"] or None,
        view=chosen["view"] or "head",
        seeds=seeds,
        rare_k=rare_k,
        max_chars=max_chars,
        n_bootstrap=n_bootstrap,
        classifier=classifier,
        drop_unseen=drop_unseen,
        log=log,
        **transformer_options,
    )
    report["choose_on_train"] = {
        "rule": rule,
        "choose_by": choose_by,
        "max_acc1_drop": max_acc1_drop,
        "validation_fraction": None if validation is not None else validation_fraction,
        "split_seed": None if validation is not None else split_seed,
        "fit_notes": len(fit.codes),
        "validation_notes": len(references),
        "validation_rare_notes": sum(code in set(rare) for code in references),
        "validation_dropped": pool.experiment.eval_dropped,
        "share": round(share, 4),
        "views": list(views),
        "topups": sorted({k for k in topups if k > 0}),
        "candidates": {
            name: {"notes": len(notes.codes), "dropped": pool.dropped[name]} for name, notes in candidates.items()
        },
        "fits": pool.fits,
        "fit_seconds": round(pool.seconds, 1),
        "threshold": decision["threshold"],
        "chosen": {key: chosen[key] for key in ("candidate", "view", "topup", "topup_applied")},
        "cells": cells,
        "caveat": CAVEAT,
    }
    return report


def check(candidates, views, topups, seeds, rule, choose_by, max_acc1_drop, n_bootstrap) -> None:
    """What can be checked before any note is read."""
    if not candidates:
        raise MedsynError("--choose-on-train needs at least one --synthetic candidate")
    unknown = [view for view in views if view not in text_views.VIEWS]
    if unknown or not views:
        raise MedsynError(f"--synthetic-views {','.join(views)}: allowed views are {', '.join(text_views.VIEWS)}")
    if not any(k > 0 for k in topups) or any(k < 0 for k in topups):
        raise MedsynError("--topups: give at least one K above 0, none below (0: real only, always compared)")
    if not seeds:
        raise MedsynError("--seeds: give at least one seed")
    if rule not in icd_rule.RULES:
        raise MedsynError(f"--choice-rule {rule}: allowed: {', '.join(icd_rule.RULES)}")
    if choose_by not in KEYS:
        raise MedsynError(f"--choose-by {choose_by}: allowed: {', '.join(KEYS)}")
    if not max_acc1_drop >= 0 or not math.isfinite(max_acc1_drop):
        raise MedsynError(f"--max-acc1-drop {max_acc1_drop}: must be a number of points, at least 0")
    if rule != "largest" and n_bootstrap < 100:
        raise MedsynError(f"--choice-rule {rule} needs the bootstrap's standard errors: --bootstrap at least 100")
