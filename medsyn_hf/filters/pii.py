"""Scrub personal data from Russian notes: LLMs invent patient names, phones and addresses, and a published dataset
must not look like it leaks real ones.

Detectors yield character spans; overlaps resolve to the longest span and each span becomes a placeholder such as
``[ФИО]``. Number shapes that also occur in medicine (doses, dates, lab values) are matched only in forms no
measurement takes (``+7 …``, ``123-456-789 01``, a bare 10/11-digit run) or right after a label such as "паспорт" or
"СНИЛС".

What counts as personal here (the fixture in ``tests/fixtures/pii/`` follows the same line):

- a date is personal only when it is a *birth* date: after a label ("Д.р.", "дата рождения", "ДР:"), after
  "родился/родилась/рождён", or a year before "г.р." / "года рождения". Dates of visits, onset, admission ("с 12.03 по
  15.03", "заболела 10.02.2023") are the note's clinical timeline and stay;
- an address is a street, settlement or flat (with whatever city, region and postal code are written next to it); a
  city or region alone ("лечилась в Кисловодске", "ЦРБ г. Пушкино") and hospital names are not;
- a name is two name words of different kinds (surname + first name, first name + patronymic), a surname with
  initials, a name after a label ("пациентка", "ФИО:", "врач"), or one surname/first name used as a sentence's subject
  ("Захарова жалуется…", "Иванов, 45 лет"), in Cyrillic or in Latin transliteration ("Ivan Petrov", "Petrova A.V.").
  Eponyms (the capitalised words of the MKG's disease names, plus the clinical signs and tests below) and names after
  "им." / "имени" (hospitals, institutes) are not persons.

Patterns mostly start with a character class (look-behinds come after it) so ``re`` can skip ahead quickly; the
address patterns, which cannot, run only on the notes where a cheap pre-check finds a street or settlement word.
"""

from __future__ import annotations

import re
from functools import lru_cache

from medsyn_hf.kg import load_graph
from medsyn_hf.normalize import morph

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
_AREA = r"[3-9]\d\d"  # Russian area/mobile codes; no measurement writes a 10-digit run that starts like this
_NUMBER_FORMATS = [
    ("phone", re.compile(r"(?:\+7|[78](?<![\d.,/][78]))[ \-]?\(?\d{3}\)?[ \-]?\d{3}[ \-]?\d{2}[ \-]?\d{2}" + _END)),
    # no country prefix: "(912) 345-67-89", "912-345-67-89", "912 345 67 89", "9123456789"
    ("phone", re.compile(r"\((?<![\d.,/]\()" + _AREA + r"\)[ \-]?\d{3}[ \-]?\d{2}[ \-]?\d{2}" + _END)),
    ("phone", re.compile(r"[3-9](?<![\d.,/+][3-9])\d\d(?:-\d{3}-\d\d-\d\d| \d{3} \d\d \d\d|\d{7})" + _END)),
    ("snils", re.compile(_D0 + r"\d{2}-\d{3}-\d{3}[ \-]\d{2}" + _END)),
    ("passport", re.compile(_D0 + r"\d ?\d{2} (?:№ ?)?\d{6}" + _END)),
    ("policy", re.compile(_D0 + r"\d{3}" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _SEP + r"\d{4}" + _END)),
]
# Label, then the identifier (group 1); only the identifier is replaced, so the label stays readable.
_GAP = r"[^\d\n]{0,25}?"
_ID = r"(\+?\d(?:[\d \-()]|№ ?){5,24}\d)"
_LABELLED_NUMBERS = [
    ("phone", re.compile(r"[Тт]ел(?:ефон\w*|\.|\b)" + _GAP + _ID)),
    ("snils", re.compile(r"(?:СНИЛС|[Сс]нилс)\b" + _GAP + _ID)),
    ("passport", re.compile(r"[Пп]аспорт(?:а|е|у|ом)?\b" + _GAP + _ID)),
    ("policy", re.compile(r"(?:[Пп]олис(?:а|е|у|ом)?|ОМС)\b" + _GAP + _ID)),
]
_EMAIL = re.compile(r"[^\W_](?<![\w.+-][^\W_])[\w.%+-]*@[^\W_][\w-]*(?:\.[\w-]+)*\.(?:[a-zA-Z]{2,}|[а-яёА-ЯЁ]{2,})\b")

