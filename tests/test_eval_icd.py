"""`medsyn eval icd` on small stratified subsets of the real RuMedTop3 splits and the real MedSyn GPT notes."""

import gzip
import json
import random
import re
from collections import Counter, defaultdict

import numpy as np
import pytest
from conftest import REPO, SOURCES

from medsyn_hf.cli import main
from medsyn_hf.data import category
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd import choice as icd_choose
from medsyn_hf.evaluation.icd import classifier as icd_classifier
from medsyn_hf.evaluation.icd import experiment as icd
from medsyn_hf.evaluation.icd import render as icd_render
from medsyn_hf.evaluation.icd import rule as icd_rule
from medsyn_hf.evaluation.icd.metrics import excludes_zero, icd_scores, paired_differences
from medsyn_hf.evaluation.icd.sampling import LabelledNotes, load_labelled, stratified_sample, topup_sample
from medsyn_hf.filters import code_classifier

RARE_K = 12


def read_jsonl(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path, rows):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every 7th code that train, dev and the GPT notes share; up to 20 train notes per code (so codes with fewer
    than RARE_K stay rare), all their dev notes, up to 12 GPT notes per code plus 5 with other codes."""
    train, dev = (
        read_jsonl(SOURCES / "rumedtop3" / "train_v1.jsonl"),
        read_jsonl(SOURCES / "rumedtop3" / "dev_v1.jsonl"),
    )
    gpt = read_jsonl(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz")
    shared = sorted({r["code"] for r in train} & {r["code"] for r in dev} & {category(n["icd10"]) for n in gpt})
    codes = set(shared[::7])
    by_code = defaultdict(list)
    for row in train:
        by_code[row["code"]].append(row)
    rows = {
        "train": [r for c in sorted(codes) for r in by_code[c][: 20 if len(by_code[c]) > 20 else 10]],
        "eval": [r for r in dev if r["code"] in codes],
    }
    gpt_by_code = defaultdict(list)
    for note in gpt:
        gpt_by_code[category(note["icd10"])].append({k: note[k] for k in ("icd10", "response", "generation_model")})
    rows["synthetic"] = [n for c in sorted(codes) for n in gpt_by_code[c][:12]]
    rows["synthetic"] += [gpt_by_code[c][0] for c in sorted(set(gpt_by_code) - codes)[:5]]
    root = tmp_path_factory.mktemp("icd")
    paths = {name: write_jsonl(root / f"{name}.jsonl", data) for name, data in rows.items() if name != "synthetic"}
    paths["synthetic"] = write_jsonl(root / "synthetic.jsonl.gz", rows["synthetic"])
    return {"paths": paths, "rows": rows, "codes": codes}


def cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def direct_scores(predictions, references, codes):
    """The scores by plain counting, note by note."""
    pairs = [(p, r) for p, r in zip(predictions, references) if r in codes]
    per_code = defaultdict(list)
    for p, r in pairs:
        per_code[r].append((p[0] == r, r in p[:3]))
    return {
        "acc1": 100 * sum(p[0] == r for p, r in pairs) / len(pairs),
        "hit3": 100 * sum(r in p[:3] for p, r in pairs) / len(pairs),
        "macro_acc1": 100 * np.mean([np.mean([a for a, _ in v]) for v in per_code.values()]),
        "macro_hit3": 100 * np.mean([np.mean([h for _, h in v]) for v in per_code.values()]),
        "per_code": {
            c: (100 * np.mean([a for a, _ in v]), 100 * np.mean([h for _, h in v]), len(v))
            for c, v in per_code.items()
        },
    }


@pytest.fixture(scope="module")
def random_predictions():
    rng = random.Random(0)
    codes = [f"K{i:02d}" for i in range(12)]
    references = [rng.choice(codes[: 3 + i % 9]) for i in range(300)]
    predictions = [rng.sample(codes, 4) for _ in references]
    return predictions, references, codes


def test_scores_match_counting_note_by_note(random_predictions):
    predictions, references, codes = random_predictions
    rare = set(codes[6:])
    result = icd_scores(predictions, references, rare, n_bootstrap=0)
    everything, on_rare = (
        direct_scores(predictions, references, set(codes)),
        direct_scores(predictions, references, rare),
    )
    for key in ("acc1", "hit3", "macro_acc1", "macro_hit3"):
        assert result[key] == pytest.approx(everything[key])
        assert result[f"rare_{key}"] == pytest.approx(on_rare[key])
    assert result["n"] == len(references) and result["n_rare"] == sum(r in rare for r in references)
    assert result["per_code"].keys() == everything["per_code"].keys()
    for code, (acc1, hit3, n) in everything["per_code"].items():
        assert [result["per_code"][code][k] for k in ("acc1", "hit3", "n")] == pytest.approx([acc1, hit3, n])
    assert {c for c, v in result["per_code"].items() if v["rare"]} == rare & set(references)
    assert "ci" not in result


def test_scores_without_rare_notes_and_bad_input():
    result = icd_scores([["A00", "B00", "C00"], ["B00", "A00", "C00"]], ["A00", "A00"], rare_codes=["Z99"])
    assert result["acc1"] == pytest.approx(50) and result["hit3"] == pytest.approx(100)
    assert result["n_rare"] == 0 and result["rare_acc1"] is None and "rare_acc1" not in result["ci"]
    with pytest.raises(MedsynError, match="2 predictions for 1 references"):
        icd_scores([["A00"], ["B00"]], ["A00"])
    with pytest.raises(MedsynError, match="no references"):
        icd_scores([], [])


def test_bootstrap_is_seeded_stratified_and_matches_a_loop(random_predictions):
    predictions, references, codes = random_predictions
    rare = codes[6:]
    a = icd_scores(predictions, references, rare, n_bootstrap=2000, seed=1)
    assert a["ci"] == icd_scores(predictions, references, rare, n_bootstrap=2000, seed=1)["ci"]
    assert a["ci"] != icd_scores(predictions, references, rare, n_bootstrap=2000, seed=2)["ci"]
    # The same resampling, one resample at a time: each code's notes drawn with replacement.
    rng = np.random.default_rng(7)
    by_code = defaultdict(list)
    for i, r in enumerate(references):
        by_code[r].append(i)
    loop = defaultdict(list)
    for _ in range(2000):
        index = [i for idx in by_code.values() for i in rng.choice(idx, len(idx))]
        for key, value in direct_scores(
            [predictions[i] for i in index], [references[i] for i in index], set(codes)
        ).items():
            if key != "per_code":
                loop[key].append(value)
    for key, values in loop.items():
        low, high = np.percentile(values, [2.5, 97.5])
        assert a["ci"][key][0] <= a[key] <= a["ci"][key][1]
        assert a["ci"][key] == pytest.approx([low, high], abs=1.0)  # Monte-Carlo error of 2000 resamples


def test_evaluate_module_by_path_gives_the_same_numbers(random_predictions):
    import os

    import evaluate

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    predictions, references, codes = random_predictions
    metric = evaluate.load(str(REPO / "medsyn_hf" / "metrics" / "icd_accuracy"))
    result = metric.compute(predictions=predictions, references=references, rare_codes=codes[6:], n_bootstrap=200)
    assert result == icd_scores(predictions, references, codes[6:], n_bootstrap=200)


def test_stratified_sample_keeps_each_code_and_nests():
    codes = ["A"] * 10 + ["B"] * 3 + ["C"]
    half, all_ = stratified_sample(codes, 0.5, seed=3), stratified_sample(codes, 1.0, seed=3)
    assert Counter(codes[i] for i in half) == {"A": 5, "B": 2, "C": 1}  # round(1.5) = 2; at least one of C
    assert all_.tolist() == list(range(len(codes)))
    assert set(stratified_sample(codes, 0.3, seed=3)) <= set(half)
    assert set(half) != set(stratified_sample(codes, 0.5, seed=4))
    assert len(stratified_sample(codes, 0.0, seed=3)) == 0


def test_tfidf_weights_are_the_vectorizers_on_the_training_notes(files):
    from sklearn.feature_extraction.text import TfidfTransformer

    texts = [r["symptoms"] for r in files["rows"]["train"]]
    counts = icd_classifier.char_ngram_counts(texts)
    train, evaluation = code_classifier.tfidf(counts[:50], counts[50:80])
    transformer = TfidfTransformer().fit(counts[:50])
    assert abs(train - transformer.transform(counts[:50])).max() < 1e-12
    unseen = np.bincount(counts[:50].indices, minlength=counts.shape[1]) == 0
    seen_only = counts[50:80].multiply(~unseen).tocsr()  # what a vocabulary fitted on the 50 would keep
    assert abs(evaluation - transformer.transform(seen_only)).max() < 1e-12


def test_hashed_ngrams_rank_like_an_exact_vocabulary(files):
    """Hashing n-grams into buckets (and idf per training set) changes almost no ranking of the same solver."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    real = load_labelled(files["paths"]["train"], "symptoms", "code")
    evaluation = load_labelled(files["paths"]["eval"], "symptoms", "code")
    fast = icd_classifier.linear_rank(
        icd_classifier.char_ngram_counts(real.texts), real.codes, icd_classifier.char_ngram_counts(evaluation.texts)
    )
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(3, 8))
    solver = LogisticRegression(C=10, solver="liblinear", dual=True, tol=0.1, random_state=0)
    model = OneVsRestClassifier(solver).fit(vectorizer.fit_transform(real.texts), real.codes)
    exact = icd_classifier.top_k(model.decision_function(vectorizer.transform(evaluation.texts)), model.classes_)
    assert np.mean([f[0] == e[0] for f, e in zip(fast, exact)]) >= 0.9
    assert np.mean([f[:3] == e[:3] for f, e in zip(fast, exact)]) >= 0.7


