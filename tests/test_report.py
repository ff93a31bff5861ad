"""`medsyn eval report` and `medsyn publish --report`: each figure on small sets where the right answer is known."""

import json
import random
from difflib import SequenceMatcher

import pytest

from medsyn_hf.cli import main as medsyn
from tests.conftest import SOURCES

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# Cyrillic to Latin, digits to Greek: the same notes in words no real note has
DISJOINT = str.maketrans("абвгдеёжзийклмнопрстуфхцчшщъыьэюя0123456789", "abvgdeejzijklmnoprstufhccss_y_euaαβγδεζηθικ")


@pytest.fixture(scope="module")
def top_rows():
    """RuMedTop3 train notes of its 8 most frequent codes (real complaints, known codes)."""
    from collections import Counter

    with open(SOURCES / "rumedtop3" / "train_v1.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    top = {code for code, _ in Counter(r["code"] for r in rows).most_common(8)}
    return [r for r in rows if r["code"] in top]


@pytest.fixture(scope="module")
def real_rows(top_rows):
    return top_rows[:300]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def as_synthetic(rows, transform=lambda text: text):
    return [{"response": transform(r["symptoms"]), "icd10": r["code"]} for r in rows]


def run_report(tmp_path, synthetic_rows, real_rows, *extra):
    real = write_jsonl(tmp_path / "real.jsonl", real_rows)
    synthetic = write_jsonl(tmp_path / "synthetic.jsonl", synthetic_rows)
    out = tmp_path / "report"
    assert (
        medsyn(
            ["eval", "report", str(synthetic), "--real", str(real), "--out", str(out), "--bootstrap", "200", *extra]
        )
        == 0
    )
    return json.loads((out / "report.json").read_text(encoding="utf-8")), out


def test_identical_sets_are_indistinguishable_and_at_distance_zero(tmp_path, real_rows, capsys):
    """Only with --allow-overlap (without it the same notes on both sides are refused: tests/test_bad_inputs.py), and
    then the report's header says the figures compare a set with itself."""
    report, out = run_report(tmp_path, as_synthetic(real_rows), real_rows, "--allow-overlap")
    n = len({" ".join(r["symptoms"].split()) for r in real_rows})
    real, synthetic = tmp_path / "real.jsonl", tmp_path / "synthetic.jsonl"
    assert report["warnings"] == [f"real ({real}) and synthetic ({synthetic}) share {n} of {n} distinct notes"]
    assert "> **Warning: real (" in (out / "report.md").read_text(encoding="utf-8").split("| measure")[0]
    fidelity, privacy = report["fidelity"], report["privacy"]
    assert 0.4 < fidelity["auc"] < 0.6 and fidelity["auc_ci"][0] <= 0.5 <= fidelity["auc_ci"][1]
    assert privacy["dcr"]["zero"]["synthetic"] == 1.0 and privacy["dcr"]["synthetic"]["median"] == 0.0
    assert privacy["longest_run"]["synthetic"]["share_above"] == pytest.approx(
        sum(len(r["symptoms"].split()) >= 10 for r in real_rows) / len(real_rows), abs=0.05
    )
    assert report["diversity"]["code_distribution"]["synthetic"] == report["diversity"]["code_distribution"]["real"]
    assert report["diversity"]["plan"] is None  # a plain file carries no plan
    for name in ("report.md", "fidelity.png", "diversity.png", "privacy.png"):
        assert (out / name).read_bytes()[:4] in (b"# Sy", b"\x89PNG")
    assert "| real-vs-synthetic discriminator, ROC AUC (95 % CI) |" in (out / "report.md").read_text(encoding="utf-8")
    assert "written:" in capsys.readouterr().out


def test_disjoint_vocabularies_are_told_apart(tmp_path, real_rows):
    report, _ = run_report(tmp_path, as_synthetic(real_rows, lambda t: t.lower().translate(DISJOINT)), real_rows)
    assert report["fidelity"]["auc"] > 0.95
    assert report["privacy"]["dcr"]["synthetic"]["p5"] > 0.99  # (almost) no word in common
    assert report["privacy"]["longest_run"]["synthetic"]["max"] <= 2  # Latin words of real notes (transliterated)
    over = [row["ngram"] for row in report["fidelity"]["ngrams"]["over"]]
    assert over and all(not any("а" <= ch <= "я" for ch in gram) for gram in over)


def test_a_planted_copy_of_a_real_note_is_flagged(tmp_path, real_rows):
    planted = max(real_rows[150:], key=lambda r: len(r["symptoms"]))
    synthetic = as_synthetic(real_rows[150:], lambda t: t.lower().translate(DISJOINT))
    synthetic.insert(7, {"response": planted["symptoms"], "icd10": planted["code"]})
    report, out = run_report(tmp_path, synthetic, real_rows[:150] + [planted])
    privacy = report["privacy"]
    words = len(planted["symptoms"].split())
    assert privacy["closest"][0]["note"] == 7 and privacy["closest"][0]["dcr"] == 0.0
    assert privacy["closest"][0]["longest_run"] >= words - 2  # the tokenizer may split or drop a punctuation word
    assert privacy["dcr"]["zero"]["synthetic"] == pytest.approx(1 / len(synthetic), abs=1e-4)
    assert privacy["longest_run"]["synthetic"]["share_above"] == pytest.approx(1 / len(synthetic), abs=1e-4)
    assert "| 7 | 0.000 |" in (out / "report.md").read_text(encoding="utf-8")


def test_utility_compares_real_only_with_a_topup(tmp_path, top_rows):
    """--eval adds `medsyn eval icd`'s paired comparison: the real notes of two codes are cut to 5, the synthetic
    notes (real notes of those codes, not in the eval set) top them up to 40."""
    rare = {r["code"] for r in top_rows[:2]}
    real = [r for r in top_rows[:300] if r["code"] not in rare] + [r for r in top_rows[:300] if r["code"] in rare][:10]
    synthetic = as_synthetic([r for r in top_rows[300:] if r["code"] in rare][:70])
    evaluation = write_jsonl(tmp_path / "eval.jsonl", top_rows[-120:])
    report, out = run_report(
        tmp_path, synthetic, real, "--eval", str(evaluation), "--topup", "40", "--seeds", "0", "--view", "head"
    )
    use = report["utility"]
    assert use["topup"] == 40 and use["seeds"] == [0] and use["n"] == 120
    assert use["upsampled"]["train_synthetic"] > 0 and use["real_only"]["train_synthetic"] == 0
    assert use["paired_diff"]["rare_hit3"]["diff"] > 0  # the added notes are real notes of the rare codes
    for key in ("acc1", "hit3", "rare_hit3"):
        assert use["paired_diff"][key]["diff"] == pytest.approx(
            use["upsampled"][key] - use["real_only"][key], abs=0.01
        )
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Utility" in text and "| ICD classifier rare-code hit@3, real + top-up to 40 (eval notes) |" in text


def test_longest_common_runs_match_a_pairwise_search():
    from medsyn_hf.filters.ngrams import longest_common_runs, tokenize
    from medsyn_hf.normalize import words

    rng = random.Random(0)
    vocabulary = ["боль", "жалобы", "на", "в", "животе", "голова", "кашель", "три", "дня", "ночью"]
    corpus = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 15))) for _ in range(30)]
    queries = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 25))) for _ in range(40)]

    def pairwise(query):
        return max(
            SequenceMatcher(None, words(query), words(c), autojunk=False)
            .find_longest_match(0, len(words(query)), 0, len(words(c)))
            .size
            for c in corpus
        )

    assert longest_common_runs(tokenize(queries), tokenize(corpus), len(queries)).tolist() == [
        pairwise(q) for q in queries
    ]


