"""Text normalisation shared by the graph, the filters, the evaluations and the highlighter: Russian words as
lower-case tokens ("ё" as "е"), their pymorphy3 lemmas, and the merge key and display form of a symptom string (so
strings from different sources become one graph node when they mean the same)."""

from __future__ import annotations

import re
from functools import lru_cache

# A word of lower-case text: letters and digits, hyphenated parts kept together ("кто-то", "covid-19").
WORD = re.compile(r"[a-zа-яё0-9]+(?:-[a-zа-яё0-9]+)*")
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
