"""Replaces personal data the model invented by placeholders before anything is measured (``filters.pii``)."""

from __future__ import annotations

from medsyn_hf.filters.base import NoteTransform, Threshold
from medsyn_hf.filters.pii import scrub_pii
from medsyn_hf.schemas import FILTER_COLUMNS


class PiiScrub(NoteTransform):
    """PII scrubbing: names, phones, addresses and document numbers become placeholders such as `[ФИО]`."""

    name = "pii_scrub"
    columns = FILTER_COLUMNS[name]
    thresholds = {"scrub_pii": Threshold(True, "Replace personal data in the note text with placeholders.")}

    def transform(self, notes, config):
        if not config.scrub_pii:
            return notes.texts, {"pii_found": [[] for _ in notes.texts]}
        scrubbed = [scrub_pii(text) for text in notes.texts]
        return [text for text, _ in scrubbed], {"pii_found": [kinds for _, kinds in scrubbed]}