def test_diversity_figures():
    from medsyn_hf.evaluation.diversity import (
        code_entropy,
        distinct_n,
        near_duplicate_share,
        plan_coverage,
    )

    assert distinct_n(["а б в", "а б г"]) == {"distinct_1": round(4 / 6, 4), "distinct_2": 0.75, "distinct_3": 1.0}
    assert code_entropy(["J06", "K29", "J06", "K29"]) == {"codes": 2, "entropy_bits": 1.0, "evenness": 1.0}
    note = "пациент жалуется на сильную головную боль в течение трёх дней и тошноту по утрам"
    assert near_duplicate_share(
        [note, note + " сегодня", "кашель сухой ночью уже неделю без температуры"]
    ) == pytest.approx(1 / 3, abs=1e-4)
    plan = plan_coverage({"J06": 3, "K29": 2}, ["J06", "J06"])
    assert (plan["planned"], plan["kept"], plan["codes_without_kept_note"]) == (5, 2, ["K29"])


def test_discriminator_auc_and_its_resamples():
    """The AUC counted by hand (pairs a positive outranks, ties half), and the bootstrap's vectorised AUCs equal the
    AUC of each resample."""
    import numpy as np

    from medsyn_hf.evaluation.fidelity import auc, resampled_auc

    scores, labels = np.array([0.1, 0.4, 0.35, 0.8, 0.4]), np.array([0, 0, 1, 1, 1])
    # positives 0.35, 0.8, 0.4 against negatives 0.1, 0.4: 0.35 beats 0.1; 0.8 both; 0.4 beats 0.1, ties 0.4 -> 4.5 / 6
    assert auc(scores, labels) == pytest.approx(4.5 / 6)
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=60).round(1), np.r_[np.zeros(25, dtype=int), np.ones(35, dtype=int)]
    negatives = rng.choice(np.flatnonzero(labels == 0), (7, 25))
    positives = rng.choice(np.flatnonzero(labels == 1), (7, 35))
    by_resample = [auc(scores[np.r_[n, p]], labels[np.r_[n, p]]) for n, p in zip(negatives, positives)]
    assert resampled_auc(scores, negatives, positives, chunk=3) == pytest.approx(by_resample, abs=1e-12)


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-common-codes", "no ICD-10 category in common"),
        ("empty", "no rows"),
        ("no-text-column", "no text column"),
        ("bad-holdout", "--holdout"),
        ("bad-topup", "--topup 0"),
        ("not-ours", "did not write"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, real_rows, capsys, case, message):
    real = write_jsonl(tmp_path / "real.jsonl", real_rows)
    synthetic_rows = as_synthetic(real_rows[:20], lambda t: t.lower().translate(DISJOINT))  # other notes
    extra = []
    if case == "no-common-codes":
        synthetic_rows = [{**row, "icd10": "Z99"} for row in synthetic_rows]
    elif case == "no-text-column":
        synthetic_rows = [{"note_text": row["response"], "icd10": row["icd10"]} for row in synthetic_rows]
    elif case == "bad-holdout":
        extra = ["--holdout", "1.5"]
    elif case == "bad-topup":
        extra = ["--eval", str(real), "--topup", "0"]
    synthetic = write_jsonl(tmp_path / "synthetic.jsonl", [] if case == "empty" else synthetic_rows)
    out = tmp_path / "out"
    if case == "not-ours":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    assert medsyn(["eval", "report", str(synthetic), "--real", str(real), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert (out / "keep.txt").read_text() == "mine" if case == "not-ours" else not out.exists()


def test_publish_report_puts_the_table_and_plots_into_the_card(tmp_path, tiny_model_dir, real_rows, capsys):
    """A generation run (its plan: every generated note) -> report -> publish --report -> a card with the table and
    the plots inside the folder, and a folder load_dataset still reads."""
    import datasets

    from medsyn_hf.card import validate_card

    config = tmp_path / "generate.yaml"
    config.write_text(
        json.dumps(
            {
                "model_name_or_path": str(tiny_model_dir),
                "num_priors": 12,
                "shard_size": 12,
                "max_new_tokens": 24,
                "output_dir": str(tmp_path / "runs"),
                "seed": 3,
                "example_p": 1.0,
                "filters": {"min_symptom_recall": 0.0, "min_words": 8, "min_cyrillic_share": 0.0},
            }
        ),
        encoding="utf-8",
    )
    assert medsyn(["generate", "--config", str(config)]) == 0
    run = tmp_path / "runs" / "latest"
    notes = datasets.Dataset.from_parquet(str(run / "notes.parquet"))
    # real notes with the run's codes: RuMedTop3 complaints relabelled (the report needs codes in common)
    relabelled = [
        {"symptoms": r["symptoms"], "code": code[:3]} for r, code in zip(real_rows, list(notes["ICD-10"]) * 20)
    ]
    real = write_jsonl(tmp_path / "real.jsonl", relabelled)
    report_dir = tmp_path / "report"
    assert medsyn(["eval", "report", str(run), "--real", str(real), "--out", str(report_dir), "--json"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert headline["auc"] == report["fidelity"]["auc"]
    plan = report["diversity"]["plan"]
    assert 2 <= sum(notes["keep"]) < len(notes)  # some notes rejected: the plan is more than the kept notes
    assert plan["planned"] == len(notes) and plan["kept"] == sum(notes["keep"]) == report["synthetic"]["notes"]
    assert report["privacy"]["example_copy"]["notes"] == sum(notes["keep"])  # every prompt had an example

    out = tmp_path / "ru-notes"
    assert medsyn(["publish", str(run), "--out", str(out), "--report", str(report_dir)]) == 0
    card = validate_card(out / "README.md", folder=out).text
    assert "## Evaluation report" in card and "| real-vs-synthetic discriminator, ROC AUC (95 % CI) |" in card
    for name in ("fidelity.png", "diversity.png", "privacy.png"):
        assert f"](report/{name})" in card
        assert (out / "report" / name).read_bytes() == (report_dir / name).read_bytes()
    assert (out / "report" / "report.md").is_file()
    loaded = datasets.load_dataset(str(out))
    assert len(loaded["train"]) == sum(notes["keep"])

    # the published folder as input: `train` analysed, `train` + `rejected` the plan
    assert medsyn(["eval", "report", str(out), "--real", str(real), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "report.json").read_text(encoding="utf-8"))
    assert again["diversity"]["plan"] == plan and again["synthetic"]["notes"] == report["synthetic"]["notes"]

    assert medsyn(["publish", str(run), "--out", str(tmp_path / "other"), "--report", str(tmp_path)]) == 2
    assert "not a report folder" in capsys.readouterr().err
    assert medsyn(["eval", "report", str(real), "--real", str(real), "--out", str(tmp_path / "of-real")]) == 2
    assert "same data" in capsys.readouterr().err
    of_real = ["eval", "report", str(real), "--real", str(real), "--out", str(tmp_path / "of-real"), "--allow-overlap"]
    assert medsyn(of_real) == 0
    assert medsyn(["publish", str(run), "--out", str(tmp_path / "other"), "--report", str(tmp_path / "of-real")]) == 2
    assert f"made on {len(relabelled)} notes" in capsys.readouterr().err and not (tmp_path / "other").exists()
