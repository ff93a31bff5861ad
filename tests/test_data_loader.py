"""The one dataset loader (medsyn_hf.data): every source form, config and split selection, and its one-line errors."""

import datasets
import pytest

from medsyn_hf.cli import main as medsyn
from medsyn_hf.data import (
    category,
    load_dataset,
    load_labelled_notes,
    pick_column,
    read_dataset,
    read_notes,
    role_column,
)
from medsyn_hf.errors import MedsynError


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """The same rows as a parquet file, a JSON-lines file, a save_to_disk folder and a two-config Hub-layout folder."""
    root = tmp_path_factory.mktemp("sources")
    rows = datasets.Dataset.from_dict({"response": ["боль в горле", "кашель"], "ICD-10": ["J06.9", "J20"]})
    rows.to_parquet(str(root / "notes.parquet"))
    rows.to_json(str(root / "notes.jsonl"))
    datasets.DatasetDict({"train": rows, "test": rows.select([0])}).save_to_disk(str(root / "disk"))
    hub = root / "loader-hub"
    for config, part in (("a", rows), ("b", rows.select([1]))):
        (hub / "data" / config).mkdir(parents=True)
        part.to_parquet(str(hub / "data" / config / "train-00000-of-00001.parquet"))
    (hub / "README.md").write_text(
        "---\nconfigs:\n"
        + "".join(f"- config_name: {c}\n  data_files:\n  - split: train\n    path: data/{c}/*.parquet\n" for c in "ab")
        + "---\n",
        encoding="utf-8",
    )
    return root


def test_every_local_form_loads_the_same_rows(sources):
    for name in ("notes.parquet", "notes.jsonl", "disk"):
        data = load_dataset(sources / name)
        assert data["response"] == ["боль в горле", "кашель"] and data["ICD-10"] == ["J06.9", "J20"], name
    assert load_dataset(sources / "disk", "test")["ICD-10"] == ["J06.9"]
    assert load_dataset(sources / "loader-hub", config="b")["response"] == ["кашель"]
    assert isinstance(read_dataset(sources / "loader-hub", "a"), datasets.DatasetDict)
    assert isinstance(read_dataset(sources / "notes.parquet"), datasets.Dataset)


@pytest.mark.parametrize(
    ("source", "split", "config", "message"),
    [
        (
            "missing-folder/x.parquet",
            None,
            None,
            "is neither a local folder nor a reachable Hub dataset (no such file",
        ),
        (
            "someone/no-such-dataset",
            None,
            None,
            "someone/no-such-dataset is neither a local folder nor a reachable Hub dataset (HF_HUB_OFFLINE is set)",
        ),
        ("loader-hub", None, "zzz", "no config 'zzz' (configs: a, b)"),
        ("loader-hub", "test", "a", "no split 'test' (have train)"),
        ("disk", None, "a", "a save_to_disk folder has no configs"),
        ("notes.parquet", None, "a", "a single file has no configs"),
        ("", None, None, "no dataset given"),
    ],
)
def test_bad_sources_are_one_line(sources, monkeypatch, source, split, config, message):
    monkeypatch.chdir(sources)
    with pytest.raises(MedsynError, match="^[^\n]*$") as err:
        load_dataset(source, split, config)
    assert message in str(err.value)


def test_a_rebuilt_folder_loads_its_new_rows(tmp_path):
    """datasets caches a Hub-layout folder by its name and card: without a cache per version of the files, the
    second load would return the first folder's rows."""
    for rows in (["один"], ["два", "три"]):
        folder = tmp_path / "same-name"
        (folder / "data").mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_dict({"text": rows}).to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
        (folder / "README.md").write_text(
            "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n",
            encoding="utf-8",
        )
        assert load_dataset(folder)["text"] == rows


