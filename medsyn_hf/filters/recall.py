"""Symptom recall: which prompted symptoms a note mentions, compared on lemmas so Russian inflection does not matter.

A symptom counts as mentioned when at least ``min_share`` of its content lemmas (function words dropped) occur anywhere
in the note. MedSyn compared raw symptom strings, which misses every inflected mention ("болями в горле" for
"боль в горле"); a bag of lemmas is lenient about word order, so the default asks for all of them (``min_share=1.0``).
Negation is not parsed: "отрицает тошноту" mentions nausea, which is what prompt following is about.
"""

from __future__ import annotations

from functools import lru_cache

from medsyn_hf.normalize import lemma, lemmas, morph, words

# Parts of speech that carry no symptom meaning (prepositions, conjunctions, particles, interjections).
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})


@lru_cache(maxsize=200_000)
def is_content(word: str) -> bool:
    """Does the word carry meaning (not a preposition, conjunction, particle or interjection)?"""
    return morph().parse(word)[0].tag.POS not in _FUNCTION_POS


@lru_cache(maxsize=100_000)
def symptom_lemmas(symptom: str) -> frozenset[str]:
    """Content lemmas of a symptom string ('боль в ушах и снижение слуха' -> {боль, ухо, снижение, слух})."""
    return frozenset(lemma(w) for w in words(symptom) if is_content(w))


def note_lemmas(note: str) -> frozenset[str]:
    """Lemma set of a note, computed once per note; per-word lemmas are cached (a dictionary lookup per token)."""
    return frozenset(lemmas(note))


def symptoms_present(note: str | frozenset[str], symptoms: list[str], min_share: float = 1.0) -> list[bool]:
    """One flag per symptom: are at least ``min_share`` of its content lemmas in the note?"""
    found = note if isinstance(note, frozenset) else note_lemmas(note)
    flags = []
    for symptom in symptoms:
        wanted = symptom_lemmas(symptom)
        flags.append(not wanted or len(wanted & found) >= min_share * len(wanted))
    return flags


def symptom_recall(note: str | frozenset[str], symptoms: list[str], min_share: float = 1.0) -> float:
    """Share of the prompted symptoms the note mentions; 1.0 when nothing was prompted (all of none are present)."""
    flags = symptoms_present(note, symptoms, min_share)
    return sum(flags) / len(flags) if flags else 1.0
