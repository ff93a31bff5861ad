"""Blind human assessment (medsyn_hf/assess): the statistics against published worked examples, `assess prepare`,
the answers store, `assess score`, and the Space's Assess tab served and crawled for any trace of the key (the
browser run with a server restart is in test_assess_browser.py)."""

import json
import math
import re
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import FIXTURE_SOURCES, free_port, served, space_command

from medsyn_hf.assess.prepare import prepare
from medsyn_hf.assess.score import binomial_p, cohen_kappa, fleiss_kappa, krippendorff_alpha, score, wilson_interval
from medsyn_hf.assessment_folder import (
    ITEMS,
    KEY,
    AnswerStore,
    annotator_name,
    check_answer,
    load_items,
    load_key,
    next_item,
)
from medsyn_hf.errors import MedsynError
from medsyn_hf.schemas import ASSESS_ANSWER_FEATURES, ASSESS_ITEM_FEATURES, ASSESSMENT_CRITERIA

REAL = FIXTURE_SOURCES / "rumedtop3" / "train_v1.jsonl"
SYNTHETIC = FIXTURE_SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz"  # GPT-written: synthetic notes
nan = math.nan


# -- statistics against published worked examples ---------------------------------------------------------------------
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, missing values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]
# Krippendorff (2011), section A: two observers, binary data, 10 units.
KRIPPENDORFF_BINARY = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
# Fleiss (1971): 30 patients, 6 psychiatrists, 5 diagnoses (R irr's `diagnoses`; kappam.fleiss gives 0.4302445).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4],
    [2, 2, 2, 5, 5, 5],
    [2, 3, 3, 3, 3, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3],
    [3, 3, 3, 3, 5, 5],
    [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4],
    [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4],
    [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3],
    [1, 4, 4, 4, 4, 4],
    [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5],
    [1, 1, 1, 1, 1, 2],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 4, 4, 4, 4, 4],
    [2, 2, 4, 5, 5, 5],
    [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4],
    [1, 1, 1, 1, 5, 5],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3],
    [5, 5, 5, 5, 5, 5],
]


def test_krippendorff_alpha_matches_krippendorffs_worked_examples():
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, "nominal"), 3) == 0.743
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, "ordinal"), 3) == 0.815
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, "interval"), 3) == 0.849
    assert round(krippendorff_alpha(KRIPPENDORFF_BINARY, "nominal"), 3) == 0.095
    # Section A by hand: coincidences o00 = 10, o01 = o10 = 4, o11 = 2 (n = 20, n0 = 14, n1 = 6);
    # alpha = 1 - (n - 1) * o01 / (n0 * n1) = 1 - 19 * 4 / 84.
    assert krippendorff_alpha(KRIPPENDORFF_BINARY, "nominal") == pytest.approx(1 - 19 * 4 / 84)
    perfect = [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]
    assert krippendorff_alpha(perfect, "ordinal") == 1.0
    assert math.isnan(krippendorff_alpha([[1, nan], [nan, 2]], "ordinal"))  # no unit with two values
    with pytest.raises(MedsynError, match="level of measurement"):
        krippendorff_alpha(perfect, "ratio")


def test_fleiss_kappa_matches_fleiss_1971():
    counts = np.stack([(np.asarray(FLEISS_1971) == k).sum(axis=1) for k in range(1, 6)], axis=1)
    assert fleiss_kappa(counts) == pytest.approx(0.4302445, abs=1e-7)
    # The example of Wikipedia's "Fleiss' kappa" article: 10 subjects, 14 raters, P = 0.378, Pe = 0.213, kappa = 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert round(fleiss_kappa(table), 3) == 0.210
    with pytest.raises(MedsynError, match="same number"):
        fleiss_kappa([[1, 1], [2, 1]])


def kappa_by_hand(table) -> float:
    """Cohen's κ, (po - pe) / (1 - pe), of a square contingency table (rows: rater 1's category, columns: 2's)."""
    table = np.asarray(table, dtype=float)
    n = table.sum()
    observed, expected = np.trace(table) / n, float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    return float((observed - expected) / (1 - expected))


def ratings(table) -> tuple[list[int], list[int]]:
    """The two raters' labels behind a contingency table (cell (i, j): items rater 1 put in i and rater 2 in j)."""
    pairs = [(i, j) for (i, j), count in np.ndenumerate(np.asarray(table, dtype=int)) for _ in range(count)]
    return [i for i, _ in pairs], [j for _, j in pairs]


