"""Priors sampler: pool and weights, plan/random modes, sex restriction, symptoms, demographics, determinism, CLI."""

import json
import math
from collections import Counter
from itertools import permutations

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import SOURCES
from medsyn_hf.cli import main
from medsyn_hf.errors import MedsynError
from medsyn_hf.kg import load_graph
from medsyn_hf.kg.build import FORMAT, write_graph
from medsyn_hf.priors import build_pool, build_resources, resources_dir, sample_priors
from medsyn_hf.prompts import render_messages
from medsyn_hf.schemas import PRIORS_COLUMNS_DOC, PRIORS_FEATURES

# A hand-built MKG in the packaged format: (code, level, parent, name_ru, sex) and code -> {symptom: weight}.
CODES = [
    ("XI", "chapter", None, "Болезни органов пищеварения", None),
    ("K20-K31", "block", "XI", "Болезни пищевода, желудка и двенадцатиперстной кишки", None),
    ("K29", "category", "K20-K31", "Гастрит и дуоденит", None),
    ("K29.0", "subcategory", "K29", "Острый геморрагический гастрит", None),
    ("K29.1", "subcategory", "K29", "Другие острые гастриты", None),
    ("XIV", "chapter", None, "Болезни мочеполовой системы", None),
    ("N40-N51", "block", "XIV", "Болезни мужских половых органов", None),
    ("N40", "category", "N40-N51", "Гиперплазия предстательной железы", "male"),
    ("N80-N98", "block", "XIV", "Невоспалительные болезни женских половых органов", None),
    ("N94", "category", "N80-N98", "Боли и другие состояния, связанные с женскими половыми органами", "female"),
    ("N94.6", "subcategory", "N94", "Дисменорея неуточненная", None),  # female through its category
    ("X", "chapter", None, "Болезни органов дыхания", None),
    ("J00-J06", "block", "X", "Острые респираторные инфекции верхних дыхательных путей", None),
    ("J06", "category", "J00-J06", "Острые инфекции верхних дыхательных путей", None),
    ("XVIII", "chapter", None, "Симптомы, признаки и отклонения от нормы", None),
    ("R50-R69", "block", "XVIII", "Общие симптомы и признаки", None),
    ("R51", "category", "R50-R69", "Головная боль", None),
    ("I", "chapter", None, "Некоторые инфекционные и паразитарные болезни", None),
    ("B99-B99", "block", "I", "Другие инфекционные болезни", None),
    ("B99", "category", "B99-B99", "Другие и неуточненные инфекционные болезни", None),
]
SYMPTOMS = {
    "K29": {"боль в эпигастрии": 9.0, "тошнота": 6.0, "изжога": 4.0},
    "K29.0": {"рвота с кровью": 10.0, "тошнота": 8.0},
    "N40": {"учащенное мочеиспускание": 8.0, "слабая струя мочи": 5.0},
    "N94": {"боль внизу живота": 9.0, "болезненные менструации": 7.0, "слабость": 2.0},
    "N94.6": {"болезненные менструации": 9.0, "тошнота": 3.0},
    "J06": {"кашель": 10.0, "насморк": 8.0, "боль в горле": 6.0, "слабость": 4.0, "озноб": 2.0, "чихание": 0.0},
    "R51": {"головная боль": 10.0},
    "B99": {"лихорадка": 7.0, "слабость": 3.0},
}


def _write_graph(path):
    """The graph in the packaged file format (rows as ``medsyn kg build`` writes them), written by its own writer."""
    keys = sorted({s for syms in SYMPTOMS.values() for s in syms})
    write_graph({
        "format": FORMAT, "sources": {}, "weight_scale": {"range": [0, 10]},
        "codes": [[c, level, parent, name, "", sex, "", []] for c, level, parent, name, sex in CODES],
        "symptoms": [[k, k, [k]] for k in keys],
        "edges": [[c, s, w, [["test", w]]] for c, syms in SYMPTOMS.items() for s, w in syms.items()],
        "rumedtop3_categories": ["J06", "K29", "N40", "N94"],
    }, path)
    return path


@pytest.fixture(scope="session")
def graph_path(tmp_path_factory):
    return _write_graph(tmp_path_factory.mktemp("mkg") / "mkg.json.gz")


