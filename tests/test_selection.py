"""The selection filters on constructed cases whose right answer is known: what a note says about its patient, a
planted real note scoring as real, a note of the wrong code failing label consistency, the privacy guard's word
runs, and the plan's per-code quota keeping the best notes."""

import gzip
import json

import numpy as np
import pytest
from conftest import SOURCES

from medsyn_hf.filters import FilterConfig, Reference, apply_filters
from medsyn_hf.filters.code_classifier import code_ranks
from medsyn_hf.filters.discriminator import realism_scores
from medsyn_hf.filters.patient import age_gap, stated_ages, stated_sex


@pytest.fixture(scope="module")
def real_notes():
    """RuMedTop3 train complaints by code."""
    by_code = {}
    with open(SOURCES / "rumedtop3" / "train_v1.jsonl", encoding="utf-8") as f:
        for row in map(json.loads, f):
            by_code.setdefault(row["code"], []).append(row["symptoms"])
    return by_code


@pytest.fixture(scope="module")
def gpt_notes():
    with gzip.open(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line, _ in zip(f, range(400))]


# -- what a note says about its patient -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, ages",
    [
        ("Пациентка, 73 года. Жалобы на боль в груди.", [73]),
        ("Мужчина 41 год, болеет 5 лет", [41]),
        ("Женщина, 32 года, обратилась", [32]),
        ("Возраст: 60", [60]),
        ("возраст пациентки 58 лет", [58]),
        ("73-летняя пациентка обратилась к врачу", [73]),
        ("Пациентка в возрасте 67 лет поступила", [67]),
        ("Пациент, мужчина, 45 лет, жалуется на кашель", [45]),
        ("Пациентка [ФИО], 40 лет, жалуется", [40]),
        ("Мне 35 лет, беспокоит кашель", [35]),
        ("35 лет, жалобы на кашель", [35]),
        ("Больная 35-ти лет", [35]),
        # durations, past events and relatives are not the patient's age
        ("Пациент 5 лет страдает гипертонией", []),
        ("Курит 20 лет. 3 года назад перенес операцию", []),
        ("Пациентка с 15 лет курит", []),
        ("В течение 35 лет работает на заводе", []),
        ("В возрасте 30 лет перенесла аппендэктомию", []),
        ("У пациента в возрасте 25 лет диагностирована астма", []),
        ("Мать умерла в 60 лет. Ей 45 лет", [45]),
        ("Отец, 70 лет, страдает диабетом", []),
        ("Давление 140 на 90, пульс 80", []),
    ],
)
def test_stated_ages(text, ages):
    assert stated_ages(text) == ages


@pytest.mark.parametrize(
    "text, sex",
    [
        ("Пациентка жалуется на боль", "female"),
        ("Пациент обратилась с жалобами на кашель", "female"),  # «пациент» is used for women too; the verb decides
        ("Пациент обратился с жалобами на кашель", "male"),
        ("Мужчина, 45 лет", "male"),
        ("Пол: женский. Замужем.", "female"),
        ("Пол: м", "male"),
        ("Считает себя больной в течение недели", "female"),
        ("Заболел остро три дня назад", "male"),
        ("Госпитализирована в терапевтическое отделение", "female"),
        ("Беременна, срок 20 недель", "female"),
        # symptoms agree with their own nouns, relatives are someone else
        ("Боль появилась внезапно, температура поднялась до 39", None),
        ("Мать перенесла инсульт. Отец курил", None),
        ("Пациент жалуется на кашель", None),
        ("Пациентка обратилась. Заболел остро.", "mixed"),
    ],
)
def test_stated_sex(text, sex):
    assert stated_sex(text) == sex