def test_cohen_kappa_matches_hand_computation():
    # 50 cases: both yes 20, both no 15, yes/no 5, no/yes 10: po = 0.7, pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4.
    assert cohen_kappa(*ratings([[20, 5], [10, 15]])) == pytest.approx(0.4)
    assert round(cohen_kappa(*ratings([[0, 4, 1], [0, 8, 0], [0, 1, 5]])), 4) == 0.4842  # SAS's PROC FREQ example
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 40), rng.integers(0, 2, 40)
    table = np.zeros((2, 2))
    np.add.at(table, (a, b), 1)
    assert cohen_kappa(a.tolist(), b.tolist()) == pytest.approx(kappa_by_hand(table))
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))  # one label throughout: chance agreement is 1, κ undefined
    assert cohen_kappa([0, 0, 0], [1, 1, 1]) == 0.0  # each rater one label, never the same: po = pe = 0


def test_wilson_interval_and_binomial_test_by_hand():
    # 7 of 10: centre (0.7 + z²/20) / (1 + z²/10), half width z / (1 + z²/10) * sqrt(0.021 + z²/400).
    z = 1.959963984540054
    centre, half = (0.7 + z * z / 20) / (1 + z * z / 10), z / (1 + z * z / 10) * math.sqrt(0.021 + z * z / 400)
    assert wilson_interval(7, 10) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(7, 10) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    assert binomial_p(7, 10) == pytest.approx(2 * (120 + 45 + 10 + 1) / 1024)  # P(X >= 7) doubled
    assert binomial_p(5, 10) == pytest.approx(1.0)


# -- prepare ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A Hub-layout notes folder as `medsyn publish` writes it (train split, our column names)."""
    import gzip

    import datasets
    from huggingface_hub import DatasetCard

    from medsyn_hf.hub import write_folder

    with gzip.open(SYNTHETIC, "rt", encoding="utf-8") as f:
        notes = [json.loads(line) for line in f]
    rows = [
        {"idx": i, "ICD-10": n["icd10"], "generation_model": n["generation_model"], "response": n["response"]}
        for i, n in enumerate(notes)
    ]
    card = DatasetCard(
        "---\nlicense: mit\nlanguage: [ru]\ntask_categories: [text-generation]\n"
        "size_categories: [n<1K]\nsource_datasets: [original]\npretty_name: notes\n---\n# notes\n"
    )
    return write_folder(
        tmp_path_factory.mktemp("pub") / "ru-notes", {"default": {"train": datasets.Dataset.from_list(rows)}}, card
    )


@pytest.fixture(scope="module")
def assessment(tmp_path_factory):
    out = tmp_path_factory.mktemp("assess") / "study"
    prepare(str(REAL), str(SYNTHETIC), 10, str(out), seed=3)
    return out


def test_prepare_writes_a_blind_balanced_set_and_a_separate_key(assessment):
    items, key = load_items(assessment), load_key(assessment)
    assert len(items) == 10 and set(key) == {i["item_id"] for i in items}
    assert all(list(item) == list(ASSESS_ITEM_FEATURES) for item in items)  # nothing but id, text, code, name
    assert [k["origin"] for k in key.values()].count("real") == 5
    pairs = {}
    for item in items:
        pairs.setdefault(key[item["item_id"]]["pair"], []).append((key[item["item_id"]]["origin"], item))
    for pair in pairs.values():
        (origin_a, a), (origin_b, b) = sorted(pair, key=lambda p: p[0])
        assert (origin_a, origin_b) == ("real", "synthetic")
        assert a["code"] == b["code"] and re.fullmatch(r"[A-Z]\d\d", a["code"]) and a["code_name"]
        assert abs(len(a["text"]) - len(b["text"])) <= 0.3 * max(len(a["text"]), len(b["text"]))
    public = (assessment / ITEMS).read_text(encoding="utf-8")
    for row in key.values():  # neither the origin nor the source of an item is in the public part
        assert row["source_id"] not in public
    assert all(re.fullmatch(r"item-[0-9a-f]{8}", i["item_id"]) for i in items)
    origins = [key[i["item_id"]]["origin"] for i in items]
    assert origins != sorted(origins) and origins != sorted(origins, reverse=True)  # shuffled


