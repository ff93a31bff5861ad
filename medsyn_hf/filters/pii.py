"""Scrub personal data from Russian notes: LLMs invent patient names, phones and addresses, and a published dataset must
not look like it leaks real ones.

Detectors yield character spans; overlaps resolve to the longest span and each span becomes a placeholder such as
``[ФИО]``. Number shapes that also occur in medicine (doses, dates, lab values) are matched only in forms no measurement
takes (``+7 …``, ``123-456-789 01``) or right after a label such as "паспорт" or "СНИЛС"; dates only after
"дата рождения". Patterns start with a character class (look-behinds come after it) so ``re`` can skip ahead quickly.
"""

from __future__ import annotations

import re
from functools import lru_cache

from medsyn_hf.kg.normalize import morph

PLACEHOLDERS = {
    "name": "[ФИО]",
    "phone": "[ТЕЛЕФОН]",
    "snils": "[СНИЛС]",
    "passport": "[ПАСПОРТ]",
    "policy": "[ПОЛИС]",
    "email": "[EMAIL]",
    "address": "[АДРЕС]",
    "birth_date": "[ДАТА РОЖДЕНИЯ]",
}

# --- numbers -------------------------------------------------------------------------------------------------------
_NUMBER_GATE = re.compile(r"\d[\d \-()№]{5,}\d")  # every identifier below has 7+ digits and separators
_D0 = r"\d(?<![\d.,/]\d)"  # first digit, with no digit, decimal point or fraction bar before it
_END = r"(?![\d/]|[.,]\d)"
_SEP = r"[ \-]?"
_NUMBER_FORMATS = [
    ("phone", re.compile(r"(?:\+7|8(?<![\d.,/]8))[ \-]?\(?\d{3}\)?[ \-]?\d{3}[ \-]?\d{2}[ \-]?\d{2}" + _END)),
    ("snils", re.compile(_D0 + r"\d{2}-\d{3}-\d{3}[ \-]\d{2}" + _END)),
    ("passport", re.compile(_D0 + r"\d ?\d{2} (?:№ ?)?\d{6}" + _END)),
    ("policy", re.compile(_D0 + r"\d{3}" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _END)),
]
# Label, then the identifier (group 1); only the identifier is replaced, so the label stays readable.
_GAP = r"[^\d\n]{0,25}?"
_ID = r"(\+?\d(?:[\d \-]|№ ?){5,24}\d)"
_LABELLED_NUMBERS = [
    ("phone", re.compile(r"[Тт]ел(?:ефон\w*|\.|\b)" + _GAP + _ID)),
    ("snils", re.compile(r"(?:СНИЛС|[Сс]нилс)\b" + _GAP + _ID)),
    ("passport", re.compile(r"[Пп]аспорт(?:а|е|у|ом)?\b" + _GAP + _ID)),
    ("policy", re.compile(r"(?:[Пп]олис(?:а|е|у|ом)?|ОМС)\b" + _GAP + _ID)),
]
_BIRTH_DATE = re.compile(
    r"(?:[Дд]ата рождения|д\.\s?р\.)[^\S\n]*[:\-–—]?[^\S\n]*(\d{1,2}[./]\d{1,2}[./]\d{2,4}(?:\s?г\.)?)"
)
_EMAIL = re.compile(
    r"[A-Za-z0-9](?<![\w.+-][A-Za-z0-9])[A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

# --- addresses -----------------------------------------------------------------------------------------------------
_CAP = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_STREET_TYPE = (
    r"(?:ул\.|улиц[аеиуы]|просп\.|проспект[аеу]?|пр-к?т\.?|пер\.|переул(?:ок|ке|ка)|б-р|бульвар[аеу]?"
    r"|наб\.|набережн(?:ая|ой)|пл\.|площад[ьи]|ш\.|шоссе|мкр\.?|микрорайон[аеу]?)"
)
_STREET_GATE = re.compile(_STREET_TYPE + r"\s*[А-ЯЁ\d]")
_HOUSE = r"(?:,?\s*(?:д\.|дом)\s*\d+[а-яА-Я]?(?:/\d+)?)?"
_BUILDING = r"(?:,?\s*(?:корп\.|корпус|стр\.|строение|к\.)\s*\d+)?"
_FLAT = r"(?:,?\s*(?:кв\.|квартира)\s*\d+)"
_STREET = re.compile(
    r"(?:(?:г\.|город)\s*" + _CAP + r",?\s*)?(?<![а-яёА-ЯЁ])" + _STREET_TYPE + r"\s*(?:\d{1,2}-?(?:я|й|го)?\s)?"
    + _CAP + r"(?:\s" + _CAP + r")?(?:,?\s*\d+[а-я]?\b)?" + _HOUSE + _BUILDING + _FLAT + "?"
)
_HOUSE_FLAT = re.compile(r"[дД](?<![а-яёА-ЯЁ][дД])(?:\.|ом)\s*\d+[а-я]?" + _BUILDING + _FLAT)
# "Адрес: ..." runs to the end of the line or of the sentence; a period after an abbreviation ("ул.", "д.") is not one.
_ADDRESS_ABBREVIATIONS = frozenset("г ул д кв пр просп пер корп к стр обл р-н пос п с дер мкр наб пл б-р ш".split())
_SENTENCE_END = re.compile(r"([А-Яа-яЁё-]*)\.\s+(?=[А-ЯЁ])")
_ADDRESS_LABEL = re.compile(
    r"[Аа]дрес\w*(?:[^\S\n]+(?:проживания|регистрации|пациента|пациентки))?[^\S\n]*[:\-–—][^\S\n]*([^\s\[][^\n\[]*)"
)

# --- person names --------------------------------------------------------------------------------------------------
# pymorphy3 knows first names (Name), surnames (Surn) and patronymics (Patr). One capitalised word alone is too
# ambiguous ("Вера", "Роза", a sentence start), so a name needs company: another name word of a different kind or a
# patronymic, initials, or a label such as "ФИО:", "пациентка" or "по имени".
_NAME_KINDS = frozenset({"Name", "Surn", "Patr"})
_SURNAME_SHAPE = re.compile(r"(?:ов|ев|ёв|ин|ын|ск|цк|ич)(?:а|у|ой|ым|ому|ого|ий|ая|ое|ую)?$")
_CAP_RUN = re.compile(_CAP + r"(?: " + _CAP + r")*")
# One or two initials, not part of a longer abbreviation ("Ф.И.О.", "ЭКГ."); the surname beside them is on the same
# line.
_INITIALS = re.compile(r"[А-ЯЁ](?<![А-ЯЁа-яё.][А-ЯЁ])\.(?:[^\S\n]?[А-ЯЁ]\.)?(?![^\S\n]?[А-ЯЁ](?:\.|\b))")
_CAP_BEFORE = re.compile(_CAP + r"[^\S\n]$")
_CAP_AFTER = re.compile(r"[^\S\n]?" + _CAP)
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO"})
_NAME_LABEL = re.compile(
    r"(?:[ФИО](?:ИО|\.И\.О\.|амилия|мя|тчество)(?:[^\S\n]+(?:пациента|пациентки|врача))?[^\S\n]*[:\-–—]"
    r"|[ПпБбДдВвЗзГгИи](?:ациент(?:ка|а|у|ом|ке|ки|ой)?|ольн(?:ой|ая|ого|ому)|октор\w*|рач\w*|овут|мени"
    r"|-н|-жа|оспо(?:дин|жа)\w*)"
    r"[:,.]?)[^\S\n]*"
)


@lru_cache(maxsize=100_000)
def _name_kinds(word: str) -> frozenset[str]:
    """Which of Name/Surn/Patr the word can be; guessed (out-of-dictionary) parses only count for surname-shaped words,
    and words that are most likely function words ("По", "Из") count as none."""
    parses = morph().parse(word)
    if parses[0].tag.POS in _FUNCTION_POS:
        return frozenset()
    kinds = set()
    for parse in parses:
        found = _NAME_KINDS & parse.tag.grammemes
        if found and (parse.is_known or ("Surn" in found and _SURNAME_SHAPE.search(word.lower()))):
            kinds |= found
    return frozenset(kinds)


def _name_stretches(run: re.Match):
    """Maximal stretches of name-like words inside a run of capitalised words: (start, end, kinds)."""
    pos, begin, kinds = run.start(), None, set()
    for token in run.group(0).split(" ") + [""]:
        token_kinds = _name_kinds(token) if token else frozenset()
        if token_kinds:
            begin = pos if begin is None else begin
            kinds |= token_kinds
        elif begin is not None:
            yield begin, pos - 1, frozenset(kinds)
            begin, kinds = None, set()
        pos += len(token) + 1


def _name_spans(text: str):
    for run in _CAP_RUN.finditer(text):
        for start, end, kinds in _name_stretches(run):
            if " " in text[start:end] and (len(kinds) >= 2 or "Patr" in kinds):
                yield start, end
    for initials in _INITIALS.finditer(text):
        start, end = initials.span()
        two = initials.group(0).count(".") == 2
        if two:  # "И.И." alone is already a person
            yield start, end
        before = _CAP_BEFORE.search(text, max(0, start - 40), start)
        after = _CAP_AFTER.match(text, end)
        for word in (before, after):
            kinds = _name_kinds(word.group(0).strip()) if word else frozenset()
            if "Surn" in kinds or (two and kinds):
                yield min(word.start(), start), max(word.end(), end)
    for label in _NAME_LABEL.finditer(text):
        run = _CAP_RUN.match(text, label.end())
        first = next(_name_stretches(run), None) if run else None
        if not first or first[0] != run.start() or text.startswith(":", first[1]):  # "Пациент: Пол: женский"
            continue
        # One word after a label must read as a name first ("Пациент: Сухой кашель" is not a Mr Sukhoi).
        if " " in text[first[0] : first[1]] or _NAME_KINDS & morph().parse(text[first[0] : first[1]])[0].tag.grammemes:
            yield first[0], first[1]


def _address_length(value: str) -> int:
    for end in _SENTENCE_END.finditer(value):
        if end.group(1).lower() not in _ADDRESS_ABBREVIATIONS:
            return end.start() + len(end.group(1))
    return len(value.rstrip())


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, kind)`` spans of personal data, in text order."""
    spans = [(s, e, "name") for s, e in _name_spans(text)]
    spans += [(m.start(1), m.end(1), "birth_date") for m in _BIRTH_DATE.finditer(text)]
    spans += [(m.start(1), m.start(1) + _address_length(m.group(1)), "address") for m in _ADDRESS_LABEL.finditer(text)]
    spans += [(m.start(), m.end(), "address") for m in _HOUSE_FLAT.finditer(text)]
    if _STREET_GATE.search(text):
        spans += [(m.start(), m.end(), "address") for m in _STREET.finditer(text)]
    if "@" in text:
        spans += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    if _NUMBER_GATE.search(text):
        for kind, pattern in _NUMBER_FORMATS:
            spans += [(m.start(), m.end(), kind) for m in pattern.finditer(text)]
        for kind, pattern in _LABELLED_NUMBERS:
            spans += [(m.start(1), m.end(1), kind) for m in pattern.finditer(text)]
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):  # longest first
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    return sorted(chosen)


def scrub_pii(text: str) -> tuple[str, list[str]]:
    """The text with every span of personal data replaced by its placeholder, and the sorted kinds that were found."""
    out, last, kinds = [], 0, set()
    for start, end, kind in find_pii(text):
        out += [text[last:start], PLACEHOLDERS[kind]]
        last = end
        kinds.add(kind)
    out.append(text[last:])
    return "".join(out), sorted(kinds)
