"""Quality filters for generated notes: every measure becomes a column, then thresholds decide ``keep``.

``apply_filters`` is the one entry point (generation calls it); ``medsyn eval prompt-following`` reports symptom
recall and copy ratio with the same functions. Each filter is one class (``base.py``: ``NoteFilter``, ``SetFilter``,
``NoteTransform``) in ``builtin/``, registered here in order; ``register`` adds a user's. Defaults were set on the
11,480 MedSyn GPT notes, see ``FilterConfig``. The selection filters (realism, label consistency, the privacy guard
and a plan's per-code quota) compare the notes with the user's real notes, a ``Reference`` given to
``apply_filters``.
"""

from __future__ import annotations

from medsyn_hf.filters.base import (
    REGISTRY,
    FilterConfig,
    NoteFilter,
    Notes,
    NoteTransform,
    Reference,
    SetFilter,
    Threshold,
    filter_columns,
    filter_reasons,
    register,
    unregister,
    verdict_columns,
)
from medsyn_hf.filters.builtin import BUILTIN
from medsyn_hf.filters.builtin.judge_score import judge_failed
from medsyn_hf.filters.builtin.language import cyrillic_share
from medsyn_hf.filters.dedup import deduplicate
from medsyn_hf.filters.overlap import copy_ratio, copy_span
from medsyn_hf.filters.pii import find_pii, scrub_pii
from medsyn_hf.filters.pipeline import apply_filters, note_scores
from medsyn_hf.filters.recall import symptom_recall
from medsyn_hf.normalize import symptoms_present

__all__ = [
    "FilterConfig",
    "apply_filters",
    "note_scores",
    "register",
    "unregister",
    "Threshold",
    "NoteFilter",
    "SetFilter",
    "NoteTransform",
    "Notes",
    "Reference",
    "REGISTRY",
    "filter_columns",
    "filter_reasons",
    "verdict_columns",
    "judge_failed",
    "cyrillic_share",
    "symptom_recall",
    "symptoms_present",
    "copy_ratio",
    "copy_span",
    "deduplicate",
    "find_pii",
    "scrub_pii",
]

for _builtin in BUILTIN:
    register(_builtin)