def test_prepare_is_reproducible_and_reads_a_published_folder(tmp_path, published, assessment):
    again = tmp_path / "again"
    prepare(str(REAL), str(SYNTHETIC), 10, str(again), seed=3)
    assert (again / ITEMS).read_bytes() == (assessment / ITEMS).read_bytes()
    assert (again / KEY).read_bytes() == (assessment / KEY).read_bytes()
    summary = prepare(str(REAL), str(published), 6, str(tmp_path / "pub"), view="head", max_chars=120, tolerance=0.5)
    assert summary["items"] == 6 and summary["view"] == "head"
    key = load_key(tmp_path / "pub")
    assert {k["source_id"].split(":")[0] for k in key.values()} == {"train_v1.jsonl", "ru-notes"}
    assert all(len(i["text"]) <= 120 for i in load_items(tmp_path / "pub"))


def test_prepare_fills_with_cross_code_pairs_only_when_needed(tmp_path):
    # The fixtures share J06 (28 real, 58 synthetic notes) and J02 (3 real, 2 synthetic): 30 same-code pairs at most.
    summary = prepare(str(REAL), str(SYNTHETIC), 64, str(tmp_path / "big"), tolerance=1.0)
    assert summary["pairs"] == 32 and summary["same_code_pairs"] == 30
    key = load_key(tmp_path / "big")
    items = {i["item_id"]: i for i in load_items(tmp_path / "big")}
    for pair in range(32):
        rows = [(k, items[i]) for i, k in key.items() if k["pair"] == pair]
        assert (rows[0][1]["code"] == rows[1][1]["code"]) == rows[0][0]["same_code"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 7}, "even number"),
        ({"n": 0}, "even number"),
        ({"n": 400}, "only .* pairs"),
        ({"view": "middle"}, "unknown view"),
        ({"tolerance": 2.0}, "length-tolerance"),
        ({"real_text_column": "nope"}, "no column 'nope'"),
        ({"real": "missing.jsonl"}, "no such file"),
    ],
)
def test_prepare_rejects_bad_input(tmp_path, kwargs, message):
    args = {"real": str(REAL), "synthetic": str(SYNTHETIC), "n": 10, "out": str(tmp_path / "x"), **kwargs}
    with pytest.raises(MedsynError, match=message):
        prepare(**args)
    assert not (tmp_path / "x").exists()


def test_prepare_never_discards_answers_without_overwrite(tmp_path):
    out = tmp_path / "study"
    prepare(str(REAL), str(SYNTHETIC), 4, str(out))
    prepare(str(REAL), str(SYNTHETIC), 4, str(out), seed=1)  # its own earlier output, no answers: replaced
    item = load_items(out)[0]["item_id"]
    AnswerStore(out).append("anna", check_answer(item, "real", dict.fromkeys(ASSESSMENT_CRITERIA, 3), {item}))
    before = (out / ITEMS).read_bytes()
    with pytest.raises(MedsynError, match="answers"):
        prepare(str(REAL), str(SYNTHETIC), 4, str(out), seed=2)
    assert (out / ITEMS).read_bytes() == before and (out / "answers" / "anna.jsonl").exists()


