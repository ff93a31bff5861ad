"""Symptom strings from different sources become one node when they mean the same: lower-case, lemmatised, tidy."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-zа-яё0-9]+(?:-[a-zа-яё0-9]+)*")
_SPACE = re.compile(r"\s+")
_BRACKETS = re.compile(r"[()\[\]{}\"«»]")


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
    return _WORD.findall(text.lower().replace("ё", "е"))


def lemmas(text: str) -> list[str]:
    return [lemma(w) for w in words(text)]


def symptom_key(text: str) -> str:
    """Merge key of a symptom: its lemmas in order ('Болями в горле' and 'боль в горле' -> 'боль в горло')."""
    return " ".join(lemmas(text))


def surface(text: str) -> str:
    """Display form: lower-case, single spaces, no brackets or quotes, no stray punctuation at the ends."""
    return _SPACE.sub(" ", _BRACKETS.sub(" ", text.lower())).strip(" .,;:-–—'\n\t")
