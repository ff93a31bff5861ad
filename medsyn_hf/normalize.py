"""Text normalisation shared by the graph, the priors, the filters, the evaluations and the highlighter: Russian words
as lower-case tokens ("ё" as "е"), their pymorphy3 lemmas, the merge key and display form of a symptom string (so
strings from different sources become one graph node when they mean the same), and whether a note mentions a symptom,
compared on content lemmas so Russian inflection does not matter (symptom recall, prior realism, highlighting).

A symptom counts as mentioned when at least ``min_share`` of its content lemmas (function words dropped) occur anywhere
in the note. MedSyn compared raw symptom strings, which misses every inflected mention ("болями в горле" for
"боль в горле"); a bag of lemmas is lenient about word order, so the default asks for all of them (``min_share=1.0``).
Negation is not parsed: "отрицает тошноту" mentions nausea, which is what prompt following is about."""

from __future__ import annotations

import re
from functools import lru_cache

# A word of lower-case text: letters and digits, hyphenated parts kept together ("кто-то", "covid-19").
WORD = re.compile(r"[a-zа-яё0-9]+(?:-[a-zа-яё0-9]+)*")
_SPACE = re.compile(r"\s+")
_BRACKETS = re.compile(r"[()\[\]{}\"«»]")
# Parts of speech that carry no symptom meaning (prepositions, conjunctions, particles, interjections).
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})


@lru_cache(maxsize=1)
def morph():
    """The shared pymorphy3 analyser: loading its dictionaries costs about a second, so once per process."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """Normal form of one lower-case word (pymorphy3's most probable parse; other scripts pass through)."""
    if not re.search("[а-яё]", word):
        return word
    return morph().parse(word)[0].normal_form.replace("ё", "е")


def words(text: str) -> list[str]:
    """The words of a text, lower-cased, "ё" as "е"."""
    return WORD.findall(text.lower().replace("ё", "е"))


def lemmas(text: str) -> list[str]:
    return [lemma(w) for w in words(text)]


def symptom_key(text: str) -> str:
    """Merge key of a symptom: its lemmas in order ('Болями в горле' and 'боль в горле' -> 'боль в горло')."""
    return " ".join(lemmas(text))


def surface(text: str) -> str:
    """Display form: lower-case, single spaces, no brackets or quotes, no stray punctuation at the ends."""
    return _SPACE.sub(" ", _BRACKETS.sub(" ", text.lower())).strip(" .,;:-–—'\n\t")


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