@pytest.fixture(scope="session")
def tiny(graph_path):
    return load_graph(graph_path)


@pytest.fixture(scope="session")
def train_notes():
    with open(SOURCES / "rumedtop3" / "train_v1.jsonl", encoding="utf-8") as f:
        return {r["idx"]: r for r in map(json.loads, f)}


def _j3(x):
    return math.log1p(math.log1p(math.log1p(x)))


def _expected_weights(train_notes, offset=1):
    """MedSyn's weights computed from scratch: symptoms of the code and its subcodes, notes of the category."""
    per_category = Counter(r["code"] for r in train_notes.values())
    out = {}
    for code in ("K29", "K29.0", "N40", "N94", "N94.6", "J06", "B99"):
        symptoms = set(SYMPTOMS[code]) | {s for c, syms in SYMPTOMS.items() if c.startswith(code + ".") for s in syms}
        out[code] = _j3(len(symptoms)) * _j3(per_category[code[:3]] + offset)
    return out


def test_pool_and_weights(tiny, train_notes):
    pool = build_pool(tiny)
    expected = _expected_weights(train_notes)
    assert sorted(pool.codes) == sorted(expected)  # R51 (one symptom) and symptom-less K29.1 are out
    for code, weight in zip(pool.codes, pool.weights):
        assert weight == pytest.approx(expected[code], rel=1e-12)
    assert dict(zip(pool.codes, pool.restriction)) == {
        "B99": 0, "J06": 0, "K29": 0, "K29.0": 0, "N40": 1, "N94": 2, "N94.6": 2}
    # MedSyn's J3(0) = 0 shuts out codes without example notes; the offset keeps them
    assert "B99" not in build_pool(tiny, example_offset=0).codes
    assert sorted(build_pool(tiny, level="category").codes) == ["B99", "J06", "K29", "N40", "N94"]


def test_plan_counts_match_weights(tiny, train_notes):
    expected = _expected_weights(train_notes)
    total = sum(expected.values())
    for n in (7, 1000, 12345):
        counts = Counter(sample_priors(tiny, n, seed=n)["code"])
        assert sum(counts.values()) == n
        quota = {code: n * weight / total for code, weight in expected.items()}
        assert all(abs(counts[c] - q) < 1 for c, q in quota.items()), n
        # largest remainder: every code rounded up had a larger fractional part than every code rounded down
        up = [q % 1 for c, q in quota.items() if counts[c] > q]
        down = [q % 1 for c, q in quota.items() if counts[c] < q]
        assert not up or not down or min(up) >= max(down), n


def test_random_mode_and_code_filter(tiny, train_notes):
    expected = _expected_weights(train_notes)
    subset = {c: w for c, w in expected.items() if c.startswith(("K", "N9"))}
    n = 20000
    counts = Counter(sample_priors(tiny, n, seed=1, mode="random", codes=["XI", "N9"])["code"])
    assert set(counts) == set(subset)
    total = sum(subset.values())
    for code, weight in subset.items():
        p = weight / total
        assert abs(counts[code] - n * p) < 5 * math.sqrt(n * p * (1 - p)), code
    assert set(sample_priors(tiny, 50, codes=["K29"])["code"]) == {"K29", "K29.0"}


def test_sex_restriction_and_demographics(tiny):
    ds = sample_priors(tiny, 30000, seed=2, min_age=10)
    sex = np.array(ds["sex"])
    codes = np.array(ds["code"])
    age = np.array(ds["age"])
    assert set(sex[codes == "N40"]) == {"male"}
    assert set(sex[np.isin(codes, ["N94", "N94.6"])]) == {"female"}
    assert set(sex[codes == "J06"]) == {"male", "female"}
    assert age.min() >= 10 and age.max() <= 99
    smoking, marital = np.array(ds["smoking"]), np.array(ds["marital"])
    assert not smoking[age < 16].any() and (marital[age < 18] == "single").all()

    # unrestricted codes follow Rosstat: sex share and smoking prevalence among the sampled ages
    demo = json.loads((resources_dir() / "demographics.json").read_text(encoding="utf-8"))
    free = np.isin(codes, ["J06", "K29", "K29.0", "B99"])
    men = sum(sum(demo["population"]["male"][loc][10:]) for loc in ("city", "countryside"))
    women = sum(sum(demo["population"]["female"][loc][10:]) for loc in ("city", "countryside"))
    share, m = men / (men + women), free.sum()
    assert abs((sex[free] == "male").mean() - share) < 5 * math.sqrt(share * (1 - share) / m)
    for who, p in (("male", 0.346), ("female", 0.083)):
        rows = (sex == who) & (age >= 16)
        assert abs(smoking[rows].mean() - p) < 5 * math.sqrt(p * (1 - p) / rows.sum()), who


