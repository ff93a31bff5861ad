"""`medsyn eval prompt-following` on a sample of the real MedSyn GPT notes, in every dataset layout it reads."""

import argparse
import json

import pytest

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation import prompt_following as pf
from medsyn_hf.filters import copy_ratio, symptom_recall

COLUMNS = ["icd10", "symptoms", "gender", "generation_model", "response"]


def run(argv, capsys):
    """The subcommand through an `eval`-style parser, as medsyn_hf.evaluation.cli wires it."""
    parser = argparse.ArgumentParser(prog="medsyn eval")
    pf.add_cli(parser.add_subparsers(dest="eval_command", required=True))
    args = parser.parse_args(["prompt-following", *map(str, argv)])
    code = args.func(args)
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def sample(gpt_notes_sample):
    import datasets

    return datasets.Dataset.from_list([{c: n[c] for c in COLUMNS} for n in gpt_notes_sample])


@pytest.fixture(scope="module")
def layouts(sample, tmp_path_factory):
    """The same notes as a JSON-lines.gz file, a parquet file, a save_to_disk folder and a Hub-layout folder."""
    root = tmp_path_factory.mktemp("layouts")
    sample.to_json(str(root / "notes.jsonl.gz"), force_ascii=False, compression="gzip")
    sample.to_parquet(str(root / "notes.parquet"))
    sample.save_to_disk(str(root / "saved"))
    (root / "hub" / "data").mkdir(parents=True)
    sample.to_parquet(str(root / "hub" / "data" / "train-00000-of-00001.parquet"))
    (root / "hub" / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        "    path: data/train-*.parquet\n---\n",
        encoding="utf-8",
    )
    return root


def test_json_summary_per_model_matches_the_filter_functions(sample, layouts, capsys):
    code, out = run([layouts / "notes.jsonl.gz", "--json"], capsys)
    assert code == 0 and out.count("\n") == 1
    result = json.loads(out)
    assert result["n"] == len(sample) and result["group_by"] == ["generation_model"]
    assert result["overall"]["copy_ratio"] is None  # the GPT notes had no example note
    for model in ("gpt-4", "gpt-3.5-turbo"):
        rows = sample.select([i for i, g in enumerate(sample["generation_model"]) if g == model])
        recall = sorted(symptom_recall(r["response"], r["symptoms"]) for r in rows)
        stats = result["groups"][model]["symptom_recall"]
        assert stats["n"] == len(rows)
        assert stats["mean"] == pytest.approx(sum(recall) / len(recall), abs=1e-4)
        assert recall[0] <= stats["p10"] <= stats["median"] <= stats["p90"] <= recall[-1]
        assert result["groups"][model]["all_symptoms"] == pytest.approx(recall.count(1.0) / len(recall), abs=1e-4)


@pytest.mark.parametrize("layout", ["notes.parquet", "saved", "hub"])
def test_every_layout_gives_the_same_summary(layout, layouts, capsys):
    _, expected = run([layouts / "notes.jsonl.gz", "--json"], capsys)
    _, out = run([layouts / layout, "--json"], capsys)
    assert {**json.loads(out), "dataset": None} == {**json.loads(expected), "dataset": None}


def test_markdown_table_groups_and_out_files(layouts, tmp_path, capsys):
    code, table = run([layouts / "saved", "--group-by", "generation_model,gender", "--out", tmp_path], capsys)
    assert code == 0
    rows = [line for line in table.splitlines() if line.startswith("| gpt")]
    assert sorted(r.split(" | ")[0] for r in rows) == [
        "| gpt-3.5-turbo / female",
        "| gpt-3.5-turbo / male",
        "| gpt-4 / female",
        "| gpt-4 / male",
    ]
    assert table.splitlines()[-1].startswith("| **all** | 115 |")
    assert (tmp_path / "prompt_following.md").read_text(encoding="utf-8") == table
    assert json.loads((tmp_path / "prompt_following.json").read_text(encoding="utf-8"))["n"] == 115
    assert (tmp_path / "prompt_following.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_copy_ratio_is_summarised_over_notes_with_an_example(sample):
    notes = sample["response"]
    examples = [notes[i] if i % 3 == 0 else (notes[i][:400] if i % 3 == 1 else None) for i in range(len(notes))]
    data = sample.add_column("example", examples)
    result = pf.prompt_following(data, group_by=[])
    copied = [copy_ratio(n, e, 5, s) for n, e, s in zip(notes, examples, sample["symptoms"]) if e]
    stats = result["overall"]["copy_ratio"]
    assert list(result["groups"]) == ["all"] and result["example_column"] == "example"
    assert stats["n"] == len(copied) and stats["mean"] == pytest.approx(sum(copied) / len(copied), abs=1e-4)
    assert stats["p90"] == 1.0  # a third of the notes are their own example
    assert "| all | 115 |" in pf.markdown_table(result)


def test_splits(sample, tmp_path, capsys):
    import datasets

    splits = datasets.DatasetDict({"a": sample.select(range(10)), "b": sample.select(range(20))})
    splits.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(MedsynError, match="several splits"):
        run([tmp_path / "dd"], capsys)
    _, out = run([tmp_path / "dd", "--split", "b", "--json"], capsys)
    assert json.loads(out)["n"] == 20
    with pytest.raises(MedsynError, match="no split 'c'"):
        run([tmp_path / "dd", "--split", "c"], capsys)


def test_bad_input_is_one_clear_error(sample, layouts, tmp_path, capsys):
    with pytest.raises(MedsynError, match="no such file"):
        run([tmp_path / "missing.parquet"], capsys)
    with pytest.raises(MedsynError, match="column 'note' not in the dataset"):
        run([layouts / "notes.parquet", "--text-column", "note"], capsys)
    with pytest.raises(MedsynError, match="column 'template' not in"):
        run([layouts / "notes.parquet", "--group-by", "template"], capsys)
    with pytest.raises(MedsynError, match="column 'example' not in"):
        run([layouts / "notes.parquet", "--example-column", "example"], capsys)
    sample.select([]).to_parquet(str(tmp_path / "empty.parquet"))
    with pytest.raises(MedsynError, match="no rows"):
        run([tmp_path / "empty.parquet"], capsys)
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(MedsynError, match="not a dataset folder"):
        run([tmp_path / "notes.csv"], capsys)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(MedsynError, match="cannot read"):
        run([tmp_path / "empty_dir"], capsys)


def test_notes_take_the_example_text_from_anamnesis_not_the_boolean_flag(sample, capsys, tmp_path):
    """Published notes (NOTES_FEATURES) keep MedSyn's boolean `example` flag and the example note in `anamnesis`."""
    notes = sample["response"]
    examples = [notes[i][:300] if i % 2 == 0 else None for i in range(len(notes))]
    data = sample.add_column("example", [e is not None for e in examples]).add_column("anamnesis", examples)
    result = pf.prompt_following(data, group_by=[])
    copied = [copy_ratio(n, e, 5, s) for n, e, s in zip(notes, examples, sample["symptoms"]) if e]
    assert result["example_column"] == "anamnesis" and result["overall"]["copy_ratio"]["n"] == len(copied)
    assert result["overall"]["copy_ratio"]["mean"] == pytest.approx(sum(copied) / len(copied), abs=1e-4)
    data.to_parquet(str(tmp_path / "notes.parquet"))
    with pytest.raises(MedsynError, match="example column 'example' holds bool values, not the example note's text"):
        run([tmp_path / "notes.parquet", "--example-column", "example"], capsys)
