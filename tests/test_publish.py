"""`medsyn publish`: a finished generation run -> a Hub dataset folder that `load_dataset` reads, with a valid card."""

import json
from collections import Counter

import pytest
import yaml

from medsyn_hf.cli import main as medsyn

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LENIENT = {"min_symptom_recall": 0.0, "min_words": 1, "min_cyrillic_share": 0.0, "max_copy_ratio": 1.0}


def generate(tmp_path, model, **filters):
    """Run (or re-run: the shards are reused, only the filters are re-applied) the tiny generation."""
    config = tmp_path / "generate.yaml"
    config.write_text(
        json.dumps(
            {
                "model_name_or_path": str(model),
                "num_priors": 12,
                "shard_size": 6,
                "example_p": 0.5,
                "max_new_tokens": 12,
                "output_dir": str(tmp_path / "runs"),
                "seed": 5,
                "filters": {**LENIENT, **filters},
            }
        ),
        encoding="utf-8",
    )
    assert medsyn(["generate", "--config", str(config)]) == 0
    return tmp_path / "runs" / "latest"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    """12 notes, about half of them too short for the filters (so both splits exist)."""
    import datasets

    tmp = tmp_path_factory.mktemp("publish")
    run = generate(tmp, tiny_model_dir)
    words = sorted(datasets.Dataset.from_parquet(str(run / "notes.parquet"))["n_words"])
    return generate(tmp, tiny_model_dir, min_words=words[len(words) // 2] + 1), tmp


def test_publish_writes_a_hub_folder_that_load_dataset_reads(finished_run, tmp_path, capsys):
    import datasets

    from medsyn_hf.card import validate_card
    from medsyn_hf.schemas import NOTES_COLUMNS_DOC, NOTES_FEATURES

    run, _ = finished_run
    notes = datasets.Dataset.from_parquet(str(run / "notes.parquet"))
    out = tmp_path / "repo"
    assert medsyn(["publish", str(run), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    kept = sum(notes["keep"])
    assert 0 < kept < len(notes) and report["splits"] == {"train": kept, "rejected": len(notes) - kept}

    loaded = datasets.load_dataset(str(out))
    assert {name: len(ds) for name, ds in loaded.items()} == report["splits"]
    assert loaded["train"].features == NOTES_FEATURES
    assert all(loaded["train"]["keep"]) and not any(loaded["rejected"]["keep"])
    assert sorted([*loaded["train"]["idx"], *loaded["rejected"]["idx"]]) == list(range(12))
    assert sorted(loaded["train"]["response"]) == sorted(r for r, k in zip(notes["response"], notes["keep"]) if k)

    card = validate_card(out / "README.md", folder=out)
    meta = card.data.to_dict()
    assert meta["license"] == "cc-by-sa-4.0" and meta["language"] == ["ru"] and meta["size_categories"] == ["n<1K"]
    assert "text-generation" in meta["task_categories"]
    assert meta["configs"][0]["data_files"] == [
        {"split": "train", "path": "data/default/train-*"},
        {"split": "rejected", "path": "data/default/rejected-*"},
    ]
    text = card.text
    assert "![Notes per ICD-10 code](code_distribution.png)" in text
    assert (out / "code_distribution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for code, n in Counter(notes["ICD-10"]).items():
        kept_n = sum(1 for c, k in zip(notes["ICD-10"], notes["keep"]) if c == code and k)
        assert f"| {code} | " in text and f" | {kept_n} | {n} |" in text
    config = json.loads((run / "config.json").read_text())
    blocks = text.split("```yaml\n")
    generation, thresholds = (yaml.safe_load(b.split("```")[0]) for b in blocks[1:3])
    assert generation["max_new_tokens"] == 12 and generation["seed"] == 5 and generation["priors"]["num_priors"] == 12
    assert thresholds["min_words"] == config["script_args"]["filters"]["min_words"]
    assert f"run `{config['run_id']}`" in text
    for column in NOTES_COLUMNS_DOC:
        assert f"| `{column}` |" in text


def test_publish_errors_keep_the_local_folder(finished_run, tiny_model_dir, tmp_path, capsys):
    run, work = finished_run
    out = tmp_path / "repo"
    assert medsyn(["publish", str(run), "--out", str(out)]) == 0
    capsys.readouterr()
    published = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # offline (the test session is): the new folder is pushed before it replaces the old one, so the failed upload
    # (one line) leaves the previous local folder as it was, and no temporary beside it
    assert medsyn(["publish", str(run), "--out", str(out), "--repo-id", "medsyn/ru-notes"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the datasets progress bars
    assert err.startswith("medsyn: error: cannot push") and "HF_HUB_OFFLINE" in err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == published
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]

    assert medsyn(["publish", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a `medsyn generate` run folder" in capsys.readouterr().err

    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    nothing_kept = generate(work, tiny_model_dir, min_words=10**6)
    assert medsyn(["publish", str(nothing_kept), "--out", str(out)]) == 2
    assert "none of its 12 notes passed the filters" in capsys.readouterr().err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # the earlier dataset is intact
