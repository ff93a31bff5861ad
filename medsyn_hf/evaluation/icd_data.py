"""Labelled notes for the ICD-code experiments: RuMedTop3-style real notes and synthetic datasets, as 3-character
codes.

Real notes (``symptoms``, ``code``) come from RuMedTop3's JSON lines; a synthetic set may be a file, a folder or a Hub
dataset id, with its own column names. Subcodes are mapped to their category (J06.0 -> J06), the level RuMedTop3
scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from medsyn_hf.data import load_labelled_notes
from medsyn_hf.errors import MedsynError

_CODE = re.compile(r"[A-Z]\d\d(\.\w+)?")


class Notes(NamedTuple):
    texts: list[str]
    codes: list[str]


def category(code) -> str:
    """The 3-character ICD-10 category of a code or subcode."""
    text = str(code).strip().upper()
    if not _CODE.fullmatch(text):
        raise MedsynError(f"{code!r} is not an ICD-10 code (expected e.g. J06 or J06.0)")
    return text[:3]


def load_labelled(source: str, text_column: str, code_column: str | Sequence[str], split: str | None = None) -> Notes:
    """Texts and 3-character codes of a dataset (the first of several ``code_column`` candidates that it has); a
    missing column, text or code is an error, not a silent drop."""
    texts, codes = load_labelled_notes(source, text_column, code_column, split)
    try:
        return Notes(texts, [category(c) for c in codes])
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
