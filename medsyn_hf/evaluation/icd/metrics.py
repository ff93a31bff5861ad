"""Scores of an ICD-code classifier: RuMedBench's acc@1 and hit@3, per code, macro, on rare codes, with bootstrap CIs.

Plain numpy over ranked code lists, so the CLI, the grid and the `evaluate` module (``medsyn_hf/metrics/icd_accuracy``)
all report the very same numbers. Everything is in percent, like RuMedBench. :func:`paired_differences` compares two
classifiers on the same notes (real only against real + synthetic), which separates a small gain from the noise that
each score's own interval carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from medsyn_hf.errors import MedsynError

SCORES = ("acc1", "hit3", "macro_acc1", "macro_hit3")
KEYS = (*SCORES, *(f"rare_{s}" for s in SCORES))


def hits(predictions: Sequence[Sequence[str]], references: Sequence[str], k: int) -> np.ndarray:
    """Whether each reference is among the first ``k`` codes of its ranked prediction."""
    if len(predictions) != len(references):
        raise MedsynError(f"{len(predictions)} predictions for {len(references)} references")
    return np.array([ref in list(pred)[:k] for pred, ref in zip(predictions, references)], dtype=bool)


def _scores(hit1: np.ndarray, hit3: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """acc1, hit3, macro_acc1, macro_hit3 of each row of (resampled) hits, (rows, notes); ``onehot`` (notes, codes)
    marks each note's code, the same in every row."""
    counts = onehot.sum(0)
    return 100 * np.stack(
        [hit1.mean(1), hit3.mean(1), (hit1 @ onehot / counts).mean(1), (hit3 @ onehot / counts).mean(1)], axis=1
    )


class _Layout:
    """The eval notes grouped by code (resampling stays within each block), with the one-hot of each note's code and
    which notes are rare: shared by every scoring of the same references."""

    def __init__(self, references: Sequence[str], rare_codes: Iterable[str]):
        if not len(references):
            raise MedsynError("nothing to score: no references")
        self.references = np.asarray([str(r) for r in references], dtype=str)
        self.order = np.argsort(self.references, kind="stable")
        self.names, self.codes, self.counts = np.unique(
            self.references[self.order], return_inverse=True, return_counts=True
        )
        self.onehot = np.eye(len(self.names))[self.codes]
        self.rare_names = np.isin(self.names, list(set(rare_codes)))
        self.rare_notes = self.rare_names[self.codes]

    def hits(self, predictions: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """acc@1 and hit@3 of each note, as floats, in the grouped order."""
        return tuple(hits(predictions, self.references, k).astype(float)[self.order] for k in (1, 3))

    def scores(self, h1: np.ndarray, h3: np.ndarray) -> np.ndarray:
        """The :data:`KEYS` of each row of (resampled) hits, (rows, notes) -> (rows, keys); NaN without rare notes."""
        rare = (
            _scores(h1[:, self.rare_notes], h3[:, self.rare_notes], self.onehot[self.rare_notes][:, self.rare_names])
            if self.rare_notes.any()
            else np.full((len(h1), len(SCORES)), np.nan)
        )
        return np.concatenate([_scores(h1, h3, self.onehot), rare], axis=1)

    def draws(self, n_bootstrap: int, seed: int) -> np.ndarray:
        """(n_bootstrap, notes) indices: each code's notes drawn with replacement, so the counts of codes stay."""
        start = np.repeat(np.cumsum(self.counts) - self.counts, self.counts)
        return start + (
            np.random.default_rng(seed).random((n_bootstrap, len(self.codes))) * self.counts[self.codes]
        ).astype(int)


def _interval(values: np.ndarray, confidence: float) -> np.ndarray:
    tail = 100 * (1 - confidence) / 2
    return np.percentile(values, [tail, 100 - tail], axis=0).T


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
    layout = _Layout(references, rare_codes)
    hit1, hit3 = layout.hits(predictions)
    observed = dict(zip(KEYS, layout.scores(hit1[None], hit3[None])[0].tolist()))
    result = {
        "n": len(layout.references),
        "n_rare": int(layout.rare_notes.sum()),
        **{key: None if np.isnan(value) else value for key, value in observed.items()},
    }
    if n_bootstrap:
        draw = layout.draws(n_bootstrap, seed)
        bounds = _interval(layout.scores(hit1[draw], hit3[draw]), confidence)
        result["ci"] = {key: bound.tolist() for key, bound in zip(KEYS, bounds) if result[key] is not None}
    result["per_code"] = {
        name: {"n": int(count), "acc1": 100 * a1, "hit3": 100 * a3, "rare": bool(rare)}
        for name, count, a1, a3, rare in zip(
            layout.names.tolist(),
            layout.counts,
            hit1 @ layout.onehot / layout.counts,
            hit3 @ layout.onehot / layout.counts,
            layout.rare_names,
        )
    }
    return result


def paired_differences(
    baseline: Sequence[Sequence[Sequence[str]]],
    treated: Sequence[Sequence[Sequence[str]]],
    references: Sequence[str],
    rare_codes: Iterable[str] = (),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """treated minus baseline, each score of :data:`KEYS`, averaged over seeds, with a paired bootstrap interval.

    ``baseline[s]`` and ``treated[s]`` are the ranked predictions of seed ``s`` on the same ``references``. Every
    resample draws the notes once (within each code, as :func:`icd_scores`) and scores both classifiers of every seed
    on those same notes, so the interval reflects the difference, not the spread of each score: notes that both get
    right or both get wrong cancel. Returns ``{key: {"diff", "ci" (None without resamples), "se" (the resamples'
    standard deviation, None without), "per_seed"}}``; a key without rare notes is left out.
    """
    if len(baseline) != len(treated) or not len(baseline):
        raise MedsynError(f"{len(baseline)} baseline runs for {len(treated)} treated runs; need the same, at least 1")
    layout = _Layout(references, rare_codes)
    pairs = [(layout.hits(b), layout.hits(t)) for b, t in zip(baseline, treated)]
    per_seed = np.stack(
        [layout.scores(t1[None], t3[None])[0] - layout.scores(b1[None], b3[None])[0] for (b1, b3), (t1, t3) in pairs]
    )
    bounds = spread = None
    if n_bootstrap:
        draw = layout.draws(n_bootstrap, seed)
        resampled = np.mean(
            [layout.scores(t1[draw], t3[draw]) - layout.scores(b1[draw], b3[draw]) for (b1, b3), (t1, t3) in pairs],
            axis=0,
        )
        bounds, spread = _interval(resampled, confidence), resampled.std(axis=0)
    return {
        key: {
            "diff": float(per_seed[:, i].mean()),
            "ci": None if bounds is None else bounds[i].tolist(),
            "se": None if spread is None else float(spread[i]),
            "per_seed": per_seed[:, i].tolist(),
        }
        for i, key in enumerate(KEYS)
        if not np.isnan(per_seed[:, i]).any()
    }


def excludes_zero(difference: dict) -> bool:
    """Whether a :func:`paired_differences` interval lies wholly above or below 0."""
    low_high = difference.get("ci")
    return bool(low_high) and (low_high[0] > 0 or low_high[1] < 0)