# --- birth dates ---------------------------------------------------------------------------------------------------
_MONTH = r"(?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря)"
_YEAR = r"(?:19|20)\d\d"
_DATE = (
    r"(?:\d{1,2}[./\-]\d{1,2}[./\-](?:" + _YEAR + r"|\d\d)(?!\d)|" + _YEAR + r"-\d\d-\d\d"
    r"|\d{1,2}[^\S\n]+" + _MONTH + r"[^\S\n]+" + _YEAR + ")"
)
_H = r"[^\S\n]*"
_BIRTH_GATE = re.compile(r"[РрДдг](?:ожд|одил|[./]" + _H + r"р|Р)")  # starts with a class: re scans for it fast
_BIRTH_DATE = [
    # "Дата рождения: 12.03.1985", "Д.р. 01.01.1950", "Д/р 1984", "ДР: 1978-03-12", "Год рождения — 1971"
    re.compile(
        r"(?:[Дд]ата"
        + _H
        + r"рожд(?:ения|\.)|[Дд]\."
        + _H
        + r"р\.|[Дд]/р\b\.?|ДР\b|[Гг]од"
        + _H
        + r"рождения)"
        + _H
        + r"[:\-–—]?"
        + _H
        + "((?:"
        + _DATE
        + "|"
        + _YEAR
        + r")(?!\d)(?:[^\S\n]?г\.(?![^\S\n]?р))?)"
    ),
    # "Родился 5 мая 1960 года", "родилась в 1979 году", "рожденная 15 июня 1990 года", "Рождён 23.10.1935"
    re.compile(
        r"[Рр](?:одил(?:ся|ась)|ожд[её]нн?(?:ый|ая|ого|ой|а)?)"
        + _H
        + r"(?:в"
        + _H
        + ")?("
        + _DATE
        + "|"
        + _YEAR
        + r")(?!\d)"
    ),
    # "1985 г.р.", "1958 г. р.", "1955 года рождения", "1967 г. рождения", "12.12.1967 г.р."
    re.compile(
        r"(" + _DATE + "|" + _YEAR + r")" + _H + r"(?:г\.?" + _H + r"р(?:\.|(?![\w-]))|(?:г\.|года)" + _H + r"рожд)"
    ),
]

