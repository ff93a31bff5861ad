"""Note filters on real MedSyn GPT notes: symptom recall, copy ratio, length/language, deduplication, PII scrubbing."""

import random
import re
from collections import Counter

import pytest

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters import (
    FilterConfig,
    apply_filters,
    copy_ratio,
    copy_span,
    cyrillic_share,
    deduplicate,
    find_pii,
    scrub_pii,
    symptom_recall,
    symptoms_present,
)


@pytest.fixture(scope="module")
def notes(gpt_notes_sample):
    return gpt_notes_sample


# -- symptom recall -------------------------------------------------------------------------------------------------


def test_recall_matches_inflected_mentions_and_ignores_function_words():
    note = "Жалобы на сильные боли в горле, сухой кашель по ночам. Температура тела не повышалась."
    assert symptoms_present(note, ["боль в горле", "кашель", "одышка", "повышение температуры"]) == [
        True,
        True,
        False,
        False,
    ]
    assert symptom_recall(note, ["Болями в горле", "КАШЕЛЬ", "одышка"]) == pytest.approx(2 / 3)
    # "в"/"и" are no evidence: a note without the content words does not mention the symptom.
    assert symptom_recall("Пациент пришёл в клинику и ушёл.", ["боль в горле и кашель"]) == 0.0


def test_recall_match_share_and_empty_prompts():
    note = "Боль в подреберье после еды."
    assert symptom_recall(note, ["боль в правом подреберье"]) == 0.0
    assert symptom_recall(note, ["боль в правом подреберье"], min_share=0.5) == 1.0
    assert symptom_recall(note, []) == 1.0


def test_recall_separates_own_symptoms_from_other_notes_symptoms(notes):
    own = [symptom_recall(n["response"], n["symptoms"]) for n in notes]
    shifted = [symptom_recall(n["response"], other["symptoms"]) for n, other in zip(notes, notes[7:] + notes[:7])]
    assert sum(own) / len(own) > 0.7
    assert sum(shifted) / len(shifted) < 0.3


def test_recall_drops_by_the_share_of_unmentioned_symptoms(notes):
    note = notes[0]
    base = symptom_recall(note["response"], note["symptoms"])
    extra = note["symptoms"] + ["гиперпигментация ногтевых пластин"]
    assert "ногтевой" not in note["response"].lower()
    assert symptom_recall(note["response"], extra) == pytest.approx(base * len(note["symptoms"]) / len(extra))


# -- copy ratio, length, language -----------------------------------------------------------------------------------


def test_copy_ratio_and_span_on_a_worked_example():
    note, example = "а б в г д е ж", "А, б в. Г д х"
    # note 5-grams: абвгд (in example), бвгде, вгдеж -> 1/3; longest shared run: а б в г д
    assert copy_ratio(note, example) == pytest.approx(1 / 3)
    assert copy_span(note, example) == 5
    assert copy_ratio(note, None) == copy_ratio(note, "") == copy_span(note, None) == 0
    assert copy_ratio("а б", example) == 0.0


def test_copy_ratio_does_not_count_naming_a_prompted_symptom_as_the_example_does():
    example = "Жалобы на боль в поясничной области, иррадиирующую в левую ногу, усиливающуюся при ходьбе."
    named = "Пациент жалуется на боль в поясничной области последние три дня, принимал обезболивающие."
    copied = "Пациент предъявляет жалобы на боль в поясничной области, иррадиирующую в левую ногу, при нагрузке."
    symptoms = ["боль в поясничной области", "слабость"]
    assert copy_ratio(named, example) > 0  # «на боль в поясничной области» is a 5-gram of the example
    assert copy_ratio(named, example, symptoms=symptoms) == 0.0  # but it only names the prompted symptom
    # a copied clause still counts: its 5-grams with «иррадиирующую», «левую», «ногу» are not the prompt's words
    strict, lenient = copy_ratio(copied, example), copy_ratio(copied, example, symptoms=symptoms)
    words_ = len(copied.split())
    assert 0 < lenient < strict and lenient == pytest.approx(5 / (words_ - 4))
    # the filter column passes each note's prompted symptoms
    rows = [{"response": text, "symptoms": symptoms, "example": example} for text in (named, copied)]
    assert [r["copy_ratio"] for r in apply_filters(rows, FilterConfig())] == pytest.approx([0.0, lenient])