def test_the_spaces_note_that_says_35_then_32_for_a_73_year_old_fails():
    note = "Пациентка, 35 лет, обратилась с жалобами на кашель.\nВозраст: 32 года.\nБолеет неделю."
    assert stated_ages(note) == [35, 32] and age_gap(note, 73) == 41
    rows = [
        {"response": note, "symptoms": [], "age": 73, "sex": "female", "template": "anamnesis_patient"},
        {"response": note.replace("35", "73").replace("32", "74"), "symptoms": [], "age": 73, "sex": "female"},
        {"response": note, "symptoms": [], "age": 35, "sex": "male", "template": "anamnesis_patient"},
        # the prompt did not show the patient: the model had to invent one, so nothing to hold it to
        {"response": note, "symptoms": [], "age": 73, "sex": "male", "template": "anamnesis"},
    ]
    lenient = FilterConfig(min_symptom_recall=0.0, min_words=1)
    out = apply_filters(rows, lenient)
    assert [r["age_gap"] for r in out] == [41, 1, 3, 41]
    assert [r["stated_sex"] for r in out] == ["female"] * 4
    assert [r["filter_reason"] for r in out] == ["age_mismatch", "", "age_mismatch,sex_mismatch", ""]
    off = apply_filters(rows, FilterConfig(min_symptom_recall=0.0, min_words=1, max_age_gap=None, check_sex=False))
    assert not any("mismatch" in r["filter_reason"] for r in off)  # (the copies are near duplicates)


# -- realism: a cross-fitted real-vs-synthetic discriminator --------------------------------------------------------
def test_a_planted_real_note_scores_as_real(real_notes, gpt_notes):
    """Real complaints the discriminator never saw, planted among generated notes, score as the most real."""
    from medsyn_hf.text_views import complaint

    codes = sorted(real_notes, key=lambda c: -len(real_notes[c]))[:20]
    reference = [t for c in codes for t in real_notes[c][:15]]
    planted = [real_notes[c][15] for c in codes[:8]]
    synthetic = [complaint(n["response"]) for n in gpt_notes[:120]]
    scores = realism_scores(reference, [*synthetic, *planted], folds=5)
    assert not np.isnan(scores).any()
    planted_scores, synthetic_scores = scores[len(synthetic) :], scores[: len(synthetic)]
    assert planted_scores.min() > np.percentile(synthetic_scores, 90)
    assert planted_scores.mean() > 0.5 > synthetic_scores.mean()
    assert np.array_equal(scores, realism_scores(reference, [*synthetic, *planted], folds=5))  # seeded


def test_realism_is_undefined_without_two_distinct_notes_to_cross_fit():
    assert np.isnan(realism_scores(["a b c", "a b d"], ["x y z", "x y z"])).all()


# -- label consistency: the real notes' classifier must rank a note's code high ---------------------------------------
def test_a_note_of_the_wrong_code_fails_label_consistency(real_notes):
    codes = ["N40", "J45", "K29", "I10", "M54"]
    train = [(t, c) for c in codes for t in real_notes[c][:-3]]
    held = [(t, c) for c in codes for t in real_notes[c][-3:]]
    swapped = [(t, codes[(codes.index(c) + 2) % len(codes)]) for t, c in held]  # the same notes, another code
    texts, labels = zip(*[*held, *swapped])
    ranks = code_ranks(*zip(*train), texts, labels)
    right, wrong = ranks[: len(held)], ranks[len(held) :]
    assert (right <= 2).mean() >= 0.9 and (wrong > 2).mean() >= 0.8 and right.mean() + 1 < wrong.mean()
    rows = [{"response": t, "symptoms": [], "code": c} for t, c in [*held, *swapped]]
    reference = Reference(*map(list, zip(*train)))
    config = FilterConfig(
        min_symptom_recall=0.0,
        min_words=1,
        min_cyrillic_share=0.0,
        real_run_limit=None,  # RuMedTop3 repeats complaints: one of these shares 10 words with a training note
        label_top_k=2,
        selection_view="full",
    )
    out = apply_filters(rows, config, reference=reference)
    assert [r["label_rank"] for r in out] == ranks.tolist()
    assert [r["filter_reason"].startswith("label") for r in out] == (ranks > 2).tolist()


def test_code_ranks_is_defined_for_few_real_notes():
    # one code: every note of it ranks first; a code without real notes is not ranked (0); one note per code is enough
    assert code_ranks(["кашель"], ["J06"], ["кашель", "боль"], ["J06", "K29"]).tolist() == [1, 0]
    ranks = code_ranks(
        ["кашель насморк", "изжога боль в животе"], ["J06", "K29"], ["сильный кашель"] * 2, ["J06", "K29"]
    )
    assert ranks.tolist() == [1, 2]