# --- addresses -----------------------------------------------------------------------------------------------------
# Parts are found one by one and merged when only commas and spaces separate them; a merged run is an address when it
# holds a street, a settlement or a flat (a city, region, postal code or house number alone is not).
_CAP = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_PLACE = _CAP + r"(?:-на-" + _CAP + r"|[^\S\n]" + _CAP + r")?"  # "Ростов-на-Дону", "Красный Октябрь"
_STREET_TYPE = (
    r"(?:ул\.|улиц[аеиуы]|просп\.|проспект(?:а|е|у|ом)?|пр-к?т\.?|пр\.|пер\.|переул(?:ок|ке|ка|ком)|б-р|бульвар[аеу]?"
    r"|наб\.|набережн(?:ая|ой|ую)|пл\.|площад[ьи]|ш\.|шоссе|мкр\.?|микрорайон[аеу]?|пр-д|проезд[аеу]?|туп\.|тупик[аеу]?)"
)
_NUMBERED = r"(?:\d{1,2}(?:-?(?:я|й|го|ая|ой))?[^\S\n])?"  # "ул. 8 Марта", "1-я Парковая"
_HOUSE_NUMBER = r"\d+[а-я]?(?:/\d+)?(?:-\d+)?\b"
_STREET_TAIL = r"(?:,?[^\S\n]*(?:(?:д\.|дом)[^\S\n]*)?" + _HOUSE_NUMBER + ")?"
_ADDRESS_PARTS = [
    # type first: "ул. Ленина, 5", "проспект Мира", "пр. Победы, д. 3"
    (True, re.compile(r"(?<![а-яёА-ЯЁ])(?i:" + _STREET_TYPE + r")[^\S\n]*" + _NUMBERED + _PLACE + _STREET_TAIL)),
    # name first: "Невский проспект", "Ленинский пр-т, 45", "Садовая улица", "Кутузовском проспекте, 26"
    (
        True,
        re.compile(
            _CAP + r"[^\S\n]+(?:проспект(?:а|е|у|ом)?|пр-к?т\.?|пр\.|улиц[аеиуы]|ул\.|шоссе|ш\."
            r"|бульвар[аеу]?|б-р|переул(?:ок|ке|ка|ком)|пер\.|набережн(?:ая|ой|ую)|наб\.|проезд[аеу]?|тупик[аеу]?)(?![а-яё])"
            + _STREET_TAIL
        ),
    ),
    # a square is also an area ("Общая площадь ожога"): a house number, or a capital that starts no sentence
    (
        True,
        re.compile(
            _CAP
            + r"[^\S\n]+(?:площад[ьи]|пл\.),?[^\S\n]*(?:(?:д\.|дом)[^\S\n]*)?"
            + _HOUSE_NUMBER
            + r"|[А-ЯЁ](?<=[а-яё,:;][^\S\n][А-ЯЁ])[а-яё]+[^\S\n]+(?:площад[ьи]|пл\.)"
            + _STREET_TAIL
        ),
    ),
    # settlements: "пос. Солнечный", "деревня Малиновка", "пгт Берёзовка", "станица Каневская"
    (
        True,
        re.compile(
            r"[пПдДсСхХ](?<![а-яёА-ЯЁ][пПдДсСхХ])(?:ос\.|ос[её]л(?:ок|ке|ка)|гт\.?|ер\.|ерев(?:ня|не|ни)"
            r"|ел[оеау]|т-ц[аеы]|таниц[аеы]|утор[аеу]?)[^\S\n]*" + _PLACE
        ),
    ),
    # "п.", "д.", "с.", "х." (not "т.д.", "т. п.")
    (None, re.compile(r"[пдсх](?<![а-яёА-ЯЁ\d./][пдсх])(?<!т\.[^\S\n][пдсх])\.[^\S\n]*(" + _CAP + ")")),
    (True, re.compile(r"(?:кв\.|квартир[аеы])[^\S\n]*\d+\b")),
    # parts that only extend an address
    (False, re.compile(r"(?:г\.|город[аеу]?)(?<!\d[^\S\n]г\.)(?<![а-яёА-ЯЁ\d]г\.)[^\S\n]*" + _PLACE)),  # not "2019 г."
    (
        False,
        re.compile(
            r"[А-ЯЁ][а-яё]+(?:ск|цк)(?:ая|ой|ую)[^\S\n]+(?:обл\.|област[иь])"
            r"|[А-ЯЁ][а-яё]+(?:ск|цк)(?:ий|ого|ом)[^\S\n]+(?:кра[йяе]|р-н|район[аеу]?)"
        ),
    ),
    (
        False,
        re.compile(r"(?:д\.|дом)[^\S\n]*" + _HOUSE_NUMBER + r"|(?:корп\.|корпус|стр\.|строение|к\.)[^\S\n]*\d+\b"),
    ),
    (False, re.compile(r"\d(?<![\d.,]\d)\d{5}(?=,)")),  # postal code
]
# Every address has a strong part, and each strong part contains one of these words: notes without any skip the rest.
# One leading class (then look-behinds per first letter) lets re scan for candidates fast.
_GATE_WORDS = {
    "Уу": r"л\.|лиц[аеиуы]",
    "Пп": r"росп|р-|р\.|ер\.|ереул|л\.|лощад|ос\.|ос[её]л|гт|роезд",
    "Бб": r"-р|ульвар",
    "Нн": r"аб\.|абережн",
    "Шш": r"\.|оссе",
    "Мм": r"кр|икрорайон",
    "Тт": r"уп\.|упик",
    "Дд": r"ер\.|еревн",
    "Сс": r"ел[оеау]\b|т-ц|таниц",
    "Хх": r"утор",
    "Кк": r"в\.|вартир",
}
_ADDRESS_GATE = re.compile(
    "["
    + "".join(_GATE_WORDS)
    + "](?<![а-яёА-ЯЁ].)(?:"
    + "|".join(f"(?<=[{k}])(?:{v})" for k, v in _GATE_WORDS.items())
    + r"|(?<=[пдсх])(?<!т\.[^\S\n][пдсх])\.[^\S\n]*[А-ЯЁ])"
)
_ADDRESS_JOIN = re.compile(r"[,\s]{0,3}")
# "Адрес: ..." runs to the end of the line or of the sentence; a period after an abbreviation ("ул.", "д.") does not
# end it.
_ADDRESS_ABBREVIATIONS = frozenset(
    {
        "г",
        "ул",
        "д",
        "кв",
        "пр",
        "просп",
        "пер",
        "корп",
        "к",
        "стр",
        "обл",
        "р-н",
        "пос",
        "п",
        "с",
        "дер",
        "мкр",
        "наб",
        "пл",
        "б-р",
        "ш",
    }
)
_SENTENCE_END = re.compile(r"([А-Яа-яЁё-]*)\.\s+(?=[А-ЯЁ])")
_ADDRESS_LABEL = re.compile(
    r"[Аа]дрес\w*(?:[^\S\n]+(?:проживания|регистрации|пациента|пациентки))?[^\S\n]*[:\-–—][^\S\n]*([^\s\[][^\n\[]*)"
)

