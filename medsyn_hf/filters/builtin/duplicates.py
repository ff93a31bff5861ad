"""Drops exact and near duplicates among the notes that pass every other filter (``medsyn_hf.dedup``)."""

from __future__ import annotations

from medsyn_hf.dedup import deduplicate
from medsyn_hf.filters.base import SetFilter, Threshold
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS


class NearDuplicates(SetFilter):
    """Near duplicates: word 5-gram Jaccard similarity with an earlier note that passed the other filters."""

    name = "near_duplicates"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "dedup_threshold": Threshold(
            0.8,
            "Drop notes whose word 5-gram Jaccard similarity with an earlier kept note reaches this.",
            low=0,
            high=1,
        )
    }

    def score(self, notes, passing, config):
        among = [i for i, ok in enumerate(passing) if ok]
        is_duplicate = [False] * len(notes)
        for i, keep in zip(among, deduplicate([notes.texts[i] for i in among], config.dedup_threshold)):
            is_duplicate[i] = not keep
        return {"is_duplicate": is_duplicate}

    def reject(self, note, config):
        return ["duplicate"] if note["is_duplicate"] else []