def test_copy_ratio_on_real_notes(notes):
    a, b = notes[0]["response"], notes[1]["response"]
    assert copy_ratio(a, a) == 1.0
    assert copy_span(a, a) == len(re.findall(r"\w+(?:-\w+)*", a))
    assert copy_ratio(a, b) < 0.05
    half = " ".join(a.split()[: len(a.split()) // 2])
    assert 0.3 < copy_ratio(a, half) < 0.7


def test_cyrillic_share():
    assert cyrillic_share("Привет world 2024!") == pytest.approx(6 / 11)
    assert cyrillic_share("12345 !") == 0.0


# -- deduplication --------------------------------------------------------------------------------------------------


def _perturb(text: str, k: int, seed: int) -> str:
    words = text.split()
    rng = random.Random(seed)
    for i in rng.sample(range(len(words)), k):
        words[i] = "замена"
    return " ".join(words)


def test_deduplicate_exact_and_near_duplicates(notes):
    texts = [n["response"] for n in notes]
    assert all(deduplicate(texts))  # distinct real notes survive
    near = [_perturb(t, 2, i) for i, t in enumerate(texts[:20])]
    shouted = texts[5].upper().replace(" ", "  ")
    mixed = texts + near + [shouted]
    keep = deduplicate(mixed)
    assert keep[: len(texts)] == [True] * len(texts)  # the first of a group is kept
    assert keep[len(texts) :] == [False] * (len(near) + 1)
    assert deduplicate(mixed) == keep  # deterministic
    assert all(deduplicate(mixed, threshold=1.01)[len(texts) : -1])  # near duplicates are only near


def test_deduplicate_short_and_empty_texts():
    assert deduplicate(["", "  ", "боль", "Боль.", "кашель"]) == [True, False, True, False, True]


# -- PII ------------------------------------------------------------------------------------------------------------

PLANTED = {
    "name": [
        "ФИО: Кузнецова Мария Петровна",
        "Пациент Сидоров И.И. обратился",
        "врач Иван Петрович Смирнов",
        "А.В. Морозов",
        "Пациентка Анна, 26 лет",
        "зовут Ольга Николаевна Белова",
    ],
    "phone": ["+7 (912) 345-67-89", "8 912 345 67 89", "89123456789", "тел.: 345-67-89"],
    "snils": ["СНИЛС 123-456-789 01", "СНИЛС: 12345678901"],
    "passport": ["паспорт 45 07 123456", "паспорт серии 4507 № 654321"],
    "policy": ["полис ОМС 1234 5678 9012 3456", "полис: 7700000012345678"],
    "email": ["ivan.petrov@mail.ru"],
    "address": [
        "г. Москва, ул. Ленина, д. 5, кв. 12",
        "проспект Мира, дом 10, квартира 4",
        "Адрес проживания: Тверская область, деревня Горки",
    ],
    "birth_date": ["Дата рождения: 12.03.1985"],
}
# What must be gone afterwards: digit runs, e-mail, and the name/street words.
SECRET = re.compile(r"\d{3,}|@|Кузнецова|Мария|Сидоров|Петрович|Смирнов|Морозов|Анна|Ольга|Белова|Ленина|Мира|Горки")


def test_planted_pii_in_real_notes_is_scrubbed(notes):
    for kind, samples in PLANTED.items():
        for i, sample in enumerate(samples):
            note = notes[i]["response"]
            cut = note.index(". ", len(note) // 2) + 2  # plant as a sentence in the middle of the note
            scrubbed, kinds = scrub_pii(f"{note[:cut]}{sample}. {note[cut:]}")
            assert kind in kinds, sample
            # Planting added no secret that survives: what is left matches the scrubbed note without it.
            assert Counter(SECRET.findall(scrubbed)) == Counter(SECRET.findall(scrub_pii(note)[0])), sample


def test_medical_text_is_not_scrubbed():
    medical = (
        "Температура 38 градусов держится 2 недели, с 12.03.2023 кашель. АД 120/80 мм рт. ст., ЧСС 72 уд/мин, "
        "Hb 135 г/л. Парацетамол 500 мг 3 раза в день, Ибупрофен 400 мг, Амоксициллин 1000 мг 7 дней. ОАК, "
        "ЭКГ, УЗИ. Дефицит витамина С. Гепатит В. Болезнь Паркинсона у отца, синдром Иценко-Кушинга, анализ "
        "мочи по Нечипоренко, проба Манту, симптом Щеткина-Блюмберга, болезнь Крона. Рост 175 см, вес 80 кг. "
        "Дата осмотра: 15.04.2023. Вера в выздоровление. Надежда на улучшение. Номер истории болезни 123456. "
        "Пациент: Сухой кашель. Пациент: По ночам хуже. Пол: женский."
    )
    assert scrub_pii(medical) == (medical, [])


def test_scrubbing_real_notes_keeps_their_medicine(notes):
    measure = re.compile(r"\d+(?:[.,]\d+)?\s?(?:градус\w*|недел\w*|дн\w*|мг|мм|лет|год\w*|%)")
    for n in notes:
        scrubbed, _ = scrub_pii(n["response"])
        assert "Иванов" not in scrubbed and "Иван " not in scrubbed  # the notes' invented patients are gone
        assert measure.findall(scrubbed) == measure.findall(n["response"])
        assert symptom_recall(scrubbed, n["symptoms"]) == symptom_recall(n["response"], n["symptoms"])
    spans = [find_pii(n["response"]) for n in notes]
    scrubbed_chars = sum(e - s for note_spans in spans for s, e, _ in note_spans)
    assert scrubbed_chars < 0.02 * sum(len(n["response"]) for n in notes)


# -- apply_filters --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filtered(notes):
    import datasets

    rows = [{"response": n["response"], "symptoms": n["symptoms"], "example": None} for n in notes[:20]]
    rows[1]["example"] = rows[1]["response"]  # a copy of its example
    rows[2]["symptoms"] = ["гиперпигментация ногтевых пластин", "алопеция"]  # off-prompt
    rows.append({"response": "Patient complains of cough and fever. " * 20, "symptoms": [], "example": None})
    rows.append({"response": "Кашель.", "symptoms": ["кашель"], "example": None})
    rows.append({**rows[0], "response": rows[0]["response"].upper()})  # duplicate of a kept note
    rows.append({**rows[2], "symptoms": notes[2]["symptoms"]})  # twin of a failing note: must survive
    return rows, apply_filters(datasets.Dataset.from_list(rows))


def test_apply_filters_marks_each_failure(filtered):
    rows, out = filtered
    reasons = out["filter_reason"]
    assert reasons[1] == "high_copy_ratio" and out["copy_ratio"][1] == 1.0
    assert reasons[2] == "low_symptom_recall"
    assert reasons[-4] == "not_russian"
    assert set(reasons[-3].split(",")) == {"too_short"}
    assert reasons[-2] == "duplicate" and out["is_duplicate"][-2]
    assert reasons[-1] == "" and out["keep"][-1]
    assert out["keep"] == [r == "" for r in reasons]
    for i in [0, *range(3, 20)]:  # untouched real notes fail only on their own recall
        low = symptom_recall(out["response"][i], rows[i]["symptoms"]) < 0.5
        assert reasons[i] == ("low_symptom_recall" if low else "")


def test_apply_filters_columns_follow_the_schema(filtered):
    from medsyn_hf.schemas import FILTER_COLUMNS_DOC, FILTER_FEATURES

    rows, out = filtered
    assert set(FILTER_FEATURES) == set(FILTER_COLUMNS_DOC)
    for name, feature in FILTER_FEATURES.items():
        assert out.features[name] == feature
    assert out["n_words"][-3] == 1 and out["n_chars"][-3] == len("Кашель.")
    assert all("Иванов" not in text for text in out["response"])
    assert any("name" in kinds for kinds in out["pii_found"])


def test_apply_filters_on_records_with_custom_thresholds(notes):
    rows = [{"response": n["response"], "symptoms": ["гиперпигментация ногтевых пластин"]} for n in notes[:3]]
    config = FilterConfig(min_symptom_recall=0.0, min_words=10_000, scrub_pii=False)
    out = apply_filters(rows, config, example_column="example")
    assert isinstance(out, list) and [r["filter_reason"] for r in out] == ["too_short"] * 3
    assert [r["response"] for r in out] == [n["response"] for n in notes[:3]]
    assert all(r["copy_ratio"] == 0.0 for r in out)
    again = apply_filters(out, FilterConfig(min_symptom_recall=0.0, min_words=10))  # re-filter with new thresholds
    assert [r["filter_reason"] for r in again] == ["", "", ""]


def test_apply_filters_errors():
    with pytest.raises(MedsynError, match="symptoms"):
        apply_filters([{"response": "текст"}])
    with pytest.raises(MedsynError, match="no notes"):
        apply_filters([])


# -- the filter interface: one registry, read by apply_filters, FilterConfig, the schema and the card -----------------


def test_the_registry_orders_columns_reasons_and_thresholds():
    """The built-in filters keep the columns, reasons and thresholds (names, defaults) of the YAML `filters:` keys."""
    import dataclasses

    from medsyn_hf.filters import REGISTRY, filter_columns, filter_reasons
    from medsyn_hf.schemas import FILTER_FEATURES

    assert list(REGISTRY) == [
        "symptom_recall",
        "copying",
        "length",
        "language",
        "pii_scrub",
        "patient_consistency",
        "real_copy",
        "label_consistency",
        "realism",
        "near_duplicates",
        "judge_score",
        "plan_quota",
    ]
    assert (
        list(FILTER_FEATURES)
        == [*filter_columns(), "keep", "filter_reason"]
        == [
            "symptom_recall",
            "copy_ratio",
            "copy_span",
            "n_chars",
            "n_words",
            "cyrillic_share",
            "pii_found",
            "age_gap",
            "stated_sex",
            "real_run",
            "label_rank",
            "realism",
            "is_duplicate",
            "selection_rank",
            "plan_need",
            "keep",
            "filter_reason",
        ]
    )
    assert list(filter_reasons()) == [
        "low_symptom_recall",
        "high_copy_ratio",
        "too_short",
        "too_long",
        "not_russian",
        "age_mismatch",
        "sex_mismatch",
        "real_copy",
        "label",
        "unrealistic",
        "duplicate",
        "judge",
        "over_quota",
    ]
    assert dataclasses.asdict(FilterConfig()) == {
        "min_symptom_recall": 0.5,
        "symptom_match_share": 1.0,
        "max_copy_ratio": 0.5,
        "copy_ngram": 5,
        "min_words": 50,
        "max_words": 1000,
        "min_cyrillic_share": 0.9,
        "scrub_pii": True,
        "max_age_gap": 2,
        "check_sex": True,
        "real_run_limit": 10,
        "label_top_k": None,
        "selection_view": "complaint",
        "min_realism": None,
        "realism_folds": 5,
        "dedup_threshold": 0.8,
        "min_judge_score": None,
        "keep_best": True,
    }
    assert all(f.metadata["help"] for f in dataclasses.fields(FilterConfig))


def test_the_written_out_config_and_schema_are_the_builtin_filters_declarations():
    """FilterConfig's fields are written out (editors find `config.max_copy_ratio`) and the notes schema is a plain
    value of medsyn_hf.schemas: both equal what the built-in filters declare (names in registry order, types,
    defaults, help; columns and reasons), so neither can drift from the filters."""
    import dataclasses
    import typing

    from medsyn_hf import schemas
    from medsyn_hf.filters import REGISTRY, filter_columns, filter_reasons
    from medsyn_hf.filters.builtin import BUILTIN

    assert list(REGISTRY) == [f.name for f in BUILTIN] == list(schemas.FILTER_COLUMNS) == list(schemas.FILTER_REASONS)
    specs = {name: spec for f in BUILTIN for name, spec in f.thresholds.items()}
    written = dataclasses.fields(FilterConfig)
    hints = typing.get_type_hints(FilterConfig)
    assert [f.name for f in written] == list(specs)
    for f in written:
        spec = specs[f.name]
        assert hints[f.name] == (spec.kind or type(spec.default)), f.name
        assert (f.default, f.metadata["help"]) == (spec.default, spec.help), f.name
    for f in BUILTIN:
        assert (f.columns, f.reasons) == (schemas.FILTER_COLUMNS[f.name], schemas.FILTER_REASONS[f.name]), f.name
    features, docs = schemas._filter_schema(filter_columns(), list(filter_reasons()))
    assert (schemas.FILTER_FEATURES, schemas.FILTER_COLUMNS_DOC) == (features, docs)
    assert "__getattr__" not in vars(schemas)  # plain values, not read from the registry on access


def test_thresholds_are_flags_for_hf_argument_parser():
    from transformers import HfArgumentParser

    (config,) = HfArgumentParser(FilterConfig).parse_args_into_dataclasses(
        ["--min_words", "7", "--min_judge_score", "2.5", "--scrub_pii", "false"]
    )
    assert (config.min_words, config.min_judge_score, config.scrub_pii, config.max_words) == (7, 2.5, False, 1000)
    with pytest.raises(MedsynError, match=r"filters\.max_copy_ratio: 3\.0 is out of range"):
        HfArgumentParser(FilterConfig).parse_args_into_dataclasses(["--max_copy_ratio", "3"])


def test_note_scores_are_the_columns_apply_filters_writes(notes):
    from medsyn_hf.filters import note_scores

    config = FilterConfig(scrub_pii=False)
    rows = [{"response": n["response"], "symptoms": n["symptoms"], "example": notes[0]["response"]} for n in notes[:4]]
    out = apply_filters(rows, config)
    for row, filtered in zip(rows, out):
        scores = note_scores(row["response"], row["symptoms"], row["example"], config)
        assert list(scores) == [
            *("symptom_recall", "copy_ratio", "copy_span", "n_chars", "n_words", "cyrillic_share"),
            *("age_gap", "stated_sex"),
        ]
        floats = [k for k, v in scores.items() if isinstance(v, float)]
        assert {k: scores[k] for k in floats} == pytest.approx({k: filtered[k] for k in floats}, rel=1e-6)  # float32
        others = [k for k in scores if k not in floats]
        assert {k: scores[k] for k in others} == {k: filtered[k] for k in others}
    # a note that is its own example: all its 5-grams but those made only of its prompted symptoms' words
    assert out[0]["copy_ratio"] == pytest.approx(
        copy_ratio(rows[0]["response"], rows[0]["example"], 5, rows[0]["symptoms"])
    )
    assert 0.9 < out[0]["copy_ratio"] < 1.0 and out[1]["copy_ratio"] < 0.5


def test_a_dropped_filter_takes_its_threshold_along():
    import dataclasses

    from medsyn_hf.filters import REGISTRY, register, unregister

    judge = type(REGISTRY["judge_score"])
    unregister("judge_score")
    try:
        assert "min_judge_score" not in {f.name for f in dataclasses.fields(FilterConfig)}
        with pytest.raises(TypeError):
            FilterConfig(min_judge_score=3)
    finally:
        register(judge)
    assert FilterConfig(min_judge_score=3).min_judge_score == 3
    with pytest.raises(MedsynError, match="no filter 'judge'; registered: symptom_recall, copying"):
        unregister("judge")


# -- evaluate metrics (same functions, loadable by path offline) ----------------------------------------------------


def test_evaluate_metrics_load_by_path_offline(notes):
    import os
    from pathlib import Path

    import evaluate

    import medsyn_hf

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    metrics = Path(medsyn_hf.__file__).parent / "metrics"
    recall = evaluate.load(str(metrics / "symptom_recall"))
    copy = evaluate.load(str(metrics / "copy_ratio"))
    texts = [n["response"] for n in notes[:10]]
    symptoms = [n["symptoms"] for n in notes[:10]]
    expected = [symptom_recall(t, s) for t, s in zip(texts, symptoms)]
    result = recall.compute(predictions=texts, references=symptoms)
    assert result["symptom_recall"] == pytest.approx(sum(expected) / 10)
    assert result["all_symptoms"] == pytest.approx(sum(e == 1.0 for e in expected) / 10)
    examples = [texts[0], "", texts[2][:300], texts[0], "", "", "", "", "", ""]
    result = copy.compute(predictions=texts, references=examples, n=3)
    assert result["copy_ratio"] == pytest.approx(sum(copy_ratio(t, e, 3) for t, e in zip(texts, examples)) / 10)
    assert result["max_copy_span"] == copy_span(texts[0], texts[0])
    lenient = copy.compute(predictions=texts, references=examples, symptoms=symptoms)["copy_ratio"]
    assert lenient == pytest.approx(sum(copy_ratio(t, e, 5, s) for t, e, s in zip(texts, examples, symptoms)) / 10)
    assert lenient < copy.compute(predictions=texts, references=examples)["copy_ratio"]