# --- person names --------------------------------------------------------------------------------------------------
# pymorphy3 knows first names (Name), surnames (Surn) and patronymics (Patr). One capitalised word alone is too
# ambiguous ("Вера", "Роза", a sentence start), so a name needs company: another name word of a different kind or a
# patronymic, initials, a label such as "ФИО:", "пациентка" or "по имени", or a verb it is the subject of.
_NAME_KINDS = frozenset({"Name", "Surn", "Patr"})
_SURNAME_SHAPE = re.compile(r"(?:ов|ев|ёв|ин|ын|ск|цк|ич)(?:а|у|ой|ым|ому|ого|ий|ая|ое|ую)?$")
_COMMON_SURNAME = re.compile(r"(?:[оеё]в|[сц]к(?:ий|ая))$")
_LAT_CAP = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_CAP_RUN = re.compile(_CAP + r"(?: " + _CAP + r")*|" + _LAT_CAP + r"(?: " + _LAT_CAP + r")*")
# One or two initials, not part of a longer abbreviation ("Ф.И.О.", "ЭКГ."); the surname beside them is on the same
# line.
_INITIALS = re.compile(
    r"[А-ЯЁA-Z](?<![А-ЯЁа-яёA-Za-z.][А-ЯЁA-Z])\.(?:[^\S\n]?[А-ЯЁA-Z]\.)?"
    r"(?![^\S\n]?[А-ЯЁA-Z](?:\.|\b))"
)
_CAP_BEFORE = re.compile(r"(?:" + _CAP + "|" + _LAT_CAP + r")[^\S\n]$")
_CAP_AFTER = re.compile(r"[^\S\n]?(?:" + _CAP + "|" + _LAT_CAP + ")")
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO"})
_NAME_LABEL = re.compile(
    r"(?:[ФИО](?:ИО|\.И\.О\.|амилия|мя|тчество)(?:[^\S\n]+(?:пациента|пациентки|врача))?[^\S\n]*[:\-–—]"
    r"|[ПпБбДдВвЗзГгИи](?:ациент(?:ка|а|у|ом|ке|ки|ой)?|ольн(?:ой|ая|ого|ому)|октор\w*|рач\w*|овут|мени"
    r"|-н|-жа|оспо(?:дин|жа)\w*)"
    r"[:,.]?)[^\S\n]*"
)
# A name word as a subject: followed by a verb ("Захарова жалуется", "Иванову назначено") or by its age.
_SUBJECT = re.compile(
    r"(" + _CAP + r")(?:[^\S\n]+(?:не[^\S\n]+)?([а-яё]+)"
    r"|[^\S\n]*[,(][^\S\n]*\d{1,3}[^\S\n]*(?:лет|год))"
)
_SUBJECT_POS = frozenset({"VERB", "PRTS"})
# A capital after these words names a sign, test or disease ("Тест Штемслера не дал", "по Нечипоренко"), not a person.
_EPONYM_HEAD = re.compile(
    r"(?<![а-яё])(?:(?:болезн|синдром|симптом|тест|проб|рефлекс|метод|шкал|признак|феномен|триад|тетрад|операци|реакци"
    r"|опухол|лимфом|саркома|индекс|критери|классификаци|формул|точк)[а-яё]*|по)[^\S\n]+$",
    re.IGNORECASE,
)
_INSTITUTION = re.compile(r"(?:(?<![а-яё])им\.|(?<!по )имени)[^\S\n]*$")  # "им. Склифосовского", not "по имени"
# Eponyms of signs and tests that name no disease in the MKG; the disease eponyms come from the MKG itself.
_SIGN_EPONYMS = (
    "Бехтерев Боткин Манту Нечипоренко Зимницкий Ромберг Бабинский Керниг Брудзинский Пастернацкий Щеткин Блюмберг "
    "Ортнер Мюсси Кер Мерфи Ровзинг Ситковский Квинке Холтер Глазго Бильрот Кушинг Иценко Ласег Вассерман Грефе Кохер"
)
_LATIN_DIGRAPHS = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("tz", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("iy", "ий"),
    ("yy", "ый"),
    ("ey", "ей"),
    ("ay", "ай"),
    ("oy", "ой"),
    ("uy", "уй"),
    ("yo", "ё"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ye", "е"),
    ("ju", "ю"),
    ("ja", "я"),
    ("x", "кс"),
]
_LATIN_LETTERS = str.maketrans("abvgdezijklmnoprstufhcwyq", "абвгдезийклмнопрстуфхцвык")
_CONSONANT_IOTA = re.compile(r"(?<=[bcdfgklmnprstvz])(?:y([aeu])|i(a))")
_LATIN_L = re.compile(r"l(?=[bcdfghjkmnpqrstvwxz])")


@lru_cache(maxsize=4096)
def _transliterations(word: str) -> tuple[str, ...]:
    """Cyrillic readings of a Latin-script Russian name ("Tatyana" → "Татьяна", "Yulia" → "Юлия", "Olga" →
    "Ольга"): a plain letter-by-letter one and a soft one (ь before iotated vowels and before a consonant after l)."""
    low = word.lower()
    readings = []
    for soft in (False, True):
        text = _LATIN_L.sub("lь", low) if soft else low
        if soft:
            text = _CONSONANT_IOTA.sub(lambda m: "ь" + {"a": "я", "e": "е", "u": "ю"}[m.group(1) or m.group(2)], text)
        text = re.sub(r"(?<=[bcdfghjklmnpqrstvwxz])y$", "ий", text)
        text = re.sub(r"^e", "е", text)
        text = re.sub(r"ia$", "ия", text)
        for latin, cyrillic in _LATIN_DIGRAPHS:
            text = text.replace(latin, cyrillic)
        readings.append(text.translate(_LATIN_LETTERS).capitalize())
    return tuple(dict.fromkeys(readings))


@lru_cache(maxsize=100_000)
def _name_kinds(word: str) -> frozenset[str]:
    """Which of Name/Surn/Patr the word can be; guessed (out-of-dictionary) parses only count for surname-shaped words,
    and words that are most likely function words ("По", "Из") count as none. A Latin word is read through its
    transliterations, and only dictionary parses count for it ("Augmentin" is no surname)."""
    if word[:1].isascii():
        return frozenset().union(*(_cyrillic_name_kinds(w, known_only=True) for w in _transliterations(word)))
    return _cyrillic_name_kinds(word)


def _cyrillic_name_kinds(word: str, known_only: bool = False) -> frozenset[str]:
    parses = morph().parse(word)
    if parses[0].tag.POS in _FUNCTION_POS:
        return frozenset()
    kinds = set()
    for parse in parses:
        found = _NAME_KINDS & parse.tag.grammemes
        if found and (parse.is_known or (not known_only and "Surn" in found and _SURNAME_SHAPE.search(word.lower()))):
            kinds |= found
    return frozenset(kinds)


@lru_cache(maxsize=1)
def _eponyms() -> frozenset[str]:
    """Normal forms of the persons in disease names (the MKG's "Болезнь Паркинсона", "синдром Иценко-Кушинга") and of
    common eponymous signs and tests, so "Паркинсон прогрессирует" does not read as a patient."""
    graph = load_graph().graph
    words = set(_SIGN_EPONYMS.split())
    for _, node in graph.nodes(data=True):
        if node.get("kind") == "code":
            for name in (node["name_ru"], *node["aliases"]):
                words.update(re.findall(r"(?<=[\s(«-])[А-ЯЁ][а-яё]+", name or ""))
    # Every reading of each, except a word that is first of all a first name ("Леша-Нихена", "Арнольда-Киари"): as a
    # sentence's subject that is a patient.
    return frozenset(p.normal_form.replace("ё", "е") for w in words if not _first_name(w) for p in morph().parse(w))


@lru_cache(maxsize=100_000)
def _normal(word: str) -> str:
    return morph().parse(word)[0].normal_form.replace("ё", "е")


def _first_name(word: str) -> bool:
    """A word that is first of all a known first name: "Анна", not "Пол" (sex), "Слава" or a typo pymorphy guesses to
    be a name ("Стоол имеет")."""
    top = morph().parse(word)[0]
    return "Name" in top.tag.grammemes and top.score > 0.5 and top.is_known


@lru_cache(maxsize=100_000)
def _subject_name(word: str) -> bool:
    """Whether a capitalised word reads as a person when it is a verb's subject: a surname in the nominative or dative
    ("Иванову назначено") or a word that is a first name first, not a thing first ("Вера", "Крона"), and no eponym."""
    parses = morph().parse(word)
    if parses[0].tag.POS == "NOUN" and "inan" in parses[0].tag.grammemes:
        return False
    # A guessed surname must have the commonest shapes: a guessed "-ин" is too often a typo ("Аппетин снижен").
    if not _first_name(word) and not any(
        "Surn" in p.tag.grammemes and p.tag.case in ("nomn", "datv") and (p.is_known or _COMMON_SURNAME.search(word))
        for p in parses
    ):
        return False
    return not any(_normal(part) in _eponyms() for part in word.split("-"))


@lru_cache(maxsize=100_000)
def _is_verb(word: str) -> bool:
    return morph().parse(word)[0].tag.POS in _SUBJECT_POS


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
        latin = initials.group(0).isascii()
        if two and not latin:  # "И.И." alone is already a person ("P.S.", "Dr. I.A." are not)
            yield start, end
        before = _CAP_BEFORE.search(text, max(0, start - 40), start)
        after = _CAP_AFTER.match(text, end)
        for word in (before, after):
            same_script = word and word.group(0).strip().isascii() == latin  # not "Тропонин I."
            kinds = _name_kinds(word.group(0).strip()) if same_script else frozenset()
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
    for subject in _SUBJECT.finditer(text):
        verb = subject.group(2)
        if (
            _subject_name(subject.group(1))
            and (verb is None or _is_verb(verb))
            and not _EPONYM_HEAD.search(text, max(0, subject.start() - 20), subject.start())
        ):
            yield subject.span(1)


def _address_length(value: str) -> int:
    for end in _SENTENCE_END.finditer(value):
        if end.group(1).lower() not in _ADDRESS_ABBREVIATIONS:
            return end.start() + len(end.group(1))
    return len(value.rstrip())


@lru_cache(maxsize=10_000)
def _settlement_name(word: str) -> bool:
    """After a one-letter abbreviation ("п.", "д.", "с.", "х.") only a place name is a settlement: a known place, an
    adjective ("с. Никольское", "п. Солнечный") or an unknown word, never a person or a common noun ("витамина С.
    Гепатит", "с. Кернига")."""
    top = morph().parse(word)[0]
    if "Geox" in top.tag.grammemes:
        return True
    return (
        "nomn" in top.tag.grammemes
        and not _NAME_KINDS & top.tag.grammemes
        and _normal(word) not in _eponyms()
        and (top.tag.POS == "ADJF" or not top.is_known)
    )


def _address_spans(text: str):
    parts = []
    for strong, pattern in _ADDRESS_PARTS:
        for m in pattern.finditer(text):
            if strong is None:
                if _settlement_name(m.group(1).split("-")[0]):
                    parts.append((m.start(), m.end(), True))
            else:
                parts.append((m.start(), m.end(), strong))
    runs: list[list] = []
    for start, end, strong in sorted(parts):
        if runs and (start <= runs[-1][1] or _ADDRESS_JOIN.fullmatch(text, runs[-1][1], start)):
            runs[-1][1:] = max(runs[-1][1], end), runs[-1][2] or strong
        else:
            runs.append([start, end, strong])
    return [(start, end) for start, end, strong in runs if strong]


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, kind)`` spans of personal data, in text order."""
    spans = [(s, e, "name") for s, e in _name_spans(text) if not _INSTITUTION.search(text, max(0, s - 8), s)]
    if _BIRTH_GATE.search(text):
        for pattern in _BIRTH_DATE:
            spans += [(m.start(1), m.end(1), "birth_date") for m in pattern.finditer(text)]
    spans += [(m.start(1), m.start(1) + _address_length(m.group(1)), "address") for m in _ADDRESS_LABEL.finditer(text)]
    if _ADDRESS_GATE.search(text):
        spans += [(s, e, "address") for s, e in _address_spans(text)]
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
