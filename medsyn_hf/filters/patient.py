"""What a note says about its patient — age and sex — so that a note can be checked against its prior's patient.

Russian notes state the age as «Пациентка, 73 года», «мужчина 45 лет», «ей 35 лет», «возраст: 60», «73-летняя
пациентка» or, in a patient's own words, «мне 35 лет»; and the sex by nouns («пациентка», «мужчина», «женщина»),
a form field («пол: женский»), words only one sex takes («беременна», «замужем», «женат») and the gender of past-tense
verbs whose subject is the patient («обратилась», «заболел», «госпитализирована», «считает себя больной»).

Only statements that are about the patient count:

- a number of years counts as an age only next to a word naming the patient («пациентка 73 лет», «ей 35 лет»), in a
  «возраст» field, or at the start of a line («35 лет, жалобы на …»); «болеет 5 лет», «курит 20 лет», «10 лет назад»
  and «пациент 5 лет страдает …» are durations, and «в возрасте 30 лет перенесла …» the age of a past event;
- a verb counts only from a closed list of verbs that take the patient as subject: «боль появилась» and «температура
  поднялась» agree with the symptom, not the patient, so past-tense verbs in general are not used; «пациент» alone is
  not evidence either (Russian uses it for women too);
- sentences that name a relative («мать перенесла инсульт в 60 лет», «отец курил») are skipped altogether.
"""

from __future__ import annotations

import re
from functools import lru_cache

SEXES = ("male", "female")

_RELATIVE = re.compile(
    r"\b(?:мать|матер\w*|мам(?:а|ы|е|у|ой)|отец|отц\w*|пап(?:а|ы|е|у|ой)|сестр\w*|брат\w*|бабушк\w*|дедушк\w*|"
    r"дед|доч\w*|сын\w*|муж|мужа|мужу|мужем|муже|жена|жены|жене|жену|женой|супруг\w*|родител\w*|родствен\w*|ребен\w*|дет(?:и|ей|ям)|"
    r"внук\w*|внучк\w*|тет(?:я|и|е|ю|ей)|дяд\w*)\b"
)
_SENTENCE = re.compile(r"[^.!?;\n]+")
_YEARS = r"(?:-?(?:ти|и|х|ми))?\s*(?:лет|года?|г\b)"  # «35 лет», «32 года», «41 год», «35-ти лет», «60 г»
# Words naming the patient that an age may follow («Пациентка, 73 года», «ей 35 лет», «мужчина 45 лет»).
_PATIENT = (
    r"(?:пациент\w*|больн(?:ой|ая|ого|ому)|мужчин\w*|женщин\w*|юнош\w*|девушк\w*|ей|ему|мне|я|он|она|"
    r"мужск\w*|женск\w*)"
)
_AGES = (
    # «возраст: 60», «возраст пациентки 60 лет», «Возраст — 35», not «в возрасте 30 лет» (a past event's age) nor
    # «с возраста 10 лет»
    re.compile(
        rf"(?<!в )(?<!с )\bвозраст\w*(?:\s+{_PATIENT})?\s*(?:[:\-–—=]\s*)?(\d{{1,3}})\b(?!\s*(?:%|мм|см|кг|мг|раз))"
    ),
    # «пациентка в возрасте 73 лет»: «в возрасте» right after the patient as subject (not «у пациента в возрасте 25
    # лет диагностирована …», a past event)
    re.compile(r"\b(?:пациент|пациентка|больной|больная|мужчина|женщина)\s*,?\s+в возрасте\s+(\d{1,3})\b"),
    # «Пациентка, 73 года», «мужчина 45 лет», «ей 35 лет», «Пациент, мужчина, 40 лет», «Пациентка [ФИО], 40 лет»:
    # only patient words or a placeholder between (not «пациентка болеет 3 года»)
    re.compile(rf"\b{_PATIENT}(?:\s*,?\s*(?:\[[^\]]*\]|{_PATIENT}\b)){{0,2}}\s*,?\s*\b(\d{{1,3}}){_YEARS}"),
    # «73-летняя пациентка», «45-летний мужчина»
    re.compile(r"\b(\d{1,3})\s*-?\s*летн\w*\s+(?:пациент|мужчин|женщин|больн|юнош|девушк)"),
    # a sentence that opens with the age: «35 лет, жалобы на …»
    re.compile(rf"^\s*(\d{{1,3}}){_YEARS}(?=\s*[,:)]|\s*$)"),
)
# After «N лет»: a duration, not an age («5 лет назад», «пациент 5 лет страдает», «10 лет подряд»).
_DURATION_AFTER = re.compile(
    r"\s*(?:назад|подряд|тому|стаж\w*|страда\w*|боле\w*|кур\w*|наблюда\w*|леч\w*|принима\w*|отмеча\w*|"
    r"беспоко\w*|состо\w*|употребля\w*|работа\w*|жив\w*|испытыва\w*|периодическ\w*|регулярн\w*|ежедневн\w*)\b"
)
# A duration before the number: «в течение 35 лет», «последние 3 года», «около 2 лет», «с 15 лет».
_DURATION_BEFORE = re.compile(r"\b(?:течение|протяжении|последни\w*|около|более|менее|свыше|уже|за|через|с)\s*$")