@pytest.mark.slow
def test_fast_baseline_agrees_with_the_published_one(files):
    """The published form (lbfgs, exact vocabulary) is slow even here: about a minute on 2 cores."""
    real = load_labelled(files["paths"]["train"], "symptoms", "code")
    evaluation = load_labelled(files["paths"]["eval"], "symptoms", "code")
    experiment = icd.prepare(real, evaluation, rare_k=RARE_K)
    fast = icd.make_ranker(experiment, "tfidf")(np.arange(len(real.codes)), 0)
    reference = icd.make_ranker(experiment, "reference")(np.arange(len(real.codes)), 0)
    agree = np.mean([f[0] == r[0] for f, r in zip(fast, reference)])
    fast_scores, reference_scores = (icd_scores(p, evaluation.codes, n_bootstrap=0) for p in (fast, reference))
    assert agree >= 0.85, agree
    assert abs(fast_scores["acc1"] - reference_scores["acc1"]) <= 4
    assert fast_scores["acc1"] > 3 * 100 / len(files["codes"])  # far above chance


def test_cli_json_compares_with_real_only(files, capsys):
    paths, rows = files["paths"], files["rows"]
    code, out, _ = cli(
        [
            "eval",
            "icd",
            "--train",
            paths["train"],
            "--eval",
            paths["eval"],
            "--synthetic",
            paths["synthetic"],
            "--rare-k",
            RARE_K,
            "--bootstrap",
            200,
            "--seeds",
            "0,1",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and len(out.strip().splitlines()) == 1
    result = json.loads(out)
    counts = Counter(r["code"] for r in rows["train"])
    assert result["rare_codes"] == sorted(c for c, n in counts.items() if n < RARE_K) != []
    assert result["seeds"] == [0, 1] and result["synthetic_fraction"] == 1 and result["topup"] == 0
    real_only, upsampled = result["real_only"], result["upsampled"]
    assert real_only["train_real"] == upsampled["train_real"] == len(rows["train"]) and result["n"] == len(
        rows["eval"]
    )
    assert real_only["train_synthetic"] == 0
    assert upsampled["train_synthetic"] == sum(category(n["icd10"]) in counts for n in rows["synthetic"])
    assert result["synthetic_dropped"] == 5
    assert 0 < real_only["acc1"] <= real_only["hit3"] <= 100
    assert result["n_rare"] == sum(r["code"] in result["rare_codes"] for r in rows["eval"])
    assert len(result["runs"]) == 4 and {(r["seed"], r["synthetic_fraction"]) for r in result["runs"]} == {
        (0, 0.0),
        (1, 0.0),
        (0, 1.0),
        (1, 1.0),
    }
    for run in result["runs"]:
        assert run["ci"]["acc1"][0] <= run["acc1"] <= run["ci"]["acc1"][1]
        assert sum(v["n"] for v in run["per_code"].values()) == result["n"]
    for key in ("acc1", "hit3", "macro_acc1", "rare_acc1", "rare_hit3"):
        difference = result["paired_diff"][key]
        assert difference["diff"] == pytest.approx(upsampled[key] - real_only[key], abs=0.011)
        per_seed = [
            next(r[key] for r in result["runs"] if (r["seed"], r["synthetic_fraction"]) == (s, 1.0))
            - next(r[key] for r in result["runs"] if (r["seed"], r["synthetic_fraction"]) == (s, 0.0))
            for s in (0, 1)
        ]
        assert difference["per_seed"] == pytest.approx(per_seed)
        assert difference["ci"][0] <= difference["diff"] <= difference["ci"][1]
    code, help_text, _ = cli(["eval", "icd", "--help"], capsys)  # every key of the JSON line is documented there
    keys = [*result, *result["paired_diff"]["acc1"], *(re.sub(r"^rare_|_std$", "", key) for key in real_only)]
    assert code == 0 and [key for key in keys if key not in help_text] == []
    code, text, _ = cli(["eval", "icd", "--train", paths["train"], "--eval", paths["eval"], "--bootstrap", 0], capsys)
    assert code == 0 and "acc@1" in text and "0 synthetic" in text and "difference" not in text


def test_cli_topup_adds_exactly_the_missing_notes(files, capsys):
    """Codes with 10 real notes get 15 - 10 = 5 complaint views of their GPT notes, codes with 20 get none."""
    paths, rows = files["paths"], files["rows"]
    code, out, _ = cli(
        [
            "eval",
            "icd",
            "--train",
            paths["train"],
            "--eval",
            paths["eval"],
            "--synthetic",
            paths["synthetic"],
            "--topup",
            15,
            "--synthetic-view",
            "complaint",
            "--seeds",
            "0,1,2",
            "--rare-k",
            RARE_K,
            "--bootstrap",
            100,
            "--json",
        ],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    real = Counter(r["code"] for r in rows["train"])
    gpt = Counter(category(n["icd10"]) for n in rows["synthetic"])
    expected = sum(min(gpt[c], max(0, 15 - n)) for c, n in real.items())
    assert 0 < expected < sum(gpt[c] for c in real)
    assert result["topup"] == 15 and result["view"] == "complaint" and result["seeds"] == [0, 1, 2]
    assert result["upsampled"]["train_synthetic"] == expected and result["real_only"]["train_synthetic"] == 0
    assert set(result["paired_diff"]) >= {"acc1", "hit3", "macro_acc1", "macro_hit3", "rare_acc1", "rare_hit3"}
    assert all(len(d["per_seed"]) == 3 for d in result["paired_diff"].values())
    code, text, _ = cli(
        [
            "eval",
            "icd",
            "--train",
            paths["train"],
            "--eval",
            paths["eval"],
            "--synthetic",
            paths["synthetic"],
            "--topup",
            15,
            "--rare-k",
            RARE_K,
            "--bootstrap",
            50,
        ],
        capsys,
    )
    assert code == 0 and f"+ {expected} synthetic (top-up to 15 notes per code, head view)" in text
    assert "difference [95% CI]" in text and len(text.strip().splitlines()) == 2 + 8 + 1


def test_nothing_added_gives_a_zero_difference_and_an_interval_around_it(files):
    """A top-up to 1 note adds nothing (every code has real notes): the two classifiers are the same."""
    real = load_labelled(files["paths"]["train"], "symptoms", "code")
    evaluation = load_labelled(files["paths"]["eval"], "symptoms", "code")
    synthetic = load_labelled(files["paths"]["synthetic"], "response", "icd10")
    result = icd.compare(
        real, evaluation, synthetic, topup=1, view="complaint", seeds=(0, 1), rare_k=RARE_K, n_bootstrap=200
    )
    assert result["upsampled"]["train_synthetic"] == 0
    for difference in result["paired_diff"].values():
        assert difference["diff"] == 0 and difference["ci"] == [0, 0] and not excludes_zero(difference)


def test_paired_differences_on_known_predictions():
    references = ["A00"] * 6 + ["B00"] * 4 + ["C00"] * 2
    wrong = [["Z99", "Y99", "X99"]] * 12
    right = [[r, "Z99", "Y99"] for r in references]
    # The treated classifier gets the C00 (rare) notes right, the baseline none: +2/12 overall, +100 on rare.
    treated = [right[i] if references[i] == "C00" else wrong[i] for i in range(12)]
    result = paired_differences([wrong, wrong], [treated, treated], references, rare_codes=["C00"], n_bootstrap=300)
    assert (
        result["acc1"]["diff"] == pytest.approx(100 * 2 / 12)
        and result["hit3"]["per_seed"] == [pytest.approx(100 * 2 / 12)] * 2
    )
    assert result["macro_acc1"]["diff"] == pytest.approx(100 / 3)
    assert result["rare_acc1"]["diff"] == 100 and result["rare_acc1"]["ci"] == [100, 100]
    assert excludes_zero(result["acc1"]) and result["acc1"]["ci"] == pytest.approx([100 * 2 / 12] * 2)
    # One seed better, one worse by the same notes: the mean difference is 0 and the interval contains it.
    mixed = paired_differences([wrong, treated], [treated, wrong], references, rare_codes=["C00"], n_bootstrap=300)
    assert mixed["acc1"]["diff"] == 0 and mixed["acc1"]["per_seed"] == pytest.approx([100 * 2 / 12, -100 * 2 / 12])
    assert not excludes_zero(mixed["acc1"])
    assert "rare_acc1" not in paired_differences([wrong], [treated], references, rare_codes=["Q00"])
    with pytest.raises(MedsynError, match="2 baseline runs for 1 treated"):
        paired_differences([wrong, wrong], [treated], references)


def test_topup_sample_counts_and_seeds():
    real = ["A"] * 10 + ["B"] * 3
    synthetic = ["A"] * 5 + ["B"] * 10 + ["C"] * 2 + ["B"] * 4
    chosen = topup_sample(real, synthetic, 5, seed=0)
    assert Counter(synthetic[i] for i in chosen) == {"B": 2, "C": 2}  # A has 5 already; C has only 2 to give
    assert chosen.tolist() == sorted(chosen.tolist())
    assert Counter(synthetic[i] for i in topup_sample(real, synthetic, 12, seed=0)) == {"A": 2, "B": 9, "C": 2}
    assert len(topup_sample(real, synthetic, 3, seed=0)) == 2  # only C, which has no real note
    assert topup_sample(real, synthetic, 8, seed=1).tolist() == topup_sample(real, synthetic, 8, seed=1).tolist()
    assert set(topup_sample(real, synthetic, 8, seed=1)) <= set(topup_sample(real, synthetic, 12, seed=1))
    assert {tuple(topup_sample(real, synthetic, 8, seed=s)) for s in range(6)}.__len__() > 1
    with pytest.raises(MedsynError, match="at least 1"):
        topup_sample(real, synthetic, 0, seed=0)


def test_mini_grid_writes_table_plot_and_runs(files, capsys, tmp_path):
    from PIL import Image

    paths = files["paths"]
    out = tmp_path / "grid"
    code, stdout, _ = cli(
        [
            "eval",
            "icd",
            "--train",
            paths["train"],
            "--eval",
            paths["eval"],
            "--synthetic",
            paths["synthetic"],
            "--grid",
            "--real-fractions",
            "0.5,1",
            "--synthetic-fractions",
            "0,1",
            "--topups",
            "0,15",
            "--seeds",
            "0,1",
            "--rare-k",
            RARE_K,
            "--bootstrap",
            100,
            "--out",
            out,
            "--json",
        ],
        capsys,
    )
    assert code == 0
    result = json.loads(stdout)
    cells = {(c["real_fraction"], c["synthetic_fraction"], c["topup"]) for c in result["cells"]}
    assert cells == {
        (0.5, 0.0, 0),
        (0.5, 1.0, 0),
        (0.5, 0.0, 15),
        (1.0, 0.0, 0),
        (1.0, 1.0, 0),
        (1.0, 0.0, 15),
        (0.0, 1.0, 0),
    }
    baseline = result["baseline"]
    assert (baseline["real_fraction"], baseline["synthetic_fraction"], baseline["topup"]) == (1.0, 0.0, 0)
    saved = json.loads((out / "grid.json").read_text(encoding="utf-8"))
    assert len(saved["runs"]) == 14
    by_cell = {(c["real_fraction"], c["synthetic_fraction"], c["topup"]): c for c in result["cells"]}
    for key, cell in by_cell.items():
        runs = [r for r in saved["runs"] if (r["real_fraction"], r["synthetic_fraction"], r["topup"]) == key]
        assert cell["acc1"] == pytest.approx(np.mean([r["acc1"] for r in runs]), abs=0.006)
        assert cell["hit3_std"] == pytest.approx(np.std([r["hit3"] for r in runs]), abs=0.006)
        if key[1] or key[2]:  # compared with real only on the same real notes (synthetic only: all real notes)
            reference = by_cell[(key[0] or 1.0, 0.0, 0)]
            assert cell["vs_real_fraction"] == (key[0] or 1.0)
            assert cell["paired_diff"]["rare_hit3"]["diff"] == pytest.approx(
                cell["rare_hit3"] - reference["rare_hit3"], abs=0.011
            )
        else:
            assert "paired_diff" not in cell
    half = [r for r in saved["runs"] if (r["real_fraction"], r["synthetic_fraction"], r["topup"]) == (0.5, 0.0, 0)]
    assert all(r["train_real"] < len(files["rows"]["train"]) and r["train_synthetic"] == 0 for r in half)
    topped = [r for r in saved["runs"] if r["topup"] == 15]
    assert all(0 < r["train_synthetic"] < by_cell[(r["real_fraction"], 1.0, 0)]["train_synthetic"] for r in topped)
    table = [line for line in (out / "grid.md").read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(cells) and "real only" in table[2]
    assert sum("synthetic only" in line for line in table) == 1 and sum("top-up to 15" in line for line in table) == 2
    starred = sum(
        excludes_zero(c["paired_diff"][k])
        for c in result["cells"]
        if "paired_diff" in c
        for k in icd_render.PLOTTED
        if k in c["paired_diff"]
    )
    assert "".join(table).count("*)") == starred
    with Image.open(out / "grid.png") as image:
        assert image.format == "PNG" and image.size[0] > 1000 and image.size[1] > 600  # two rows: fraction, top-up
    # A re-run may replace its own output; another folder is refused, nothing changed.
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, _, err = cli(
        [
            "eval",
            "icd",
            "--train",
            paths["train"],
            "--eval",
            paths["eval"],
            "--synthetic",
            paths["synthetic"],
            "--grid",
            "--out",
            other,
            "--bootstrap",
            0,
        ],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and (other / "keep.txt").read_text() == "mine"


def test_transformer_classifier_on_a_tiny_model(files, tiny_model_dir):
    real = load_labelled(files["paths"]["train"], "symptoms", "code")
    evaluation = load_labelled(files["paths"]["eval"], "symptoms", "code")
    experiment = icd.prepare(real, LabelledNotes(evaluation.texts[:20], evaluation.codes[:20]))
    rank = icd.make_ranker(experiment, str(tiny_model_dir), epochs=1, batch_size=16, max_length=32)
    predictions = rank(stratified_sample(real.codes, 0.3, 0), 0)
    assert len(predictions) == 20
    assert all(len(p) == 3 == len(set(p)) and set(p) <= set(real.codes) for p in predictions)


def test_validation_scores_are_the_paired_differences_of_the_fitted_predictions(random_predictions):
    """Scores on a subset of the notes: each cell's paired difference to real only, and any two cells' difference,
    are paired_differences on those notes (same bootstrap seed and confidence), the scores their means over seeds."""
    predictions, references, codes = random_predictions
    rng = random.Random(1)
    shuffled = [[rng.sample(p, len(p)) for p in predictions] for _ in range(2)]
    fitted = [
        {"candidate": None, "view": None, "topup": 0, "topup_applied": 0, "train_synthetic": {0: 0, 1: 0}},
        {"candidate": "a", "view": "head", "topup": 8, "topup_applied": 6, "train_synthetic": {0: 10, 1: 12}},
    ]
    fitted[0]["predictions"] = {0: predictions, 1: predictions}
    fitted[1]["predictions"] = {0: shuffled[0], 1: shuffled[1]}
    subset = np.arange(0, len(references), 3)
    scores = icd_choose.Scores(fitted, references, codes[6:], 300, 7, subset=subset)
    cells = scores.cells()
    on = [references[i] for i in subset]
    expected = paired_differences(
        [[predictions[i] for i in subset]] * 2, [[s[i] for i in subset] for s in shuffled], on, codes[6:], 300, seed=7
    )
    assert cells[1]["paired_diff"] == expected and "paired_diff" not in cells[0]
    assert cells[1]["size"] == 11 and cells[0]["size"] == 0
    assert cells[1]["acc1"] == pytest.approx(
        np.mean([icd_scores([s[i] for i in subset], on, n_bootstrap=0)["acc1"] for s in shuffled])
    )
    assert scores.paired(1, 0)["acc1"]["diff"] == pytest.approx(-expected["acc1"]["diff"])


def test_pool_counts_each_note_once_and_fits_each_training_set_once(files):
    """A candidate holding a note twice and another holding the same notes: one pool row per distinct note, a
    duplicate drawn twice is trained on twice, and a training set met again is not refitted."""
    real = load_labelled(files["paths"]["train"], "symptoms", "code")
    synthetic = load_labelled(files["paths"]["synthetic"], "response", "icd10")
    twice = LabelledNotes(synthetic.texts + synthetic.texts[:1], synthetic.codes + synthetic.codes[:1])
    held = LabelledNotes(real.texts[::5], real.codes[::5])
    pool = icd_choose.Pool(real, held, {"a": synthetic, "b": twice}, ["complaint"], [])
    rows_a, _ = pool.blocks["a", "complaint"]
    rows_b, codes_b = pool.blocks["b", "complaint"]
    assert len(pool.experiment.synthetic.codes) == len(rows_a) == len(set(rows_a.tolist())) < len(rows_b)
    assert rows_b.tolist() == rows_a.tolist() + rows_a[:1].tolist()
    first = pool.predict(rows_b[[0, -1]], seed=0)  # the same note twice
    assert pool.fits == 1 and len(first) == len(held.codes)
    assert pool.predict(rows_a[[0, 0]], seed=1) is first and pool.fits == 1  # same rows, another seed: no refit
    pool.predict(rows_a[[0]], seed=0)
    assert pool.fits == 2  # the note once is another training set


def choose_argv(paths, *extra):
    common = ["--choose-on-train", "--rare-k", RARE_K, "--synthetic-views", "complaint", "--topups", "15,30"]
    return ["eval", "icd", "--train", paths["train"], "--eval", paths["eval"], *common, "--seeds", "0,1", *extra]


def test_choose_on_train_chooses_on_validation_only_and_reports_once(files, capsys, tmp_path):
    """Two candidates: the GPT notes, and the same notes with every code moved to another code of the set. On a
    split of train: the cells, K scaled to the fit part, the rule's choice; then the report on --eval. Re-running on
    the split it wrote (--train fit.jsonl --validation validation.jsonl) with a different --eval gives the very same
    cells and choice: nothing of --eval enters the choice."""
    paths, rows, codes = files["paths"], files["rows"], sorted(files["codes"])
    moved = {code: codes[(i + 1) % len(codes)] for i, code in enumerate(codes)}
    wrong = [{**n, "icd10": moved[category(n["icd10"])]} for n in rows["synthetic"] if category(n["icd10"]) in moved]
    wrong_path = write_jsonl(tmp_path / "wrong.jsonl", wrong)
    out = tmp_path / "choice"
    argv = choose_argv(paths, "--synthetic", f"gpt={paths['synthetic']}", "--synthetic", f"wrong={wrong_path}")
    code, text, _ = cli([*argv, "--out", out], capsys)
    assert code == 0 and "Chosen: " in text and "Reported once on --eval" in text
    result = json.loads((out / "choice.json").read_text(encoding="utf-8"))
    summary = result["choose_on_train"]
    real = Counter(r["code"] for r in rows["train"])
    held = {c: round(0.2 * n) for c, n in real.items()}  # stratified: 20 % of each code's notes
    assert summary["validation_notes"] == sum(held.values()) and summary["fit_notes"] == len(rows["train"]) - sum(
        held.values()
    )
    fit = Counter(json.loads(line)["code"] for line in (out / "fit.jsonl").read_text(encoding="utf-8").splitlines())
    validation = [json.loads(line) for line in (out / "validation.jsonl").read_text(encoding="utf-8").splitlines()]
    assert fit + Counter(r["code"] for r in validation) == real and Counter(r["code"] for r in validation) == held
    cells = summary["cells"]
    assert [(c["candidate"], c["topup"]) for c in cells] == [
        (None, 0),
        ("gpt", 15),
        ("gpt", 30),
        ("wrong", 15),
        ("wrong", 30),
    ]
    share = summary["fit_notes"] / len(rows["train"])
    available = {
        "gpt": Counter(category(n["icd10"]) for n in rows["synthetic"]),
        "wrong": Counter(n["icd10"] for n in wrong),
    }
    for cell in cells[1:]:
        applied = round(cell["topup"] * share)
        assert cell["topup_applied"] == applied
        notes = available[cell["candidate"]]
        assert cell["train_synthetic"] == sum(min(notes[c], max(0, applied - fit[c])) for c in real)
    # the choice is the rule's on the cells as written
    decision = icd_rule.choose(cells, summary["rule"], summary["choose_by"], summary["max_acc1_drop"])
    assert [c["chosen"] for c in cells] == [i == decision["chosen"] for i in range(len(cells))]
    chosen = cells[decision["chosen"]]
    assert summary["chosen"] == {k: chosen[k] for k in ("candidate", "view", "topup", "topup_applied")}
    # the report: `eval icd` on all of train with the chosen configuration
    assert result["topup"] == chosen["topup"] and result["n"] == len(rows["eval"])
    assert result["real_only"]["train_real"] == len(rows["train"])
    if chosen["candidate"]:
        assert result["view"] == "complaint" and result["upsampled"]["train_synthetic"] == sum(
            min(available[chosen["candidate"]][c], max(0, chosen["topup"] - n)) for c, n in real.items()
        )
    code, help_text, _ = cli(["eval", "icd", "--help"], capsys)  # every key of choose_on_train is documented there
    keys = [*summary, *cells[1], *cells[1]["verdict"], *summary["chosen"]]
    assert code == 0 and [key for key in keys if key not in help_text] == []
    table = (out / "choice.md").read_text(encoding="utf-8")
    assert table.count("\n| ") == 1 + len(cells) and "**chosen**" in table and "--split-only" in table
    # the written split, given back, with another --eval: the same cells, the same choice
    other_eval = write_jsonl(tmp_path / "other_eval.jsonl", rows["eval"][::2])
    again = [
        *argv[:2],
        "--train",
        out / "fit.jsonl",
        "--eval",
        other_eval,
        "--validation",
        out / "validation.jsonl",
        *argv[6:],
        "--json",
    ]
    code, line, _ = cli(again, capsys)
    repeated = json.loads(line)
    assert code == 0 and repeated["n"] == len(rows["eval"][::2])
    assert repeated["choose_on_train"]["cells"] == cells and repeated["choose_on_train"]["split_seed"] is None
    # --split-only writes that same split and nothing else
    code, _, _ = cli([*argv, "--split-only", "--out", tmp_path / "split"], capsys)
    assert code == 0 and sorted(p.name for p in (tmp_path / "split").iterdir() if not p.name.startswith(".")) == [
        "fit.jsonl",
        "validation.jsonl",
    ]
    assert (tmp_path / "split" / "validation.jsonl").read_bytes() == (out / "validation.jsonl").read_bytes()


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_code", "rows have no 'code'"),
        ("empty", "no rows"),
        ("unknown_column", "no column 'complaint'"),
        ("unseen_code", "codes no training note has"),
        ("bad_code", "is not an ICD-10 code"),
        ("grid_without_synthetic", "--grid needs --synthetic"),
        ("synthetic_without_known_codes", "no synthetic note has a code"),
        ("not_a_classifier", "neither 'tfidf', 'reference' nor a local model folder"),
        ("topup_below_1", "--topup 0: the number of training notes to bring each code up to must be at least 1"),
        ("topup_without_synthetic", "need --synthetic"),
        ("topup_and_fraction", "alternatives"),
        ("topup_in_grid", "not --topup or --synthetic-fraction"),
        ("empty_synthetic", "no rows"),
        ("no_synthetic_text_column", "no column 'response'"),
        ("bad_view", "invalid choice"),
        ("empty_candidate_path", "--synthetic gpt=: no path after the name"),
        ("several_candidates_without_choosing", "several --synthetic candidates are chosen between with --choose"),
        ("choose_option_without_choosing", "--choice-rule needs --choose-on-train"),
        ("choose_without_synthetic", "--choose-on-train needs at least one --synthetic candidate"),
        ("choose_same_name_twice", "--synthetic gpt: given twice"),
        ("choose_in_grid", "not with --grid, --synthetic-fraction or --real-fraction"),
        ("choose_bad_views", "allowed views are head, complaint, full"),
        ("choose_without_bootstrap", "--choice-rule one-se needs the bootstrap's standard errors"),
        ("choose_bad_fraction", "--validation-fraction 1.5: must lie strictly between 0 and 1"),
        ("choose_candidate_without_known_codes", "--synthetic other: no synthetic note has a code"),
        ("split_only_without_out", "--split-only writes the split into --out"),
    ],
)
def test_bad_input_is_one_clear_line(files, capsys, tmp_path, case, message):
    paths, rows = files["paths"], files["rows"]
    train, evaluation = paths["train"], paths["eval"]
    extra = []
    if case == "no_code":
        train = write_jsonl(tmp_path / "t.jsonl", rows["train"][:5] + [{"symptoms": "кашель", "code": None}])
    elif case == "empty":
        evaluation = write_jsonl(tmp_path / "e.jsonl", [])
    elif case == "unknown_column":
        extra = ["--text-column", "complaint"]
    elif case == "unseen_code":
        evaluation = write_jsonl(tmp_path / "e.jsonl", rows["eval"][:5] + [{"symptoms": "сыпь", "code": "L99"}])
    elif case == "bad_code":
        train = write_jsonl(tmp_path / "t.jsonl", rows["train"][:5] + [{"symptoms": "кашель", "code": "кашель"}])
    elif case == "grid_without_synthetic":
        extra = ["--grid", "--out", tmp_path / "grid"]
    elif case == "synthetic_without_known_codes":
        extra = ["--synthetic", write_jsonl(tmp_path / "s.jsonl", [{"icd10": "Z99.1", "response": "текст"}])]
    elif case == "not_a_classifier":
        extra = ["--classifier", tmp_path / "no-model"]
    elif case == "topup_below_1":
        extra = ["--synthetic", paths["synthetic"], "--topup", 0]
    elif case == "topup_without_synthetic":
        extra = ["--topup", 5]
    elif case == "topup_and_fraction":
        extra = ["--synthetic", paths["synthetic"], "--topup", 5, "--synthetic-fraction", 0.5]
    elif case == "topup_in_grid":
        extra = ["--synthetic", paths["synthetic"], "--topup", 5, "--grid", "--out", tmp_path / "grid"]
    elif case == "empty_synthetic":
        extra = ["--synthetic", write_jsonl(tmp_path / "s.jsonl", [])]
    elif case == "no_synthetic_text_column":
        extra = ["--synthetic", write_jsonl(tmp_path / "s.jsonl", [{"icd10": "J06", "text": "кашель"}])]
    elif case == "bad_view":
        extra = ["--synthetic", paths["synthetic"], "--synthetic-view", "summary"]
    elif case == "empty_candidate_path":
        extra = ["--synthetic", "gpt="]
    elif case == "several_candidates_without_choosing":
        extra = ["--synthetic", f"a={paths['synthetic']}", "--synthetic", f"b={paths['synthetic']}"]
    elif case == "choose_option_without_choosing":
        extra = ["--synthetic", paths["synthetic"], "--choice-rule", "largest"]
    elif case.startswith("choose_") or case.startswith("split_"):
        gpt = f"gpt={paths['synthetic']}"
        extra = ["--choose-on-train", "--out", tmp_path / "grid"] + {
            "choose_without_synthetic": [],
            "choose_same_name_twice": ["--synthetic", gpt, "--synthetic", gpt],
            "choose_in_grid": ["--synthetic", gpt, "--grid"],
            "choose_bad_views": ["--synthetic", gpt, "--synthetic-views", "head,summary"],
            "choose_without_bootstrap": ["--synthetic", gpt],
            "choose_bad_fraction": ["--synthetic", gpt, "--choice-rule", "largest", "--validation-fraction", 1.5],
            "choose_candidate_without_known_codes": [
                *("--synthetic", gpt, "--synthetic", f"other={tmp_path / 's.jsonl'}", "--choice-rule", "largest"),
            ],
            "split_only_without_out": ["--split-only"],
        }[case]
        if case == "choose_candidate_without_known_codes":
            write_jsonl(tmp_path / "s.jsonl", [{"icd10": "Z99.1", "response": "текст"}])
        if case == "split_only_without_out":
            extra = extra[:1] + extra[3:]
    code, out, err = cli(["eval", "icd", "--train", train, "--eval", evaluation, "--bootstrap", 0, *extra], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and re.match(r"medsyn( eval icd)?: error: ", err) and message in err
    assert not (tmp_path / "grid").exists()


def test_drop_unseen_scores_the_other_notes(files, capsys, tmp_path):
    rows = files["rows"]
    evaluation = write_jsonl(tmp_path / "e.jsonl", rows["eval"] + [{"symptoms": "сыпь", "code": "L99"}])
    code, out, _ = cli(
        [
            "eval",
            "icd",
            "--train",
            files["paths"]["train"],
            "--eval",
            evaluation,
            "--drop-unseen",
            "--bootstrap",
            0,
            "--json",
        ],
        capsys,
    )
    result = json.loads(out)
    assert code == 0 and result["eval_dropped"] == 1 and result["n"] == len(rows["eval"])
