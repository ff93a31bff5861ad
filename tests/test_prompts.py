"""Prompt templates: rendering from plain dicts, Russian patient descriptions, the vectorised renderer, bad input."""

import gzip
import json
from itertools import islice

import pyarrow as pa
import pytest
import yaml
from conftest import SOURCES

from medsyn_hf.errors import MedsynError
from medsyn_hf.prompts import (
    EXAMPLE_TEMPLATES,
    TEMPLATE_NAMES,
    TEMPLATES,
    TEMPLATES_PATH,
    age_ru,
    patient_description,
    render_messages,
    render_users,
)

PRIOR = {
    "code": "K29",
    "code_name_ru": "Гастрит и дуоденит",
    "symptoms": ["боль в эпигастрии", "тошнота", "изжога"],
    "age": 34,
    "sex": "female",
    "location": "city",
    "marital": "married",
    "smoking": False,
    "example": "Жалобы на боль в эпигастрии после еды, тошноту по утрам.",
}


def test_templates_file():
    spec = yaml.safe_load(TEMPLATES_PATH.read_text(encoding="utf-8"))
    assert tuple(spec["templates"]) == TEMPLATE_NAMES
    assert {"anamnesis", "anamnesis_patient", "short", "examination", "example"} <= set(TEMPLATE_NAMES)
    assert EXAMPLE_TEMPLATES == ("example",)
    assert not TEMPLATES[TEMPLATE_NAMES[0]].needs_example  # the first template is the default
    for t in TEMPLATES.values():
        assert "symptoms" in t.fields and t.system
        assert t.needs_example == ("example" in t.fields)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_render_every_template(name):
    messages = render_messages(PRIOR, name)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "боль в эпигастрии, тошнота, изжога" in user
    assert "{" not in user and "}" not in user
    if "patient" in TEMPLATES[name].fields:
        assert "женщина, 34 года, замужем, не курит, живёт в городе" in user
    if name == "example":
        assert PRIOR["example"] in user and "около 10 слов" in user and "Гастрит и дуоденит" in user


def test_missing_optional_fields():
    sparse = {"symptoms": ["кашель"], "sex": "male", "marital": 1, "smoking": True}  # as in the MedSyn GPT notes
    user = render_messages(sparse, "anamnesis_patient")[1]["content"]
    assert "Сведения о пациенте: мужчина, женат, курит." in user and "Жалобы: кашель." in user
    assert "нет сведений" in render_messages({"symptoms": ["кашель"]}, "anamnesis_patient")[1]["content"]
    for name in ("anamnesis", "short", "examination"):
        assert "кашель" in render_messages({"symptoms": ["кашель"]}, name)[1]["content"]


@pytest.mark.parametrize(
    "prior,template",
    [
        ({**PRIOR, "example": None}, "example"),
        ({k: v for k, v in PRIOR.items() if k != "code_name_ru"}, "hidden_diagnosis"),
        ({**PRIOR, "symptoms": []}, "short"),
        ({k: v for k, v in PRIOR.items() if k != "symptoms"}, "short"),
        (PRIOR, "no_such_template"),
        ({**PRIOR, "sex": "m"}, "anamnesis_patient"),
        ({**PRIOR, "marital": "divorced"}, "anamnesis_patient"),
        ({**PRIOR, "location": "village"}, "anamnesis_patient"),
    ],
)
def test_bad_priors(prior, template):
    with pytest.raises(MedsynError):
        render_messages(prior, template)


@pytest.mark.parametrize(
    "age,text",
    [
        (1, "1 год"),
        (2, "2 года"),
        (4, "4 года"),
        (5, "5 лет"),
        (11, "11 лет"),
        (12, "12 лет"),
        (14, "14 лет"),
        (21, "21 год"),
        (22, "22 года"),
        (25, "25 лет"),
        (101, "101 год"),
        (111, "111 лет"),
        (112, "112 лет"),
    ],
)
def test_age_ru(age, text):
    assert age_ru(age) == text


def test_patient_description():
    assert patient_description("male", 45, "countryside", "single", False) == (
        "мужчина, 45 лет, не женат, не курит, живёт в сельской местности"
    )
    assert patient_description("female", 16, "city", "single", True) == "девушка, 16 лет, курит, живёт в городе"
    assert patient_description("male", 9, None, "single", False) == "мальчик, 9 лет, не курит"
    assert patient_description(None, None, None, True, None) == "в браке"
    assert patient_description() == "нет сведений"


def test_vectorised_renderer_matches_render_messages():
    priors = [
        PRIOR,
        {**PRIOR, "sex": "male", "age": 61, "marital": "single", "smoking": True, "location": "countryside"},
        {**PRIOR, "example": "  раз два три четыре пять шесть семь восемь девять десять " * 2 + "\n", "age": 18},
        {**PRIOR, "example": " ".join(["слово"] * 25)},  # 25 words: rounds half to even, like Python's round
        {**PRIOR, "example": " ".join(["слово"] * 35)},
        {**PRIOR, "symptoms": ["кашель"], "code_name_ru": "Имя с {фигурными} скобками"},
    ]
    for template in TEMPLATE_NAMES:
        expected = [render_messages(p, template)[1]["content"] for p in priors]
        idx = [TEMPLATE_NAMES.index(template)] * len(priors)
        got = render_users(
            idx,
            pa.array([p["symptoms"] for p in priors]),
            pa.array([p["code"] for p in priors]),
            pa.array([p["code_name_ru"] for p in priors]),
            pa.array([p["example"] for p in priors]),
            pa.array(
                [patient_description(p["sex"], p["age"], p["location"], p["marital"], p["smoking"]) for p in priors]
            ),
        )
        assert got.to_pylist() == expected, template
    missing = pa.array([None], pa.string())
    with pytest.raises(MedsynError):
        render_users(
            [TEMPLATE_NAMES.index("example")],
            pa.array([["кашель"]]),
            pa.array(["J06"]),
            pa.array(["ОРВИ"]),
            missing,
            pa.array(["мужчина"]),
        )


def test_rerender_medsyn_gpt_notes():
    """The instruction-dataset builder re-renders MedSyn's GPT notes: their fields map onto a prior dict."""
    with gzip.open(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "rt", encoding="utf-8") as f:
        notes = [json.loads(line) for line in islice(f, 50)]
    for note in notes:
        prior = {
            "code": note["icd10"],
            "code_name_ru": note["disease_name_ru"],
            "symptoms": note["symptoms"],
            "sex": note["gender"],
            "marital": note["marital_state"],
        }
        for name in TEMPLATE_NAMES:
            if name not in EXAMPLE_TEMPLATES:
                assert ", ".join(note["symptoms"]) in render_messages(prior, name)[1]["content"]
