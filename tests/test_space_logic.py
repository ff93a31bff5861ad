"""The demo Space's logic in ``medsyn_hf.space``: its note for a seed is `medsyn generate`'s, its default model, the
path jail around datasets' own config reading, the Hub-id check and the prior's seed (the app's handlers and the
served app are tested in test_space.py)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medsyn_hf.errors import MedsynError
from medsyn_hf.space import browse, inputs, models, priors
from medsyn_hf.space import generate as notes
from medsyn_hf.space.config import Config
from medsyn_hf.validate import is_hub_id

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_demo_note_for_a_seed_is_the_one_medsyn_generate_writes(tiny_model_dir, tmp_path):
    """Seed 5 in the Priors and Generate tabs, and `seed: 5` with the same prior settings in a generate config: the
    same prior, the same prompt, the same note token for token, and the same filter scores."""
    from medsyn_hf.cli import main

    _, prompt, prior = priors.sample("K29", 3, 5, 3.0, priors.MIX, 1)
    outputs = list(notes.generate(Config.make([], tiny_model_dir), prior, models.DEFAULT_MODEL, 0.8, 24, 5))
    streamed = [note for note, _, _ in outputs]
    note, _, checks = outputs[-1]
    assert len(streamed) >= 3 and note and all(b.startswith(a) for a, b in zip(streamed, streamed[1:]))

    config = {
        "model_name_or_path": str(tiny_model_dir),
        "dtype": "float32",
        "num_priors": 3,
        "priors_mode": "random",
        "codes": ["K29"],
        "priors_temperature": 3.0,
        "example_p": 0.5,
        "seed": 5,
        "max_new_tokens": 24,
        "temperature": 0.8,
        "top_p": 0.95,
        "top_k": 50,
        "shard_size": 3,
        "batch_size": 3,
        "output_dir": str(tmp_path / "generate"),
        "filters": {"scrub_pii": False},
    }
    (tmp_path / "generate.yaml").write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    assert main(["generate", "--config", str(tmp_path / "generate.yaml")]) == 0
    row = pq.read_table(tmp_path / "generate" / "latest" / "notes.parquet").to_pylist()[1]
    assert row["prior_seed"] == json.loads(prior)["seed"] and row["ICD-10"] == json.loads(prior)["code"]
    assert prompt.endswith(row["prompt"])
    assert note == row["response"]
    assert checks["symptom_recall"] == row["symptoms_recall"] and checks["copy_ratio"] == row["copy_ratio"]
    # Another seed in the Generate tab, another note (the row key changes with it).
    other = list(notes.generate(Config.make([], tiny_model_dir), prior, models.DEFAULT_MODEL, 0.8, 24, 6))[-1][0]
    assert other != note


def test_the_default_model_is_the_packaged_writer(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/demo/sft here
    monkeypatch.setattr(models, "WRITER_DIR", tiny_model_dir)
    config = Config.make([], None, tmp_path / "cache")
    assert models.resolve_model(config, models.DEFAULT_MODEL) == tiny_model_dir.resolve()
    assert not (tmp_path / "cache").exists()  # nothing built
    bundled = tmp_path / "bundle" / "model"
    bundled.parent.mkdir()
    bundled.symlink_to(tiny_model_dir, target_is_directory=True)
    monkeypatch.setattr(models, "WRITER_DIR", tmp_path / "no-writer")
    assert (
        models.resolve_model(Config.make([], None, tmp_path / "cache", bundled=bundled), "default")
        == tiny_model_dir.resolve()
    )  # a deployed Space's model comes first


def test_a_dataset_config_reaching_outside_its_folder_is_refused(tmp_path):
    root = tmp_path / "data"
    (root / "ds" / "data").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    pq.write_table(pa.table({"code": ["J06.9", "K29.7"]}), root / "ds" / "data" / "inside.parquet")
    pq.write_table(pa.table({"code": ["J06.0"]}), tmp_path / "outside" / "secret.parquet")
    (root / "ds" / "README.md").write_text(
        "---\nconfigs:\n- config_name: ok\n  data_files: data/inside.parquet\n"
        "- config_name: escape\n  data_files: ../../outside/*.parquet\n"
        "- config_name: linked\n  data_files: data/link/*.parquet\n---\n",
        encoding="utf-8",
    )
    (root / "ds" / "data" / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    config = Config.make([root])
    assert browse.dataset_folders(config) == ["data/ds"]
    assert browse.config_names(root / "ds") == ["ok", "escape", "linked"]  # datasets' own reading, the card's order
    rows, summary = browse.browse(config, "data/ds", "ok", "J06", 10)
    assert list(rows["code"]) == ["J06.9"] and summary.startswith("1 of 2 rows with code J06")
    for name in ("escape", "linked"):
        with pytest.raises(MedsynError, match=f"config '{name}' points outside the folder"):
            browse.browse(config, "data/ds", name, "", 10)
    with pytest.raises(MedsynError, match="points outside the folder"):
        browse.card_configs(root / "ds")  # the Config dropdown lists no folder with such a config
    # datasets makes a config of any folder's files: only a dataset folder's (card + data/) are read
    (root / "answers").mkdir()
    pq.write_table(pa.table({"code": ["J06.9"]}), root / "answers" / "key.parquet")
    for folder in ("data/answers", "data/ds/data"):
        with pytest.raises(MedsynError, match="not a published dataset folder"):
            browse.browse(config, folder, "default", "", 10)


def test_hub_ids_are_told_from_paths(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local").mkdir()
    assert is_hub_id("medsyn/llama-2-7b-ru") and is_hub_id("gpt2")
    for name in (str(tiny_model_dir), "local", "../x/y", "a/b/c", "/", "", "bad name", "x--y/..z"):
        assert not is_hub_id(name), name


def test_a_prior_keeps_its_own_seed(kg):
    from medsyn_hf.priors import sample_priors

    prior = json.loads(priors.sample("J06", 2, 0, 3.0, "short", 1)[2])
    drawn = sample_priors(
        kg, 2, seed=0, mode="random", codes=["J06"], temperature=3.0, example_p=0.0, templates={"short": 1.0}
    )
    assert prior["seed"] == drawn["seed"][1]  # the sampler's own seed of the row, which keys its note
    parsed = inputs.parse_prior(json.dumps(prior))
    assert parsed["seed"] == prior["seed"] and isinstance(parsed["seed"], int)
    assert inputs.parse_prior(json.dumps({k: v for k, v in prior.items() if k != "seed"}))["seed"] == 0
    assert inputs.parse_prior(json.dumps({**prior, "seed": -(2**63)}))["seed"] == -(2**63)  # exact, no float
    for seed, message in (
        (2**63, "prior seed must be between"),
        ("x", "prior seed must be a number"),
        (1.5, "prior seed must be a whole number"),
    ):
        with pytest.raises(MedsynError, match=message):
            inputs.parse_prior(json.dumps({**prior, "seed": seed}))
