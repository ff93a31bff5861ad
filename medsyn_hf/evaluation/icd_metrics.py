"""Scores of an ICD-code classifier: RuMedBench's acc@1 and hit@3, per code, macro, on rare codes, with bootstrap CIs.

Plain numpy over ranked code lists, so the CLI, the grid and the `evaluate` module (``medsyn_hf/metrics/icd_accuracy``)
all report the very same numbers. Everything is in percent, like RuMedBench.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from medsyn_hf.errors import MedsynError

SCORES = ("acc1", "hit3", "macro_acc1", "macro_hit3")


def hits(predictions: Sequence[Sequence[str]], references: Sequence[str], k: int) -> np.ndarray:
    """Whether each reference is among the first ``k`` codes of its ranked prediction."""
    if len(predictions) != len(references):
        raise MedsynError(f"{len(predictions)} predictions for {len(references)} references")
    return np.array([ref in list(pred)[:k] for pred, ref in zip(predictions, references)], dtype=bool)


def _scores(hit1: np.ndarray, hit3: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """acc1, hit3, macro_acc1, macro_hit3 of each row of (resampled) hits, (rows, notes); ``onehot`` (notes, codes)
    marks each note's code, the same in every row."""
    counts = onehot.sum(0)
    return 100 * np.stack([hit1.mean(1), hit3.mean(1), (hit1 @ onehot / counts).mean(1),
                           (hit3 @ onehot / counts).mean(1)], axis=1)


def icd_scores(
    predictions: Sequence[Sequence[str]],
    references: Sequence[str],
    rare_codes: Iterable[str] = (),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """acc@1, hit@3 and their macro (mean over codes) forms, overall and on ``rare_codes``, per-code figures, and
    percentile bootstrap intervals.

    The bootstrap resamples each code's notes with replacement (``n_bootstrap`` times, seeded): every resample keeps
    the eval set's codes and their counts, so a macro score always averages the same codes.
    """
    if not len(references):
        raise MedsynError("nothing to score: no references")
    references = np.asarray([str(r) for r in references], dtype=str)
    rare_codes = set(rare_codes)
    hit1, hit3 = hits(predictions, references, 1).astype(float), hits(predictions, references, 3).astype(float)
    order = np.argsort(references, kind="stable")  # notes grouped by code: resampling stays within each block
    names, codes, counts = np.unique(references[order], return_inverse=True, return_counts=True)
    hit1, hit3, onehot = hit1[order], hit3[order], np.eye(len(names))[codes]
    rare_names = np.isin(names, list(rare_codes))
    rare_notes = rare_names[codes]

    def scores(h1: np.ndarray, h3: np.ndarray) -> np.ndarray:
        rare = (_scores(h1[:, rare_notes], h3[:, rare_notes], onehot[rare_notes][:, rare_names]) if rare_notes.any()
                else np.full((len(h1), len(SCORES)), np.nan))
        return np.concatenate([_scores(h1, h3, onehot), rare], axis=1)

    keys = [*SCORES, *(f"rare_{s}" for s in SCORES)]
    observed = dict(zip(keys, scores(hit1[None], hit3[None])[0].tolist()))
    result = {"n": len(references), "n_rare": int(rare_notes.sum()),
              **{key: None if np.isnan(value) else value for key, value in observed.items()}}
    if n_bootstrap:
        start = np.repeat(np.cumsum(counts) - counts, counts)
        draw = start + (np.random.default_rng(seed).random((n_bootstrap, len(codes))) * counts[codes]).astype(int)
        tail = 100 * (1 - confidence) / 2
        bounds = np.percentile(scores(hit1[draw], hit3[draw]), [tail, 100 - tail], axis=0).T
        result["ci"] = {key: bound.tolist() for key, bound in zip(keys, bounds) if result[key] is not None}
    result["per_code"] = {
        name: {"n": int(count), "acc1": 100 * a1, "hit3": 100 * a3, "rare": bool(rare)}
        for name, count, a1, a3, rare in zip(names.tolist(), counts, hit1 @ onehot / counts, hit3 @ onehot / counts,
                                             rare_names)}
    return result
