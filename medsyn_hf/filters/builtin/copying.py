"""Drops notes copied from the example note they were shown (the measures: ``medsyn_hf.filters.overlap``)."""

from __future__ import annotations

from medsyn_hf.filters.base import NoteFilter, Threshold
from medsyn_hf.filters.overlap import copy_ratio, copy_span
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS


class Copying(NoteFilter):
    """Copying: the share of the note's word n-grams found in the example note, and the longest verbatim run."""

    name = "copying"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "max_copy_ratio": Threshold(
            0.5,
            "Drop notes whose word n-grams come from the example note more than this share (a copy, not a note).",
            low=0,
            high=1,
        ),
        "copy_ngram": Threshold(5, "n of the word n-grams of copy_ratio.", low=1, high=100),
    }

    def score(self, notes, config):
        return {
            "copy_ratio": [
                copy_ratio(t, e, config.copy_ngram, s) for t, e, s in zip(notes.texts, notes.examples, notes.symptoms)
            ],
            "copy_span": [copy_span(t, e) for t, e in zip(notes.texts, notes.examples)],
        }

    def reject(self, note, config):
        return ["high_copy_ratio"] if note["copy_ratio"] > config.max_copy_ratio else []
