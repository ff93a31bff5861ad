"""Where a note mentions its prompted symptoms, as character spans: the words symptom recall counted, for display."""

from __future__ import annotations

import re

from medsyn_hf.normalize import WORD, lemma, symptom_lemmas, symptoms_present

# The tokeniser of ``normalize.words`` on the original text, so spans index the note as written.
_WORD_ANY_CASE = re.compile(WORD.pattern, re.IGNORECASE)


def symptom_spans(note: str, symptoms: list[str], min_share: float = 1.0) -> list[tuple[int, int, str]]:
    """(start, end, symptom) for each word of ``note`` whose lemma belongs to a symptom that recall finds in the note.

    Same lemmas and criterion as ``symptoms_present``, so what is highlighted is exactly what recall counted; a lemma
    shared by two found symptoms goes to the first of them.
    """
    owner: dict[str, str] = {}
    for symptom, found in zip(symptoms, symptoms_present(note, symptoms, min_share)):
        if found:
            for word in symptom_lemmas(symptom):
                owner.setdefault(word, symptom)
    spans = []
    for m in _WORD_ANY_CASE.finditer(note):
        symptom = owner.get(lemma(m.group().lower().replace("ё", "е")))
        if symptom is not None:
            spans.append((m.start(), m.end(), symptom))
    return spans


def segments(note: str, spans: list[tuple[int, int, str]]) -> list[tuple[str, str | None]]:
    """The note cut at the spans into (text, label or None) pieces that concatenate back to the note."""
    out, pos = [], 0
    for start, end, label in spans:
        if start > pos:
            out.append((note[pos:start], None))
        out.append((note[start:end], label))
        pos = end
    if pos < len(note):
        out.append((note[pos:], None))
    return out
