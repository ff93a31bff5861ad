"""Drops notes too short to be a note or so long that generation looped."""

from __future__ import annotations

from medsyn_hf.filters.base import NoteFilter, Threshold
from medsyn_hf.normalize import words
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS


class Length(NoteFilter):
    """Length: the note's words and characters."""

    name = "length"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "min_words": Threshold(50, "Drop shorter notes (GPT notes: 0.5th percentile 99 words).", low=0),
        "max_words": Threshold(
            1000, "Drop longer notes, usually generation loops (GPT notes: longest 654 words).", low=1
        ),
    }

    def score(self, notes, config):
        return {"n_chars": [len(t) for t in notes.texts], "n_words": [len(words(t)) for t in notes.texts]}

    def reject(self, note, config):
        return [
            *(["too_short"] if note["n_words"] < config.min_words else []),
            *(["too_long"] if note["n_words"] > config.max_words else []),
        ]