_SEX_WORDS = {
    "female": re.compile(
        r"\bпациентк\w*|\bженщин\w*|\bдевушк\w*|\bбеременн\w*|\bзамужем\b|\bроженица\b|\bродильниц\w*|"
        r"\bпол\s*[:\-–—]?\s*(?:ж\b|жен\w*)|\bженск\w*\s+пол(?:а|ом|у)?\b|считает себя больной\b"
    ),
    "male": re.compile(
        r"\bмужчин\w*|\bюнош\w*|\bженат\b|\bпол\s*[:\-–—]?\s*(?:м\b|муж\w*)|\bмужск\w*\s+пол(?:а|ом|у)?\b|"
        r"считает себя больным\b"
    ),
}
# Verbs whose subject in a note is the patient: masculine past «обратился», feminine «обратилась».
_VERB_STEMS = (
    "обратил",
    "поступил",
    "заболел",
    "почувствовал",
    "жаловал",
    "лечил",
    "курил",
    "госпитализирован",
    "прооперирован",
    "доставлен",
)
_VERBS = {
    "female": re.compile(r"\b(?:" + "|".join(_VERB_STEMS) + r")(?:а|ась)\b|\bперенесла\b"),
    "male": re.compile(r"\b(?:" + "|".join(_VERB_STEMS) + r")(?:ся)?\b|\bперен[её]с\b"),
}


@lru_cache(maxsize=1024)  # the age and the sex of a note are read one after the other
def _patient_sentences(text: str) -> tuple[str, ...]:
    """The note's sentences (lower case, ё as е) that name no relative."""
    lowered = text.lower().replace("ё", "е")
    return tuple(s.group() for s in _SENTENCE.finditer(lowered) if not _RELATIVE.search(s.group()))


def _is_age(sentence: str, match: re.Match) -> bool:
    value = int(match.group(1))
    if not 0 < value <= 120:
        return False
    before, after = sentence[: match.start(1)], sentence[match.end() :]
    return not _DURATION_BEFORE.search(before) and not _DURATION_AFTER.match(after)


def stated_ages(text: str) -> list[int]:
    """Every age the note states for its patient, in order of appearance (repeats kept)."""
    found = []
    for sentence in _patient_sentences(text):
        hits = {m.start(1): int(m.group(1)) for p in _AGES for m in p.finditer(sentence) if _is_age(sentence, m)}
        found.extend(hits[start] for start in sorted(hits))
    return found


def stated_sex(text: str) -> str | None:
    """'male' or 'female' when the note's statements about its patient agree on a sex, 'mixed' when they contradict
    each other, None when it says nothing about it."""
    seen = set()
    for sentence in _patient_sentences(text):
        for sex in SEXES:
            if _SEX_WORDS[sex].search(sentence) or _VERBS[sex].search(sentence):
                seen.add(sex)
    return None if not seen else seen.pop() if len(seen) == 1 else "mixed"


def age_gap(text: str, age: int | None) -> int | None:
    """Largest difference in years between an age the note states and the prior's ``age``; None if it states none
    (or there is no prior age)."""
    ages = stated_ages(text)
    return max(abs(a - age) for a in ages) if ages and age is not None else None
