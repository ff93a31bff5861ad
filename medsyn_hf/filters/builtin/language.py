"""Drops notes not written in Russian, by the share of Cyrillic letters."""

from __future__ import annotations

import re

from medsyn_hf.filters.base import NoteFilter, Threshold
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS

_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def cyrillic_share(text: str) -> float:
    """Share of letters that are Cyrillic (digits, punctuation and spaces do not count); 0.0 without letters."""
    letters = _LETTER.subn("", text)[1]
    return _CYRILLIC.subn("", text)[1] / letters if letters else 0.0


class Language(NoteFilter):
    """Language: the share of the note's letters that are Cyrillic."""

    name = "language"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "min_cyrillic_share": Threshold(
            0.9,
            "Drop notes with a smaller share of Cyrillic letters (GPT notes: 0.3% below, all written in English).",
            low=0,
            high=1,
        )
    }

    def score(self, notes, config):
        return {"cyrillic_share": [cyrillic_share(t) for t in notes.texts]}

    def reject(self, note, config):
        return ["not_russian"] if note["cyrillic_share"] < config.min_cyrillic_share else []
