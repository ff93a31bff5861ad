"""Copying from the example note: the share of the note's word n-grams found in the example, and the longest
verbatim span.

An n-gram made only of the prompted symptoms' words (and function words), such as «на боль в поясничной области» for
the prompted symptom «боль в поясничной области», is not counted as copied even when the example has it: the
sampler favours the symptoms real complaints voice, so the example often names a prompted symptom the same way, and
naming it is following the prompt, not copying the example."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

from medsyn_hf.normalize import is_content, lemma, symptom_lemmas, words


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _prompted(gram: tuple[str, ...], own: frozenset[str]) -> bool:
    """Is every content word of the n-gram one of the prompted symptoms' lemmas?"""
    return all(lemma(w) in own or not is_content(w) for w in gram)


def copy_ratio(note: str, example: str | None, n: int = 5, symptoms: Iterable[str] = ()) -> float:
    """Share of the note's word n-grams (by position) that also occur in the example, not counting those made only of
    the prompted ``symptoms``' words (module docstring); 0.0 without an example."""
    if not example:
        return 0.0
    grams = _ngrams(words(note), n)
    if not grams:
        return 0.0
    seen = set(_ngrams(words(example), n))
    own = frozenset().union(*map(symptom_lemmas, symptoms))
    return sum(g in seen and not (own and _prompted(g, own)) for g in grams) / len(grams)


def copy_span(note: str, example: str | None) -> int:
    """Length in words of the longest word sequence the note shares verbatim with the example; 0 without an example."""
    if not example:
        return 0
    a, b = words(note), words(example)
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size