def _inclusion(p, k):
    """Exact P(symptom in the sample) for successive draws without replacement, by enumerating ordered samples."""
    out = np.zeros(len(p))
    for seq in permutations(range(len(p)), k):
        prob, left = 1.0, 1.0
        for i in seq:
            prob *= p[i] / left
            left -= p[i]
        out[list(seq)] += prob
    return out


@pytest.mark.parametrize("k,temperature", [(1, 2.0), (2, 10.0), (3, 1.0)])
def test_symptom_frequencies_follow_softmax(tiny, k, temperature):
    n = 20000
    ds = sample_priors(tiny, n, seed=k, codes=["J06"], min_symptoms=k, max_symptoms=k, temperature=temperature)
    names = list(SYMPTOMS["J06"])
    weights = np.array([SYMPTOMS["J06"][s] for s in names])
    p = np.exp(weights / temperature) / np.exp(weights / temperature).sum()
    expected = _inclusion(p, k)
    seen = Counter(s for row in ds["symptoms"] for s in row)
    assert all(len(set(row)) == k for row in ds["symptoms"])
    for name, q in zip(names, expected):
        assert abs(seen[name] / n - q) < 5 * math.sqrt(q * (1 - q) / n) + 1e-9, (name, seen[name] / n, q)
    for row, row_weights in zip(ds["symptoms"][:200], ds["symptom_weights"][:200]):
        assert row_weights == [SYMPTOMS["J06"][s] for s in row]


def test_symptoms_at_tiny_temperature_are_the_heaviest(tiny):
    ds = sample_priors(tiny, 500, seed=8, codes=["J06"], min_symptoms=3, max_symptoms=3, temperature=1e-3)
    assert {frozenset(s) for s in ds["symptoms"]} == {frozenset(["кашель", "насморк", "боль в горле"])}


def test_symptom_count_and_order(tiny):
    ds = sample_priors(tiny, 6000, seed=4, codes=["J06", "N40"])
    lengths = Counter((code, len(s)) for code, s in zip(ds["code"], ds["symptoms"]))
    assert {k for c, k in lengths if c == "N40"} == {2}  # capped by what the code has
    j06 = np.array([lengths[("J06", k)] for k in (2, 3, 4, 5)])
    assert j06.min() > 0.8 * j06.mean()  # k uniform in [2, 5]
    # shuffled: the heaviest symptom comes first in 1/k of the rows that have it (not more often, as in draw order)
    rows = [s for c, s in zip(ds["code"], ds["symptoms"]) if c == "J06" and "кашель" in s]
    first = sum(s[0] == "кашель" for s in rows)
    expected = sum(1 / len(s) for s in rows)
    assert abs(first - expected) < 5 * math.sqrt(sum((1 / len(s)) * (1 - 1 / len(s)) for s in rows))


def test_schema_examples_and_messages(tiny, train_notes):
    ds = sample_priors(tiny, 400, seed=5, example_p=0.7)
    assert ds.features == PRIORS_FEATURES
    assert list(PRIORS_COLUMNS_DOC) == list(PRIORS_FEATURES)
    with_example = [r for r in ds if r["example"] is not None]
    assert with_example and all(r["template"] == "example" for r in with_example)
    for r in with_example:  # a real train note of the same category, recorded by its id
        note = train_notes[r["example_source"].removeprefix("rumedtop3/train:")]
        assert note["code"] == r["category"] and note["symptoms"].strip() == r["example"]
    assert all(r["example_source"] is None and r["template"] != "example" for r in ds if r["code"] == "B99")
    for r in ds:  # the vectorised renderer writes exactly what render_messages writes
        assert r["messages"] == render_messages(r, r["template"])
        assert [m["role"] for m in r["messages"]] == ["system", "user"]
    only = sample_priors(tiny, 300, seed=6, example_p=0, templates={"short": 1, "anamnesis": 3})
    counts = Counter(only["template"])
    assert set(counts) == {"short", "anamnesis"} and counts["anamnesis"] > 2 * counts["short"]


