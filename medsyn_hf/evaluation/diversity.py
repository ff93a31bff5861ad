"""Diversity of synthetic notes: how much of the wording repeats, how many notes are near copies of each other, how
evenly the codes are covered, and whether every code got the notes the priors planned for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from medsyn_hf.dedup import deduplicate
from medsyn_hf.filters.ngrams import Tokens, distinct, tokenize

DISTINCT_N = (1, 2, 3)


def distinct_n(texts: Sequence[str] | Tokens) -> dict:
    """distinct-1/2/3 of a set of notes, or of their tokens (they fall as a set grows: compare sets of the same
    size)."""
    tokens = texts if isinstance(texts, Tokens) else tokenize(texts)
    return {f"distinct_{n}": distinct(tokens, n) for n in DISTINCT_N}


def near_duplicate_share(texts: Sequence[str]) -> float:
    """Share of notes that the filters' MinHash deduplication drops (word 5-gram Jaccard >= 0.8 with an earlier
    note, or the same words)."""
    return round(1 - sum(deduplicate(list(texts))) / len(texts), 4)


def code_entropy(codes: Sequence[str]) -> dict:
    """Shannon entropy of the code distribution in bits, and divided by its maximum log2(codes) (1 = even)."""
    counts = np.array(list(Counter(codes).values()), dtype=float)
    p = counts / counts.sum()
    bits = float(-(p * np.log2(p)).sum())
    return {
        "codes": len(counts),
        "entropy_bits": round(bits, 3),
        "evenness": round(bits / np.log2(len(counts)), 3) if len(counts) > 1 else None,
    }


def plan_coverage(planned: Mapping[str, int], kept: Sequence[str]) -> dict:
    """Per code, the notes the priors planned (every note generated for it) against the notes kept by the filters."""
    kept_counts = Counter(kept)
    rows = [
        {"code": code, "planned": n, "kept": kept_counts.get(code, 0)}
        for code, n in sorted(planned.items(), key=lambda item: (-item[1], item[0]))
    ]
    total = sum(planned.values())
    return {
        "planned": total,
        "kept": sum(kept_counts.values()),
        "codes_planned": len(rows),
        "kept_share": round(sum(kept_counts.values()) / total, 4),
        "codes_without_kept_note": [r["code"] for r in rows if r["kept"] == 0],
        "per_code": rows,
    }


def diversity(
    synthetic_full: Sequence[str],
    synthetic_codes: Sequence[str],
    real_codes: Sequence[str],
    matched: Mapping[str, Sequence[str]],
    real_full: Sequence[str],
    planned: Mapping[str, int] | None,
    kept_codes: Sequence[str],
    synthetic_tokens: Tokens | None = None,
) -> dict:
    """``matched``: the code-matched real and synthetic samples (the compared view), where distinct-n compares
    like with like; ``planned``/``kept_codes``: codes as generated (subcodes too), ``None`` when the notes carry no
    plan; ``synthetic_tokens``: ``tokenize(synthetic_full)`` if already done."""
    return {
        "distinct": distinct_n(synthetic_tokens or synthetic_full),
        "distinct_matched": {side: distinct_n(texts) for side, texts in matched.items()},
        "near_duplicates": {
            "synthetic": near_duplicate_share(synthetic_full),
            "real": near_duplicate_share(real_full),
        },
        "code_distribution": {"synthetic": code_entropy(synthetic_codes), "real": code_entropy(real_codes)},
        "plan": plan_coverage(planned, kept_codes) if planned else None,
    }
