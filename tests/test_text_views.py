"""The complaint view of a generated note, on the shapes the MedSyn GPT notes take, and on the notes themselves."""

import re

import pytest

from medsyn_hf.errors import MedsynError
from medsyn_hf.text_views import complaint, view

HEADING = (
    "Имя пациента: Александр Иванов\nВозраст: 34 года\nПол: Мужской\n\nЖалобы: Рвота, нарушения пищеварения, "
    "тошнота\n\nАнамнез: Пациент поступил на прием с жалобами на рвоту.\n\nМедицинская история:\nНе курит."
)
SENTENCE = (
    "Анамнез болезни:\nПациентка, 26 лет, впервые обратилась к гинекологу с жалобами на боль в нижних отделах "
    "живота, выделения с запахом.\n\nОбъективно: Состояние пациентки удовлетворительное."
)
NUMBERED = (
    "Анамнез болезни:\n\n1. Идентификационные данные:\n\nПациент, мужчина, 45 лет.\n\n2. Основная жалоба:\n\n"
    "Пациент жалуется на кашель, хрипы в грудной клетке и диарея.\n\n3. История настоящей болезни:\n\n"
    "Симптомы начались около двух недель назад."
)
LISTED = (
    "Пациент обратился со следующими жалобами:\n1. Кашель: сухой, усиливается ночью.\n- Температура: до 38 °C\n\n"
    "Анамнез заболевания: болеет неделю.\n\nДиагноз: J20."
)
PAST_TENSE = (
    "Пациент: Мужчина, 54 года\n\nАнамнез: Пациент пришел на прием и жаловался на кашель. Эти симптомы "
    "включают приступообразный кашель.\nПациент сообщил, что не имеет хронических заболеваний.\n\n"
    "**Объективный статус:** ЧСС 80."
)


@pytest.mark.parametrize(
    "note, expected",
    [
        (HEADING, "Жалобы: Рвота, нарушения пищеварения, тошнота"),
        (SENTENCE, "жалобами на боль в нижних отделах живота, выделения с запахом."),
        (NUMBERED, "жалоба: Пациент жалуется на кашель, хрипы в грудной клетке и диарея."),
        (LISTED, "жалобами: 1. Кашель: сухой, усиливается ночью. - Температура: до 38 °C"),
        (
            PAST_TENSE,
            (
                "жаловался на кашель. Эти симптомы включают приступообразный кашель. Пациент сообщил, что не имеет "
                "хронических заболеваний."
            ),
        ),
    ],
)
def test_complaint_section_runs_to_the_next_heading(note, expected):
    assert complaint(note) == expected


def test_cap_fallback_and_the_other_views():
    long = "Жалобы: " + "боль в груди, " * 40 + "\n\nАнамнез: нет."
    capped = complaint(long, max_chars=100)
    assert 60 < len(capped) <= 100 and long.startswith(capped) and long[len(capped)] == " "  # a word boundary
    assert len(complaint(long, max_chars=0)) > 500
    no_complaint = "Анамнез заболевания:\n\nПациент, мужчина, 35 лет, " + "кашель и слабость; " * 30
    head = complaint(no_complaint, max_chars=60)  # the head, whitespace collapsed like any complaint view
    assert 40 < len(head) <= 60 and " ".join(no_complaint.split()).startswith(head)
    assert view(SENTENCE, "head", 20) == SENTENCE[:20] and view(SENTENCE, "full") == SENTENCE
    assert view(SENTENCE, "complaint") == complaint(SENTENCE)
    with pytest.raises(MedsynError, match="unknown view 'summary'; allowed: head, complaint, full"):
        view(SENTENCE, "summary")


def test_complaint_view_of_the_gpt_notes(gpt_notes_sample):
    """Of real GPT notes: a piece of the note (whitespace collapsed) that starts at its first complaint word, stops
    before the section after it, and is much shorter than the note; the head where there is no complaint word."""
    word = re.compile(r"жал(?:об|ова|у[ея]т|уя)", re.IGNORECASE)
    lengths = []
    for note in gpt_notes_sample:
        text = note["response"]
        result = complaint(text)
        flat = " ".join(text.split())
        assert result and len(result) <= 300 and result in flat
        found = word.search(flat)
        if found:
            assert flat.index(result) == found.start() and word.match(result)
            lengths.append(len(result))
        else:
            assert flat.startswith(result)
        assert not re.search(r"(Объективно|Диагноз|Лечение|План обследования)\s*:", result)
    assert len(lengths) >= 0.8 * len(gpt_notes_sample)
    notes = sorted(len(n["response"]) for n in gpt_notes_sample)
    assert 4 * sorted(lengths)[len(lengths) // 2] < notes[len(notes) // 2]