# -- the privacy guard: no long verbatim run from a real note ------------------------------------------------------
def test_a_note_sharing_ten_words_with_a_real_note_is_dropped():
    real = "жалобы на сильную боль в горле при глотании и повышение температуры тела до тридцати девяти градусов"
    words = real.split()
    rows = [
        {"response": "Пациент пишет: " + " ".join(words[:10]) + ". Иное.", "symptoms": []},  # a 10-word run
        {"response": "Пациент пишет: " + " ".join(words[:9]) + ". Иное.", "symptoms": []},  # 9 words
        {"response": "Кашель, насморк, слабость", "symptoms": []},
    ]
    config = FilterConfig(min_symptom_recall=0.0, min_words=1, min_cyrillic_share=0.0)
    out = apply_filters(rows, config, reference=Reference([real, "другая заметка"], ["J02", "J06"]))
    assert [r["real_run"] for r in out] == [10, 9, 0]
    assert [r["filter_reason"] for r in out] == ["real_copy", "", ""]
    assert [r["real_run"] for r in apply_filters(rows, config)] == [None] * 3  # no real notes: off


# -- the plan's quota: each code keeps its K − n best -------------------------------------------------------------
def test_the_quota_keeps_each_codes_best_notes(real_notes, gpt_notes):
    """Need 2 for N40, 1 for J45, none given for K29: N40 keeps its 2 most real-looking notes, J45 its best, K29 all;
    a note another filter dropped is not ranked and takes no place."""
    from medsyn_hf.text_views import complaint

    reference = Reference(
        [t for c in ("N40", "J45", "K29", "J06") for t in real_notes[c][:10]],
        [c for c in ("N40", "J45", "K29", "J06") for _ in range(10)],
        need={"N40": 2, "J45": 1},
    )
    texts = [real_notes["N40"][12], complaint(gpt_notes[0]["response"]), complaint(gpt_notes[1]["response"])]
    texts += [real_notes["J45"][12], complaint(gpt_notes[2]["response"])]
    texts += [complaint(gpt_notes[3]["response"]), complaint(gpt_notes[4]["response"])]
    codes = ["N40"] * 3 + ["J45"] * 2 + ["K29"] * 2
    rows = [{"response": t, "symptoms": [], "code": c} for t, c in zip(texts, codes)]
    rows.append({"response": "коротко", "symptoms": [], "code": "N40"})  # too short: dropped before the quota
    config = FilterConfig(min_symptom_recall=0.0, min_words=2, min_cyrillic_share=0.0, realism_folds=2)
    out = apply_filters(rows, config, reference=reference)
    realism = [r["realism"] for r in out]
    order_n40 = sorted(range(3), key=lambda i: -realism[i])
    assert [out[i]["selection_rank"] for i in order_n40] == [1, 2, 3]
    assert [r["plan_need"] for r in out] == [2, 2, 2, 1, 1, None, None, 2]
    assert [r["keep"] for r in out[:3]] == [i != order_n40[2] for i in range(3)]
    assert sum(r["keep"] for r in out[3:5]) == 1 and all(r["keep"] for r in out[5:7])
    assert out[7]["selection_rank"] is None and out[7]["filter_reason"] == "too_short"
    everything = apply_filters(rows, FilterConfig(**{**config.__dict__, "keep_best": False}), reference=reference)
    assert sum(r["keep"] for r in everything) == 7


def test_without_real_notes_selection_changes_nothing(gpt_notes):
    rows = [{"response": n["response"], "symptoms": n["symptoms"], "code": n["icd10"]} for n in gpt_notes[:5]]
    out = apply_filters(rows)
    for column in ("real_run", "label_rank", "realism", "selection_rank", "plan_need"):
        assert [r[column] for r in out] == [None] * 5
    assert not any(reason in r["filter_reason"] for r in out for reason in ("real_copy", "label", "over_quota"))


def test_selection_thresholds_are_checked(tmp_path):
    from medsyn_hf.errors import MedsynError

    with pytest.raises(MedsynError, match=r"filters\.selection_view: 'middle' is not one of head, complaint, full"):
        FilterConfig(selection_view="middle")
    with pytest.raises(MedsynError, match=r"filters\.label_top_k: 0 is out of range"):
        FilterConfig(label_top_k=0)
