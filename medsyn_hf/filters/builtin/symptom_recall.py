"""Drops notes that leave out the symptoms the prompt asked for (the measure: ``medsyn_hf.filters.recall``)."""

from __future__ import annotations

from medsyn_hf.filters.base import NoteFilter, Threshold
from medsyn_hf.filters.recall import symptom_recall
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS


class SymptomRecall(NoteFilter):
    """Symptom recall: the share of the prompted symptoms the note mentions, compared on lemmas."""

    name = "symptom_recall"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "min_symptom_recall": Threshold(
            0.5,
            "Drop notes mentioning fewer than this share of their prompted symptoms (GPT notes: 5.9% below 0.5).",
            low=0,
            high=1,
        ),
        "symptom_match_share": Threshold(
            1.0,
            "Share of a symptom's content lemmas that must occur in the note for it to count as mentioned.",
            low=0,
            high=1,
        ),
    }

    def score(self, notes, config):
        return {
            "symptom_recall": [
                symptom_recall(text, symptoms, config.symptom_match_share)
                for text, symptoms in zip(notes.texts, notes.symptoms)
            ]
        }

    def reject(self, note, config):
        return ["low_symptom_recall"] if note["symptom_recall"] < config.min_symptom_recall else []
