"""The PII scrubber on its labelled fixture (tests/fixtures/pii/): planted personal data in every common Russian form
is caught, realistic clinical sentences (eponyms, doses, lab values, visit dates, ICD codes) are left alone."""

import json
from collections import Counter
from pathlib import Path

import pytest

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.pii_detection import load_fixture, score
from medsyn_hf.filters import find_pii, scrub_pii

FIXTURE = Path(__file__).parent / "fixtures" / "pii"


@pytest.fixture(scope="module")
def planted():
    return load_fixture(FIXTURE / "planted.jsonl")


@pytest.fixture(scope="module")
def clinical():
    return load_fixture(FIXTURE / "clinical.jsonl")


def test_fixture_is_large_varied_and_well_formed(planted, clinical):
    spans = [s for row in planted for s in row["pii"]]
    assert len(spans) >= 150 and len(clinical) >= 150
    assert min(Counter(s["type"] for s in spans)[k] for k in ("name", "address", "birth_date", "phone", "email")) >= 10
    assert {r["split"] for r in planted} == {r["split"] for r in clinical} == {"dev", "heldout"}
    assert {r["source"] for r in clinical} >= {"hand", "medsyn_gpt_notes", "rumedtop3_train"}
    for row in planted:
        for s in row["pii"]:
            assert row["text"][s["start"] : s["end"]].strip() == row["text"][s["start"] : s["end"]] != "", row


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_targets_on_the_fixture(planted, clinical, split):
    result = score(find_pii, [r for r in planted if r["split"] == split], [r for r in clinical if r["split"] == split])
    assert result["recall"] >= 0.98, result["missed"]
    assert result["false_positive_rate"] <= 0.02, result["flagged"]


def test_score_counts_partial_cover_as_a_miss_and_any_detection_as_a_false_positive():
    planted = [{"text": "Тел. 8 912 345 67 89", "pii": [{"start": 5, "end": 20, "type": "phone"}]}]
    clinical = [{"text": "АД 120/80"}, {"text": "Пациент Иванов Иван"}]
    result = score(lambda text: [(5, 12, "phone")] if text.startswith("Тел") else [], planted, clinical)
    assert (result["caught"], result["false_positives"]) == (0, 0)
    result = score(find_pii, planted, clinical)
    assert (result["caught"], result["typed_recall"], result["false_positives"]) == (1, 1.0, 1)


def test_eponyms_from_the_mkg_are_not_patients():
    # Same frame, a surname vs a person in an MKG disease name: only the patient is scrubbed.
    assert scrub_pii("Захарова подтверждена неврологом.")[1] == ["name"]
    for eponym in ("Паркинсон", "Альцгеймер", "Крон", "Иценко-Кушинг", "Бехтерев"):
        assert scrub_pii(f"{eponym} подтверждён неврологом.") == (f"{eponym} подтверждён неврологом.", [])
    assert scrub_pii("Консультирован в НИИ им. Н.В. Склифосовского.")[1] == []
    assert scrub_pii("Мужчина по имени Иван, 35 лет.")[1] == ["name"]


def test_placeholders_keep_labels_and_clinical_context():
    text = (
        "Пациентка Захарова А.В., д.р. 01.01.1950, проживает: пос. Солнечный, д. 7. Тел. 9123456789, "
        "врач@больница.рф. АД 120/80, с 12.03 по 15.03 в стационаре."
    )
    assert scrub_pii(text)[0] == (
        "Пациентка [ФИО], д.р. [ДАТА РОЖДЕНИЯ], проживает: [АДРЕС]. Тел. [ТЕЛЕФОН], "
        "[EMAIL]. АД 120/80, с 12.03 по 15.03 в стационаре."
    )


def test_a_broken_fixture_is_one_line_error(tmp_path):
    bad = tmp_path / "planted.jsonl"
    bad.write_text('{"text": "x"\n', encoding="utf-8")
    with pytest.raises(MedsynError, match="not a readable PII fixture"):
        load_fixture(bad)
    with pytest.raises(MedsynError, match="not a readable PII fixture"):
        load_fixture(tmp_path / "missing.jsonl")
    bad.write_bytes(json.dumps({"text": "é"}).encode("utf-16"))
    with pytest.raises(MedsynError, match="not a readable PII fixture"):
        load_fixture(bad)
