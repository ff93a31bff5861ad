"""Scores how real each note reads: a real-vs-synthetic discriminator, cross-fitted so that no note is scored by a
model that saw it (``medsyn_hf.filters.discriminator``); optionally drops the least real-looking notes. The plan
quota keeps each code's best notes by this score."""

from __future__ import annotations

import numpy as np

from medsyn_hf.filters.base import SetFilter, Threshold
from medsyn_hf.filters.builtin.label_consistency import selection_texts
from medsyn_hf.filters.discriminator import FOLDS, realism_scores
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS
from medsyn_hf.text_views import view


class Realism(SetFilter):
    """Realism: a cross-fitted real-vs-synthetic discriminator's probability that the note is real (`real_dataset`)."""

    name = "realism"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "min_realism": Threshold(
            None,
            "Drop notes whose `realism` (0-1) is below this; None: off (the plan quota still ranks by it).",
            low=0,
            high=1,
            kind=float | None,
        ),
        "realism_folds": Threshold(FOLDS, "Cross-fitting folds of the realism discriminator.", low=2, high=50),
    }

    def score(self, notes, passing, config):
        if notes.reference is None:
            return {"realism": [None] * len(notes)}
        real = [view(text, config.selection_view) for text in notes.reference.texts]  # both sides alike, as the report
        scores = realism_scores(real, selection_texts(notes, config), config.realism_folds)
        return {"realism": [None if np.isnan(s) else float(s) for s in scores]}

    def reject(self, note, config):
        score, low = note["realism"], config.min_realism
        return ["unrealistic"] if low is not None and score is not None and score < low else []
