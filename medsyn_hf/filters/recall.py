"""Symptom recall: the share of the prompted symptoms a note mentions (the lemma matching: ``normalize``)."""

from __future__ import annotations

from medsyn_hf.normalize import note_lemmas, symptom_lemmas, symptoms_present

# The lemma helpers live in ``normalize``; `priors/realism.py` still imports two of them from here until #27 moves its
# import (pyproject.toml's import-linter ignore_imports lists it), then this re-export goes.
__all__ = ["note_lemmas", "symptom_lemmas", "symptom_recall", "symptoms_present"]


def symptom_recall(note: str | frozenset[str], symptoms: list[str], min_share: float = 1.0) -> float:
    """Share of the prompted symptoms the note mentions; 1.0 when nothing was prompted (all of none are present)."""
    flags = symptoms_present(note, symptoms, min_share)
    return sum(flags) / len(flags) if flags else 1.0
