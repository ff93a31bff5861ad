"""Copying from the example note: the share of the note's word n-grams found in the example, and the longest
verbatim span."""

from __future__ import annotations

from difflib import SequenceMatcher

from medsyn_hf.normalize import words


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def copy_ratio(note: str, example: str | None, n: int = 5) -> float:
    """Share of the note's word n-grams (by position) that also occur in the example; 0.0 without an example."""
    if not example:
        return 0.0
    grams = _ngrams(words(note), n)
    if not grams:
        return 0.0
    seen = set(_ngrams(words(example), n))
    return sum(g in seen for g in grams) / len(grams)


def copy_span(note: str, example: str | None) -> int:
    """Length in words of the longest word sequence the note shares verbatim with the example; 0 without an example."""
    if not example:
        return 0
    a, b = words(note), words(example)
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size