def test_cli_errors_are_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medsyn_hf.cli",
            "assess",
            "prepare",
            "--real",
            str(REAL),
            "--synthetic",
            str(SYNTHETIC),
            "--n",
            "5",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and not (tmp_path / "x").exists()
    assert proc.stderr.strip().splitlines()[-1].startswith("medsyn: error: --n must be an even number")
    proc = subprocess.run(
        [sys.executable, "-m", "medsyn_hf.cli", "assess", "score", str(tmp_path), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and proc.stderr.strip().startswith("medsyn: error:") and "items.jsonl" in proc.stderr


# -- answers ----------------------------------------------------------------------------------------------------------
def answer(item, origin="real", value=3):
    return check_answer(item, origin, dict.fromkeys(ASSESSMENT_CRITERIA, value), {item})


def test_answers_are_appended_once_per_item_and_survive_a_torn_write(tmp_path):
    store = AnswerStore(tmp_path)
    assert store.append("anna", answer("item-1")) and store.append("anna", answer("item-2", "synthetic", 5))
    assert not store.append("anna", answer("item-1", "synthetic"))  # a resubmitted form: the first answer stays
    path = store.path("anna")
    with open(path, "ab") as f:  # a crash in the middle of a write
        f.write(b'{"item_id": "item-3", "annot')
    assert [a["item_id"] for a in store.read("anna")] == ["item-1", "item-2"]
    assert store.read("anna")[0]["origin"] == "real"
    assert store.append("anna", answer("item-3"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["item_id"] for line in lines] == ["item-1", "item-2", "item-3"]
    assert all(list(json.loads(line)) == list(ASSESS_ANSWER_FEATURES) for line in lines)
    assert store.annotators() == ["anna"]
    items = [{"item_id": f"item-{i}"} for i in (1, 2, 3, 4)]
    assert next_item(items, store.read("anna")) == 3 and next_item(items[:3], store.read("anna")) is None


@pytest.mark.parametrize("name", ["", " ", "a b", "../x", ".hidden", "_x", "x" * 65, None, 3])
def test_bad_annotator_names_are_refused(name):
    with pytest.raises(MedsynError, match="annotator name"):
        annotator_name(name)


def test_good_annotator_names(tmp_path):
    assert annotator_name(" Анна.Петрова ") == "Анна.Петрова"
    assert AnswerStore(tmp_path).path("dr-ivanov@clinic").name == "dr-ivanov@clinic.jsonl"


@pytest.mark.parametrize(
    "origin, value, message",
    [
        ("maybe", 3, "real or synthetic"),
        (None, 3, "real or synthetic"),
        ("real", 6, "from 1 to 5"),
        ("real", 2.5, "whole number"),
        ("real", None, "give realism a score"),
        ("real", "x", "give realism a score"),
    ],
)
def test_bad_answers_are_refused(origin, value, message):
    with pytest.raises(MedsynError, match=message):
        check_answer("item-1", origin, dict.fromkeys(ASSESSMENT_CRITERIA, value), {"item-1"})
    with pytest.raises(MedsynError, match="unknown item"):
        check_answer("item-2", "real", dict.fromkeys(ASSESSMENT_CRITERIA, 3), {"item-1"})


# -- score ------------------------------------------------------------------------------------------------------------
def test_score_counts_accuracy_scores_and_agreement(tmp_path, assessment):
    import shutil

    from scipy.stats import mannwhitneyu

    study = tmp_path / "study"
    shutil.copytree(assessment, study)
    key = load_key(study)
    items = [i["item_id"] for i in load_items(study)]
    truth = [key[i]["origin"] for i in items]
    flip = {"real": "synthetic", "synthetic": "real"}
    store = AnswerStore(study)
    guesses = {
        "anna": truth,
        "boris": [t if j < 6 else flip[t] for j, t in enumerate(truth)],
        "vera": ["real"] * 7,
    }  # vera stopped after 7 items
    for name, answers in guesses.items():
        for j, (item, guess) in enumerate(zip(items, answers)):
            value = 5 if truth[j] == "real" else 2 + (j + len(name)) % 3
            store.append(
                name,
                check_answer(item, guess, {**dict.fromkeys(ASSESSMENT_CRITERIA, value), "language": 1 + j % 5}, key),
            )
    report = score(study)
    assert report["answers"] == 27 and report["annotators"] == ["anna", "boris", "vera"]
    anna, boris, vera = (report["scopes"][n]["guess"] for n in ("anna", "boris", "vera"))
    assert (anna["correct"], anna["accuracy"], anna["real_judged_real"], anna["synthetic_judged_real"]) == (
        10,
        1.0,
        1.0,
        0.0,
    )
    assert boris["correct"] == 6 and boris["p_vs_chance"] == pytest.approx(binomial_p(6, 10))
    vera_correct = truth[:7].count("real")
    assert vera["correct"] == vera_correct and vera["accuracy_ci"] == pytest.approx(
        list(wilson_interval(vera_correct, 7))
    )
    pooled = report["scopes"]["pooled"]["guess"]
    assert pooled["correct"] == 16 + vera_correct and pooled["answers"] == 27
    realism = report["scopes"]["pooled"]["scores"]["realism"]
    real_scores = [5] * sum(t == "real" for t in truth) * 2 + [5] * truth[:7].count("real")
    synthetic_scores = [
        2 + (j + len(n)) % 3
        for n, count in (("anna", 10), ("boris", 10), ("vera", 7))
        for j in range(count)
        if truth[j] == "synthetic"
    ]
    assert realism["real"]["mean"] == 5.0 and realism["real"]["n"] == len(real_scores)
    assert realism["synthetic"]["mean"] == pytest.approx(np.mean(synthetic_scores))
    assert realism["p_mann_whitney"] == pytest.approx(mannwhitneyu(real_scores, synthetic_scores).pvalue)
    agreement = report["agreement"]
    assert agreement["items_answered_by_all"] == 7
    origin_counts = np.array(
        [[sum(guesses[n][j] == o for n in guesses) for o in ("real", "synthetic")] for j in range(7)]
    )
    assert agreement["fleiss_kappa_origin"] == pytest.approx(fleiss_kappa(origin_counts))
    language = [[1 + j % 5 if j < len(guesses[n]) else nan for j in range(10)] for n in guesses]
    assert agreement["krippendorff_alpha_language_ordinal"] == pytest.approx(krippendorff_alpha(language, "ordinal"))
    assert agreement["krippendorff_alpha_language_ordinal"] == 1.0  # everyone gave the same language scores


def test_score_cli_writes_report_md_and_json(tmp_path, assessment):
    import shutil

    study = tmp_path / "study"
    shutil.copytree(assessment, study)
    key = load_key(study)
    items = [i["item_id"] for i in load_items(study)]
    store = AnswerStore(study)
    for name, correct in (("anna", 8), ("boris", 5)):
        for j, item in enumerate(items):
            truth = key[item]["origin"]
            guess = truth if j < correct else {"real": "synthetic", "synthetic": "real"}[truth]
            store.append(name, check_answer(item, guess, dict.fromkeys(ASSESSMENT_CRITERIA, 1 + j % 5), key))
    report_dir = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "medsyn_hf.cli", "assess", "score", str(study), "--out", str(report_dir), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert report["scopes"]["anna"]["guess"]["correct"] == 8 and report["scopes"]["boris"]["guess"]["correct"] == 5
    table = np.zeros((2, 2))
    for j, item in enumerate(items):
        truth = key[item]["origin"]
        guess_a = truth if j < 8 else {"real": "synthetic", "synthetic": "real"}[truth]
        guess_b = truth if j < 5 else {"real": "synthetic", "synthetic": "real"}[truth]
        table[("real", "synthetic").index(guess_a), ("real", "synthetic").index(guess_b)] += 1
    assert report["agreement"]["cohen_kappa_origin"] == pytest.approx(kappa_by_hand(table))
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "| anna | 10 | 0.80 [" in markdown and "cohen_kappa_origin" in markdown


def test_score_before_any_answer_reports_none(tmp_path, assessment):
    from medsyn_hf.assess.score import render_markdown, write_report

    report = write_report(assessment, tmp_path / "report")
    assert (report["answers"], report["annotators"], report["scopes"]) == (0, [], {})
    assert "No answers yet." in render_markdown(report)
    assert (tmp_path / "report" / "report.md").read_text(encoding="utf-8") == render_markdown(report)


def test_on_a_space_the_annotator_is_the_signed_in_account(assessment, monkeypatch, tmp_path):
    import shutil

    import gradio as gr

    from medsyn_hf.assess.ui import Assessment

    study = tmp_path / "study"
    shutil.copytree(assessment, study)
    monkeypatch.setenv("SPACE_ID", "someone/medsyn-demo")
    profile = gr.OAuthProfile({"name": "Anna P", "preferred_username": "anna-p", "profile": "", "picture": ""})
    assessment = Assessment(study)
    with pytest.raises(MedsynError, match="sign in"):
        assessment.start("boris", None)  # a typed name is not an identity on a Space
    shown = assessment.start("boris", profile)
    assert shown[0] == "anna-p" and shown[1].startswith("**anna-p**: note 1 of 10")
    assessment.submit("boris", shown[2], "real", [1, 2, 3, 4], profile)
    assert [a["item_id"] for a in AnswerStore(study).read("anna-p")] == [shown[2]]
    assert not AnswerStore(study).path("boris").exists()
    # (the tab's gr.LoginButton itself cannot be built here: outside a Space, gradio mocks OAuth with a Hub token)


# -- the Space: nothing it serves carries the key ---------------------------------------------------------------------
def key_strings(folder) -> list[str]:
    """Strings that would reveal the key: source ids, the input paths, and each item id next to its origin."""
    key = load_key(folder)
    strings = [k["source_id"] for k in key.values()] + [str(REAL), str(SYNTHETIC)]
    return strings + [f'{item}", "origin' for item in key] + [f'"{item}": "{k["origin"]}' for item, k in key.items()]


def leaks(text: str, folder) -> list[str]:
    found = [s for s in key_strings(folder) if s in text]
    key = load_key(folder)
    found += [
        item
        for item, k in key.items()  # an item id with its true origin within 80 characters
        if re.search(re.escape(item) + r".{0,80}\b" + k["origin"] + r"\b", text, re.S)
    ]
    return found


@pytest.fixture(scope="module")
def assess_space(tmp_path_factory, assessment, tiny_model_dir, space_data):
    port, work = free_port(), tmp_path_factory.mktemp("assess-space")
    cmd, env = space_command(
        port, tiny_model_dir, [space_data, assessment.parent], work / "cache", "--assess", assessment
    )
    url = f"http://127.0.0.1:{port}/"
    with served(cmd, url, work / "server.log", env=env, cwd=work):
        yield url


def plausible_inputs(endpoint: str, parameters: list[dict], item_id: str, prior: str, dataset: str) -> list:
    if endpoint == "/assess_start":
        return ["crawler"]
    if endpoint == "/assess_submit":
        return ["crawler", item_id, "real", 3, 4, 5, 2]
    if endpoint == "/generate":
        return [prior, "default", 0.0, 16, 0]
    values = {
        "query": "J06",
        "code": "J06",
        "codes": "J06",
        "folder": dataset,
        "name": "all",
        "limit": 10,
        "n": 2,
        "row": 1,
    }
    return [values.get(p["parameter_name"], p.get("example_input")) for p in parameters]


def test_no_endpoint_or_page_carries_the_key(assess_space, assessment, space_data):
    from gradio_client import Client

    client = Client(assess_space, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)
    endpoints = api["named_endpoints"]
    assert {"/assess_start", "/assess_submit"} <= set(endpoints)
    first = client.predict("crawler", api_name="/assess_start")
    prior = client.predict("J06", 1, 0, 1.0, "mix", 0, api_name="/sample")[2]
    responses = [json.dumps(api, ensure_ascii=False), json.dumps(first, ensure_ascii=False, default=str)]
    failed = {}
    for name, info in endpoints.items():
        inputs = plausible_inputs(name, info["parameters"], first[2], prior, str(space_data / "published"))
        try:
            result = client.predict(*inputs, api_name=name)
        except Exception as err:  # an endpoint refusing input still answers: its message is searched too
            result = failed[name] = str(err)
        responses.append(json.dumps(result, ensure_ascii=False, default=str))
    assert not failed, failed
    for folder in (assessment, assessment / "key"):  # the assessment folder lies inside a data folder: probe it
        for name, inputs in (("/configs", [str(folder)]), ("/browse", [str(folder), "default", "", 10])):
            with pytest.raises(Exception) as refused:  # noqa: B017 (gradio_client's AppError)
                client.predict(*inputs, api_name=name)
            responses.append(str(refused.value))
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        with urllib.request.urlopen(assess_space + path, timeout=30) as response:
            responses.append(response.read().decode("utf-8", "replace"))
    key_path = (assessment / KEY).resolve()
    for path in (f"gradio_api/file={key_path}", f"file={key_path}", "gradio_api/file=key/key.jsonl"):
        with pytest.raises(urllib.error.HTTPError) as refused:  # the key file is not served (the path may be echoed)
            urllib.request.urlopen(assess_space + path, timeout=30)
        assert refused.value.code in (403, 404), path
        responses.append(refused.value.read().decode("utf-8", "replace"))
    text = "\n".join(responses)
    assert "item-" in text  # the crawl did see items (their ids are public)
    assert leaks((assessment / KEY).read_text(encoding="utf-8"), assessment)  # the check does find a key
    assert leaks(text, assessment) == []
    answered = [json.loads(line) for line in (assessment / "answers" / "crawler.jsonl").read_text().splitlines()]
    assert [a["item_id"] for a in answered] == [first[2]]  # the crawl's answer landed, once


def test_assess_folder_and_hub_sync_errors_are_one_line(tmp_path, assessment):
    from medsyn_hf.assess.ui import Assessment

    with pytest.raises(MedsynError, match="not a folder"):
        Assessment(tmp_path / "missing")
    with pytest.raises(MedsynError, match="no items.jsonl"):
        Assessment(tmp_path)
    # CommitScheduler's construction creates the repo: offline, that is a one-line error (the sync itself needs the
    # Hub and is not exercised here).
    with pytest.raises(MedsynError, match="HF_HUB_OFFLINE"):
        Assessment(assessment, repo_id="someone/answers")