def test_unreadable_and_empty_files(sources, tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    datasets.Dataset.from_dict({"x": []}).to_parquet(str(tmp_path / "none.parquet"))
    for name, message in (
        ("notes.csv", "not a dataset folder"),
        ("broken.parquet", "cannot read it as a dataset"),
        ("empty.jsonl", "has no rows"),
        ("none.parquet", "has no rows"),
    ):
        with pytest.raises(MedsynError, match=message):
            load_dataset(tmp_path / name)


def test_the_cli_prints_a_loader_error_as_one_line(capsys):
    assert medsyn(["eval", "prompt-following", "someone/no-such-dataset"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "medsyn: error: someone/no-such-dataset is neither a local folder nor a reachable Hub dataset "
        "(HF_HUB_OFFLINE is set)\n"
    )


def test_pick_column(sources):
    data = load_dataset(sources / "notes.parquet").add_column("n", [1, 2])
    assert pick_column(data, None, ("text", "response"), "text", "s", flag="--text-column") == "response"
    assert pick_column(data, "ICD-10", (), "code", "s", flag="--code-column") == "ICD-10"
    assert pick_column(data, None, ("n", "response"), "text", "s", flag="--x", strings=True) == "response"
    assert pick_column(data, None, ("n",), "text", "s", flag="--x", required=False) == "n"
    assert pick_column(data, None, ("text",), "text", "s", flag="--x", required=False) is None
    with pytest.raises(MedsynError, match=r"^s: no column 'note' \(columns: response, ICD-10, n\)$"):
        pick_column(data, "note", (), "text", "s", flag="--x")
    with pytest.raises(MedsynError, match=r"no text column \(n; columns: response, ICD-10, n\); name it with --x$"):
        pick_column(data, None, ("n",), "text", "s", flag="--x", strings=True)


def test_columns_by_role_in_one_order():
    """Our schemas' names first (notes' ICD-10, instruction data's icd10, priors' code), then the others'; a role's
    column holds strings; what is excluded or named explicitly wins."""
    data = datasets.Dataset.from_dict(
        {"code": ["J06"], "icd10": ["J20"], "ICD-10": [None], "symptoms": ["кашель"], "text": ["t"], "example": [True]}
    )
    assert role_column(data, "code", None, "s", flag="--c") == "icd10"  # ICD-10 holds no strings here
    assert role_column(data, "code", "code", "s", flag="--c") == "code"
    assert role_column(data, "text", None, "s", flag="--t") == "text"
    assert role_column(data, "text", None, "s", flag="--t", exclude=["text"]) == "symptoms"
    assert role_column(data, "example_text", None, "s", flag="--e", required=False) is None  # a flag, not a text
    numbers = datasets.Dataset.from_dict({"code": [1], "response": ["t"]})
    with pytest.raises(MedsynError, match=r"no ICD-10 code column \(ICD-10 or icd10 or code; .*name it with --c$"):
        role_column(numbers, "code", None, "s", flag="--c")
    assert [category(c) for c in ("j06.9", " K29 ", "A00")] == ["J06", "K29", "A00"]
    with pytest.raises(MedsynError, match="not an ICD-10 code"):
        category("J6")


def test_notes_are_the_kept_ones_and_a_run_folder_is_read(tmp_path):
    """keep false: dropped (apart, for the plan); a published folder's rejected split is dropped too; a `medsyn
    generate` run folder is read as its notes.parquet."""
    rows = datasets.Dataset.from_dict(
        {"response": ["а", "б", "в"], "ICD-10": ["J06", "J20", "K29"], "keep": [True, False, True]}
    )
    rows.to_json(str(tmp_path / "notes.jsonl"))
    kept, dropped = read_notes(tmp_path / "notes.jsonl")
    assert kept["response"] == ["а", "в"] and [d["ICD-10"] for d in dropped] == [["J20"]]
    assert load_labelled_notes(tmp_path / "notes.jsonl") == (["а", "в"], ["J06", "K29"])
    run = tmp_path / "run"
    run.mkdir()
    rows.to_parquet(str(run / "notes.parquet"))
    (run / "config.json").write_text("{}", encoding="utf-8")
    assert read_notes(run)[0]["ICD-10"] == ["J06", "K29"]
    published = tmp_path / "published"
    datasets.DatasetDict({"train": rows.select([0, 2]), "rejected": rows.select([1])}).save_to_disk(str(published))
    kept, dropped = read_notes(published)
    assert kept["ICD-10"] == ["J06", "K29"] and sorted(c for d in dropped for c in d["ICD-10"]) == ["J20"]
    assert read_notes(tmp_path / "notes.jsonl")[1] is not None and read_notes(run)[1] is not None
    plain = datasets.Dataset.from_dict({"text": ["x"], "code": ["A00"]})
    plain.to_json(str(tmp_path / "plain.jsonl"))
    assert read_notes(tmp_path / "plain.jsonl")[1] is None
    rows.map(lambda r: {"keep": False}).to_json(str(tmp_path / "none.jsonl"))
    with pytest.raises(MedsynError, match="no note passed the filters"):
        read_notes(tmp_path / "none.jsonl")
