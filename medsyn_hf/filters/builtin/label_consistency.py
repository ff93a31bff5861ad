"""Drops notes that a classifier trained on the user's real notes does not recognise as their code
(``medsyn_hf.filters.code_classifier``: RuMedBench's fast linear baseline)."""

from __future__ import annotations

from medsyn_hf.filters.base import SetFilter, Threshold
from medsyn_hf.filters.code_classifier import code_ranks
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS
from medsyn_hf.text_views import VIEWS, view


def selection_texts(notes, config) -> list[str]:
    """The view of each note that the realism and label filters compare with the real notes (for RuMedTop3, whose
    notes are complaints, the ``complaint`` view cuts them out of a generated anamnesis). The label classifier
    trains on the real notes whole, as `medsyn eval icd` does; the discriminator sees the same view of both sides,
    as `medsyn eval report` does."""
    return [view(text, config.selection_view) for text in notes.texts]


def note_units(notes) -> list[str | None]:
    """Each note's code as the reference counts it (its category at level 'category')."""
    codes = notes.codes or [None] * len(notes)
    return [notes.reference.unit(code) for code in codes]


class LabelConsistency(SetFilter):
    """Label consistency: the rank of the note's code by a classifier trained on the real notes (`real_dataset`)."""

    name = "label_consistency"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "label_top_k": Threshold(
            None,
            "Drop notes whose code the real notes' classifier ranks below this place; None: off.",
            low=1,
            high=100_000,
            kind=int | None,
        ),
        "selection_view": Threshold(
            "complaint",
            "What of a note the realism and label filters compare with the real notes: head, complaint (its "
            "complaints section, for complaint-like real notes such as RuMedTop3) or full.",
            choices=VIEWS,
        ),
    }

    def score(self, notes, passing, config):
        if notes.reference is None:
            return {"label_rank": [None] * len(notes)}
        reference = notes.reference
        ranks = code_ranks(
            reference.texts,
            [reference.unit(code) for code in reference.codes],
            selection_texts(notes, config),
            [code or "" for code in note_units(notes)],
        )
        return {"label_rank": [int(r) if r else None for r in ranks]}

    def reject(self, note, config):
        rank, k = note["label_rank"], config.label_top_k
        return ["label"] if k is not None and rank is not None and rank > k else []
