"""Drops notes whose patient is not the prior's: another age, or another sex (``medsyn_hf.filters.patient`` reads
what a note states). Only notes whose prompt showed the patient are judged: a template without the patient leaves
the model to invent one, and the prior's age and sex then describe the prior, not the note."""

from __future__ import annotations

from functools import lru_cache

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters.base import NoteFilter, Threshold
from medsyn_hf.filters.patient import age_gap, stated_sex
from medsyn_hf.prompts import get_template
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS


@lru_cache(maxsize=256)
def shows_patient(template: str | None) -> bool:
    """Did the note's prompt show the patient? Its template uses the ``patient`` field; a note without a known
    template is judged too (notes from elsewhere that carry `age` and `sex`)."""
    try:
        return template is None or "patient" in get_template(template).fields
    except MedsynError:
        return True


class PatientConsistency(NoteFilter):
    """Patient consistency: the age and sex the note states for its patient against the prior's `age` and `sex`."""

    name = "patient_consistency"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "max_age_gap": Threshold(
            2,
            "Drop notes stating an age more than this many years from the prior's; None: no age check.",
            low=0,
            high=150,
            kind=int | None,
        ),
        "check_sex": Threshold(True, "Drop notes whose stated sex is not the prior's (or is both)."),
    }

    def score(self, notes, config):
        ages = notes.columns.get("age") or [None] * len(notes)
        return {
            "age_gap": [age_gap(text, age) for text, age in zip(notes.texts, ages)],
            "stated_sex": [stated_sex(text) for text in notes.texts],
        }

    def reject(self, note, config):
        if not shows_patient(note.get("template")):
            return []
        reasons = []
        gap = note["age_gap"]
        if config.max_age_gap is not None and gap is not None and gap > config.max_age_gap:
            reasons.append("age_mismatch")
        sex, stated = note.get("sex"), note["stated_sex"]
        if config.check_sex and sex and stated and stated != sex:
            reasons.append("sex_mismatch")
        return reasons
