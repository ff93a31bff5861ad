"""Labelled notes for the ICD-code experiments, and how they are sampled: stratified fractions, top-ups, rare codes.

Real notes (``symptoms``, ``code``) come from RuMedTop3's JSON lines; a synthetic set may be a file, a folder or a Hub
dataset id, with its own column names (all read by ``medsyn_hf.data``). Subcodes are mapped to their category
(J06.0 -> J06), the level RuMedTop3 scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from medsyn_hf.data import category, load_labelled_notes
from medsyn_hf.errors import MedsynError


class LabelledNotes(NamedTuple):
    """Texts and their 3-character ICD-10 codes, in step (not ``filters.base.Notes``, a batch being filtered)."""

    texts: list[str]
    codes: list[str]


def load_labelled(
    source: str, text_column: str | None, code_column: str | Sequence[str] | None, split: str | None = None
) -> LabelledNotes:
    """Texts and 3-character codes of a dataset (the first of several ``code_column`` candidates that it has); a
    missing column, text or code is an error, not a silent drop."""
    texts, codes = load_labelled_notes(source, text_column, code_column, split)
    try:
        return LabelledNotes(texts, [category(c) for c in codes])
    except MedsynError as err:
        raise MedsynError(f"{source}: {err}") from None


def stratified_sample(codes: list[str], fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``round(fraction * n)`` notes of each code (at least one when ``fraction > 0``).

    Each code's notes are taken in the order of one seeded permutation, so for a given seed a smaller fraction is a
    subset of a larger one: grid cells differ by the notes added, not by a fresh draw.
    """
    if not 0 <= fraction <= 1:
        raise MedsynError(f"fraction {fraction} is not between 0 and 1")
    _, index, counts = np.unique(np.asarray(codes, dtype=str), return_inverse=True, return_counts=True)
    keep = np.maximum(1, np.rint(fraction * counts)) if fraction > 0 else np.zeros_like(counts)
    return np.flatnonzero(within_code_rank(codes, seed) < keep[index])


def within_code_rank(codes: Sequence[str], seed: int) -> np.ndarray:
    """Each note's position among the notes of its code, in the order of one seeded permutation."""
    permutation = np.random.default_rng(seed).permutation(len(codes))
    _, index = np.unique(np.asarray(codes, dtype=str)[permutation], return_inverse=True)
    counts = np.bincount(index)
    order = np.argsort(index, kind="stable")
    rank = np.empty(len(codes), dtype=int)
    rank[permutation[order]] = np.arange(len(codes)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rank


def topup_sample(real_codes: Sequence[str], synthetic_codes: Sequence[str], k: int, seed: int) -> np.ndarray:
    """Sorted indices of the synthetic notes that bring every code up to ``k`` training notes: ``k - n`` notes of a
    code with ``n < k`` real ones (all it has if fewer), none of a code that already has ``k``.

    The notes of each code are taken in the order of one seeded permutation, so for a given seed a smaller ``k`` adds
    a subset of what a larger one adds."""
    check_topup(k)
    have = Counter(real_codes)
    need = np.array([max(0, k - have[code]) for code in synthetic_codes], dtype=int)
    return np.flatnonzero(within_code_rank(synthetic_codes, seed) < need)


def check_topup(k: int) -> None:
    """A top-up K (``--topup``) must add notes: at least 1."""
    if k < 1:
        raise MedsynError(f"--topup {k}: the number of training notes to bring each code up to must be at least 1")


def rare_codes(codes: list[str], k: int) -> list[str]:
    """Codes with fewer than ``k`` notes."""
    names, counts = np.unique(np.asarray(codes, dtype=str), return_counts=True)
    return names[counts < k].tolist()