def test_deterministic_across_workers_and_calls(tiny):
    one = sample_priors(tiny, 3001, seed=11)
    assert one.data.table.equals(sample_priors(tiny, 3001, seed=11, num_proc=3).data.table)
    assert one.data.table.equals(sample_priors(tiny, 3001, seed=11).data.table)
    assert one["seed"] != sample_priors(tiny, 3001, seed=12)["seed"]
    # random mode: a record depends only on (seed, index), so a longer run extends a shorter one
    short, long = (sample_priors(tiny, n, seed=3, mode="random").data.table for n in (100, 250))
    assert long.slice(0, 100).equals(short)


@pytest.mark.parametrize("kwargs", [
    {"n": 0}, {"n": -5}, {"n": 2.5}, {"temperature": 0}, {"temperature": -1.0}, {"temperature": float("nan")},
    {"min_symptoms": 4, "max_symptoms": 3}, {"min_symptoms": 0}, {"templates": ["nonsense"]},
    {"templates": ["example"]},
    {"templates": {"short": 0}}, {"codes": ["Q99"]}, {"codes": ["R51"]}, {"mode": "stratified"}, {"level": "leaf"},
    {"example_p": 1.5}, {"min_age": 120}, {"num_proc": 0},
])
def test_bad_input(tiny, kwargs):
    kwargs = {"n": 10, **kwargs}
    with pytest.raises(MedsynError):
        sample_priors(tiny, **kwargs)


def test_cli(graph_path, tmp_path, capsys):
    from datasets import load_from_disk

    out = tmp_path / "priors"
    assert main(["priors", "--n", "120", "--seed", "7", "--out", str(out), "--graph", str(graph_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip())
    assert {"n", "codes", "seconds", "priors_per_s"} <= set(report) and report["n"] == 120 and report["codes"] == 7
    saved = load_from_disk(str(out))
    assert saved.features == PRIORS_FEATURES
    assert saved.data.table.equals(sample_priors(load_graph(graph_path), 120, seed=7).data.table)

    parquet = tmp_path / "priors.parquet"
    argv = ["priors", "--n", "50", "--out", str(parquet), "--graph", str(graph_path), "--mode", "random",
            "--codes", "N9", "--templates", "short=1", "anamnesis=2", "--json"]
    assert main(argv) == 0 and pq.read_table(parquet).num_rows == 50
    assert set(pq.read_table(parquet)["code"].to_pylist()) <= {"N94", "N94.6"}
    capsys.readouterr()

    before = sorted(p.name for p in tmp_path.iterdir())
    for bad in (["--n", "0"], ["--n", "5", "--temperature", "-1"], ["--n", "5", "--codes", "Q99"],
                ["--n", "5", "--min-symptoms", "3", "--max-symptoms", "2"], ["--n", "5", "--templates", "nope"]):
        assert main(["priors", *bad, "--out", str(tmp_path / "bad"), "--graph", str(graph_path)]) == 2
        assert capsys.readouterr().err.startswith("medsyn: error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_resources_are_built_from_train_only_and_reproducible(tmp_path, train_notes):
    report = build_resources(SOURCES, tmp_path)
    assert report["examples"] == len(train_notes)
    # the packaged files are what the command builds (parquet compared by content: its bytes name the writer version)
    assert (tmp_path / "demographics.json").read_bytes() == (resources_dir() / "demographics.json").read_bytes()
    examples = pq.read_table(tmp_path / "examples.parquet")
    assert examples.equals(pq.read_table(resources_dir() / "examples.parquet"))
    assert build_resources(SOURCES, tmp_path / "again") and all(
        (tmp_path / "again" / name).read_bytes() == (tmp_path / name).read_bytes()
        for name in ("demographics.json", "examples.parquet"))
    with open(SOURCES / "rumedtop3" / "dev_v1.jsonl", encoding="utf-8") as f:
        dev_texts = {json.loads(line)["symptoms"].strip() for line in f}
    assert set(examples["idx"].to_pylist()) == set(train_notes)
    assert not dev_texts & set(examples["text"].to_pylist())
