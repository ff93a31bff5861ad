"""Views of a generated note for comparing it with real notes: its head, its complaints section, or all of it.

Real RuMedTop3 notes are patients' complaints ("Жалобы на ...", median 117 characters), while a generated note is a
whole anamnesis of some 2,000 characters in which the complaints are one section among many ("Жалобы:", "Основная
жалоба:", "обратилась с жалобами на ...", "жалуется на ..."). Anything that compares the two — the ICD-code classifier
of `medsyn eval icd`, a real-vs-synthetic discriminator, a distance to the closest real note — should see the same
kind of text on both sides, so the ``complaint`` view cuts that section out:

- it starts at the first complaint word ("жалоб...", "жалуется", "жаловал(ся|ась)", ...), in a heading or a sentence;
- it runs to the next section heading: a line "Label:" on its own, or "Label: text" whose label names a section of a
  note (анамнез, объективно, диагноз, лечение, ... — not a symptom such as "Кашель: сухой" in a list of complaints);
- it is capped at ``max_chars`` characters, at a word boundary, whitespace collapsed;
- a note without a complaint word falls back to its head (its first ``max_chars`` characters).
"""

from __future__ import annotations

import re

from medsyn_hf.errors import MedsynError

VIEWS = ("head", "complaint", "full")
MAX_CHARS = 300

_COMPLAINT = re.compile(r"жал(?:об|ова|у[ея]т|уя)", re.IGNORECASE)
# A heading line: an optional number or markdown marks, a label of at most 6 words, a colon, maybe text after it.
_HEADING = re.compile(
    r"^\s*(?P<number>\d{1,2}[.)]\s*)?[#*_\s]*(?P<label>[^\s:#*][^:\n]{0,60}?)[*_\s]*:[*_]*(?P<rest>.*)$"
)
_BULLET = re.compile(r"^\s*[-•–—*]\s")
_SECTION_WORDS = re.compile(
    r"анамнез|истори|объектив|осмотр|диагноз|обследов|исследов|лечени|рекоменд|план|заключ|назнач|статус|данные|"
    r"результат|семейн|аллерг|жизн|терапи|прогноз|физикал|лаборатор|инструмент|состояни|перенес|идентиф|пациент|"
    r"возраст|^пол$|дата|имя|фио|вредн|привычк|социальн|эпидем|жалоб|профес|наследств|лекарств|препарат|дифферен",
    re.IGNORECASE,
)


def _is_heading(line: str) -> bool:
    """A section heading ends the complaints; a list item or a "Symptom: detail" line inside them does not."""
    match = _HEADING.match(line)
    if not match or _BULLET.match(line) or len(match["label"].split()) > 6:
        return False
    return not match["rest"].strip() or bool(_SECTION_WORDS.search(match["label"].strip()))


def _cap(text: str, max_chars: int) -> str:
    """Whitespace collapsed, cut to ``max_chars`` (0: no cap) at the last word boundary of the final 40 characters."""
    text = " ".join(text.split())
    if not max_chars or len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space >= max_chars - 40 else cut


def complaint(text: str, max_chars: int = MAX_CHARS) -> str:
    """The complaints section of a note, from its first complaint word to the next section heading (see the module)."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        found = _COMPLAINT.search(line)
        if not found:
            continue
        section = [line[found.start() :]]
        for following in lines[number + 1 :]:
            if _is_heading(following):
                break
            section.append(following)
        result = _cap("\n".join(section), max_chars)
        if result:
            return result
    return _cap(text, max_chars)


def view(text: str, kind: str = "head", max_chars: int = MAX_CHARS) -> str:
    """``head``: the first ``max_chars`` characters; ``complaint``: :func:`complaint`; ``full``: the whole note."""
    if kind == "head":
        return text[: max_chars or None]
    if kind == "complaint":
        return complaint(text, max_chars)
    if kind == "full":
        return text
    raise MedsynError(f"unknown view {kind!r}; allowed: {', '.join(VIEWS)}")
