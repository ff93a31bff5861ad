"""Privacy of synthetic notes: do they reproduce real notes?

- DCR, the distance to the closest real note: 1 - the largest cosine similarity of word 1–2-gram TF-IDF vectors
  (0 = the same words). On its own a DCR means little, so real notes are split: a holdout's DCRs to the rest are the
  baseline. Synthetic notes much closer to the real ones than real notes are to each other are memorised.
- The longest word sequence a synthetic note shares verbatim with any real note (hashed n-gram index,
  ``medsyn_hf.filters.ngrams``), and the share of notes above a threshold, against the same holdout baseline.
- Copying from the example note the prompt showed (the filters' ``copy_ratio``) and personal data the PII detector
  still finds (``medsyn_hf.filters.pii``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from medsyn_hf.filters import FilterConfig, copy_ratio
from medsyn_hf.filters.builtin import real_copy
from medsyn_hf.filters.ngrams import Tokens, longest_common_runs, tokenize
from medsyn_hf.filters.pii import PLACEHOLDERS, find_pii

RUN_THRESHOLD = real_copy.RUN_THRESHOLD  # the privacy guard filter's default
CHUNK = 2048


def closest(queries, reference) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of each query row's nearest reference row by cosine on l2-normalised sparse rows; the
    product is computed a chunk of queries at a time, never as a full dense matrix."""
    distance, index = np.ones(queries.shape[0]), np.zeros(queries.shape[0], dtype=int)
    if not reference.shape[0]:
        return distance, index
    for start in range(0, queries.shape[0], CHUNK):
        similarity = (queries[start : start + CHUNK] @ reference.T).toarray()
        index[start : start + CHUNK] = similarity.argmax(1)
        distance[start : start + CHUNK] = 1 - similarity.max(1)
    return np.clip(distance, 0, 1), index


def _stats(values: np.ndarray) -> dict:
    return {
        "mean": round(float(values.mean()), 4),
        **{name: round(float(np.percentile(values, q)), 4) for name, q in (("p5", 5), ("median", 50))},
    }


def holdout_split(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(holdout, rest) indices of the real notes: a seeded ``share`` of them (at least one) and the others."""
    order = np.random.default_rng(seed).permutation(n)
    k = min(n - 1, max(1, round(share * n)))
    return np.sort(order[:k]), np.sort(order[k:])


def pii_hits(texts: Sequence[str]) -> dict:
    """Notes in which the PII detector still finds personal data, by kind, and notes carrying its placeholders
    (scrubbed when they were generated)."""
    kinds = [sorted({kind for _, _, kind in find_pii(t)}) for t in texts]
    return {
        "notes_with_pii": sum(bool(k) for k in kinds),
        "by_kind": dict(Counter(k for ks in kinds for k in ks)),
        "notes_with_placeholders": sum(any(p in t for p in PLACEHOLDERS.values()) for t in texts),
    }


def example_copying(texts: Sequence[str], examples: Sequence[str | None]) -> dict | None:
    """The copy ratio (share of the note's word 5-grams found in its example note) over notes with one; strict, as a
    privacy figure: n-grams of the prompted symptoms' words count too (the filter column does not count them)."""
    limit = FilterConfig().max_copy_ratio
    ratios = np.array([copy_ratio(t, e) for t, e in zip(texts, examples) if e])
    if not len(ratios):
        return None
    return {
        "notes": len(ratios),
        **_stats(ratios),
        "max": round(float(ratios.max()), 4),
        "above": limit,
        "share_above": round(float((ratios > limit).mean()), 4),
    }


def privacy(
    real_view: Sequence[str],
    real_full: Sequence[str],
    synthetic_view: Sequence[str],
    synthetic_full: Sequence[str],
    examples: Sequence[str | None] | None = None,
    holdout: float = 0.2,
    run_threshold: int = RUN_THRESHOLD,
    seed: int = 0,
    tokens: tuple[Tokens, Tokens] | None = None,
) -> tuple[dict, dict]:
    """(summary, per-note arrays for plots). DCRs use the compared view of the text, word runs the full notes
    (``tokens``: ``tokenize`` of the real and the synthetic full notes, if already done).

    The synthetic notes' figures are against all real notes; the baseline is the holdout against the rest (a
    smaller reference, so its distances are, if anything, a little larger)."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # optional (`train` extra), heavy: for reports only

    held, rest = holdout_split(len(real_full), holdout, seed)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32, token_pattern=r"(?u)\b\w+\b")
    vectors = vectorizer.fit_transform([*real_view, *synthetic_view])
    real, synthetic = vectors[: len(real_view)], vectors[len(real_view) :]
    dcr, nearest = closest(synthetic, real)
    dcr_holdout, _ = closest(real[held], real[rest])
    real_tokens, synthetic_tokens = tokens or (tokenize(real_full), tokenize(synthetic_full))
    runs = longest_common_runs(synthetic_tokens, real_tokens, len(synthetic_full))
    held_tokens, rest_tokens = tokenize([real_full[i] for i in held]), tokenize([real_full[i] for i in rest])
    runs_holdout = longest_common_runs(held_tokens, rest_tokens, len(held))
    flagged = np.lexsort((-runs, dcr))[:10]  # closest first, the longer shared run first among equals
    summary = {
        "dcr": {
            "synthetic": _stats(dcr),
            "holdout": _stats(dcr_holdout),
            "zero": {
                "synthetic": round(float((dcr < 1e-6).mean()), 4),
                "holdout": round(float((dcr_holdout < 1e-6).mean()), 4),
            },
            "closer_than_holdout_p5": round(float((dcr < np.percentile(dcr_holdout, 5)).mean()), 4),
        },
        "longest_run": {
            "threshold": run_threshold,
            "synthetic": {
                "median": float(np.median(runs)),
                "max": int(runs.max()),
                "share_above": round(float((runs >= run_threshold).mean()), 4),
            },
            "holdout": {
                "median": float(np.median(runs_holdout)),
                "max": int(runs_holdout.max()),
                "share_above": round(float((runs_holdout >= run_threshold).mean()), 4),
            },
        },
        "holdout_notes": len(held),
        "closest": [
            {
                "note": int(i),
                "dcr": round(float(dcr[i]), 4),
                "longest_run": int(runs[i]),
                "synthetic": synthetic_view[i][:200],
                "real": real_view[nearest[i]][:200],
            }
            for i in flagged
        ],
        "example_copy": example_copying(synthetic_full, examples) if examples is not None else None,
        "pii": pii_hits(synthetic_full),
    }
    return summary, {"dcr": dcr, "dcr_holdout": dcr_holdout, "runs": runs, "runs_holdout": runs_holdout}
