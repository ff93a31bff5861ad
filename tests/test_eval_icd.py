"""`medsyn eval icd` on small stratified subsets of the real RuMedTop3 splits and the real MedSyn GPT notes."""

import gzip
import json
import random
from collections import Counter, defaultdict

import numpy as np
import pytest

from conftest import REPO, SOURCES
from medsyn_hf.cli import main
from medsyn_hf.evaluation import icd, icd_classifier
from medsyn_hf.evaluation.icd_data import Notes, category, load_labelled, stratified_sample
from medsyn_hf.evaluation.icd_metrics import icd_scores

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
    train, dev = read_jsonl(SOURCES / "rumedtop3" / "train_v1.jsonl"), read_jsonl(SOURCES / "rumedtop3" / "dev_v1.jsonl")
    gpt = read_jsonl(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz")
    shared = sorted({r["code"] for r in train} & {r["code"] for r in dev} & {category(n["icd10"]) for n in gpt})
    codes = set(shared[::7])
    by_code = defaultdict(list)
    for row in train:
        by_code[row["code"]].append(row)
    rows = {"train": [r for c in sorted(codes) for r in by_code[c][: 20 if len(by_code[c]) > 20 else 10]],
            "eval": [r for r in dev if r["code"] in codes]}
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
    return {"acc1": 100 * sum(p[0] == r for p, r in pairs) / len(pairs),
            "hit3": 100 * sum(r in p[:3] for p, r in pairs) / len(pairs),
            "macro_acc1": 100 * np.mean([np.mean([a for a, _ in v]) for v in per_code.values()]),
            "macro_hit3": 100 * np.mean([np.mean([h for _, h in v]) for v in per_code.values()]),
            "per_code": {c: (100 * np.mean([a for a, _ in v]), 100 * np.mean([h for _, h in v]), len(v))
                         for c, v in per_code.items()}}


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
    everything, on_rare = direct_scores(predictions, references, set(codes)), direct_scores(predictions, references, rare)
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
    from medsyn_hf.errors import MedsynError

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
        for key, value in direct_scores([predictions[i] for i in index], [references[i] for i in index],
                                        set(codes)).items():
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
    train, evaluation = icd_classifier.tfidf(counts[:50], counts[50:80])
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
    fast = icd_classifier.linear_rank(icd_classifier.char_ngram_counts(real.texts), real.codes,
                                      icd_classifier.char_ngram_counts(evaluation.texts))
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


def test_cli_json_end_to_end(files, capsys):
    paths, rows = files["paths"], files["rows"]
    code, out, _ = cli(["eval", "icd", "--train", paths["train"], "--eval", paths["eval"], "--synthetic",
                        paths["synthetic"], "--rare-k", RARE_K, "--bootstrap", 200, "--json"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 1
    result = json.loads(out)
    counts = Counter(r["code"] for r in rows["train"])
    assert result["rare_codes"] == sorted(c for c, n in counts.items() if n < RARE_K) != []
    assert result["train_real"] == len(rows["train"]) and result["n"] == len(rows["eval"])
    assert result["train_synthetic"] == sum(category(n["icd10"]) in counts for n in rows["synthetic"])
    assert result["synthetic_dropped"] == 5
    assert 0 < result["acc1"] <= result["hit3"] <= 100
    assert result["ci"]["acc1"][0] <= result["acc1"] <= result["ci"]["acc1"][1]
    assert result["n_rare"] == sum(r["code"] in result["rare_codes"] for r in rows["eval"])
    assert sum(v["n"] for v in result["per_code"].values()) == result["n"]
    code, text, _ = cli(["eval", "icd", "--train", paths["train"], "--eval", paths["eval"], "--bootstrap", 0], capsys)
    assert code == 0 and "acc@1" in text and "0 synthetic" in text


def test_mini_grid_writes_table_plot_and_runs(files, capsys, tmp_path):
    from PIL import Image

    paths = files["paths"]
    out = tmp_path / "grid"
    code, stdout, _ = cli(["eval", "icd", "--train", paths["train"], "--eval", paths["eval"], "--synthetic",
                           paths["synthetic"], "--grid", "--real-fractions", "0.5,1", "--synthetic-fractions", "0,1",
                           "--seeds", "0,1", "--rare-k", RARE_K, "--bootstrap", 0, "--out", out, "--json"], capsys)
    assert code == 0
    result = json.loads(stdout)
    cells = {(c["real_fraction"], c["synthetic_fraction"]) for c in result["cells"]}
    assert cells == {(0.5, 0.0), (0.5, 1.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)}
    assert (result["baseline"]["real_fraction"], result["baseline"]["synthetic_fraction"]) == (1.0, 0.0)
    saved = json.loads((out / "grid.json").read_text(encoding="utf-8"))
    assert len(saved["runs"]) == 10
    for cell in result["cells"]:
        runs = [r for r in saved["runs"]
                if (r["real_fraction"], r["synthetic_fraction"]) == (cell["real_fraction"], cell["synthetic_fraction"])]
        assert cell["acc1"] == pytest.approx(np.mean([r["acc1"] for r in runs]), abs=0.006)
        assert cell["hit3_std"] == pytest.approx(np.std([r["hit3"] for r in runs]), abs=0.006)
    half = [r for r in saved["runs"] if (r["real_fraction"], r["synthetic_fraction"]) == (0.5, 0.0)]
    assert all(r["train_real"] < len(files["rows"]["train"]) and r["train_synthetic"] == 0 for r in half)
    table = (out / "grid.md").read_text(encoding="utf-8").splitlines()
    assert len(table) == 2 + len(cells) and "real only" in table[2 + 2]
    assert sum("synthetic only" in line for line in table) == 1
    assert "(+" in "".join(table) or "(-" in "".join(table)
    with Image.open(out / "grid.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


def test_transformer_classifier_on_a_tiny_model(files, tiny_model_dir):
    real = load_labelled(files["paths"]["train"], "symptoms", "code")
    evaluation = load_labelled(files["paths"]["eval"], "symptoms", "code")
    experiment = icd.prepare(real, Notes(evaluation.texts[:20], evaluation.codes[:20]))
    rank = icd.make_ranker(experiment, str(tiny_model_dir), epochs=1, batch_size=16, max_length=32)
    predictions = rank(stratified_sample(real.codes, 0.3, 0), 0)
    assert len(predictions) == 20
    assert all(len(p) == 3 == len(set(p)) and set(p) <= set(real.codes) for p in predictions)


@pytest.mark.parametrize("case, message", [
    ("no_code", "rows have no 'code'"),
    ("empty", "no rows"),
    ("unknown_column", "no column 'complaint'"),
    ("unseen_code", "codes no training note has"),
    ("bad_code", "is not an ICD-10 code"),
    ("grid_without_synthetic", "--grid needs --synthetic"),
    ("synthetic_without_known_codes", "no synthetic note has a code"),
    ("not_a_classifier", "neither 'tfidf', 'reference' nor a local model folder"),
])
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
    code, out, err = cli(["eval", "icd", "--train", train, "--eval", evaluation, "--bootstrap", 0, *extra], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("medsyn: error: ") and message in err
    assert not (tmp_path / "grid").exists()


def test_drop_unseen_scores_the_other_notes(files, capsys, tmp_path):
    rows = files["rows"]
    evaluation = write_jsonl(tmp_path / "e.jsonl", rows["eval"] + [{"symptoms": "сыпь", "code": "L99"}])
    code, out, _ = cli(["eval", "icd", "--train", files["paths"]["train"], "--eval", evaluation, "--drop-unseen",
                        "--bootstrap", 0, "--json"], capsys)
    result = json.loads(out)
    assert code == 0 and result["eval_dropped"] == 1 and result["n"] == len(rows["eval"])
