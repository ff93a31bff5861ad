"""A published notes dataset can be made again from its own repository: `config.json` (the run's arguments, no
paths of the machine that made it), `generate.yaml` and the input files it read, and the card's re-run commands
give the same notes, byte for byte. The card names its sources and their licences, shows a sample record, and every
column it names is a column of the dataset."""

import dataclasses
import json
import re
import shlex
import shutil

import pytest
import yaml
from conftest import REPO

from medsyn_hf.cli import main as medsyn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The packaged writer on 10 priors (some with a RuMedTop3 example), a symptom list file read from outside the
    repository, published to `ru-notes`."""
    import os

    work = tmp_path_factory.mktemp("reproduce")
    lists = work / "elsewhere" / "lists.yaml"
    lists.parent.mkdir()
    shutil.copy(REPO / "recipes" / "priors" / "symptom_lists.yaml", lists)
    config = work / "generate.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": "medsyn-tiny",
                "num_priors": 10,
                "shard_size": 5,
                "example_p": 0.5,
                "codes": ["J06.9", "K29", "J20"],
                "priors_symptom_lists": str(lists),
                "max_new_tokens": 16,
                "output_dir": str(work / "runs"),
                "seed": 7,
                "filters": {"min_symptom_recall": 0.0, "min_words": 1, "max_copy_ratio": 1.0},
            }
        ),
        encoding="utf-8",
    )
    assert medsyn(["generate", "--config", str(config)]) == 0
    out = work / "ru-notes"
    assert medsyn(["publish", str(work / "runs" / "latest"), "--out", str(out)]) == 0
    assert os.getcwd() != str(work)
    return out, work


def test_the_dataset_carries_its_config_recipe_and_inputs_without_local_paths(published):
    import datasets

    out, work = published
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    run = json.loads((work / "runs" / "latest" / "config.json").read_text(encoding="utf-8"))
    assert config["run_id"] == run["run_id"] and config["local"] == []
    assert config["model_args"]["model_name_or_path"] == "medsyn-tiny"
    assert config["script_args"]["priors_symptom_lists"] == "inputs/lists.yaml"
    assert (out / "inputs" / "lists.yaml").read_bytes() == (work / "elsewhere" / "lists.yaml").read_bytes()
    assert config["command"] == [
        "medsyn generate --config generate.yaml",
        "medsyn publish runs/generate/latest --out ru-notes",
    ]
    assert "ignore_bias_buffers" not in config["script_args"] and "lora_r" not in config["model_args"]
    assert "base_url" not in config["generation_args"]  # the openai backend's settings: not this run's backend
    recipe = yaml.safe_load((out / "generate.yaml").read_text(encoding="utf-8"))
    assert recipe == {**config["script_args"], **config["generation_args"], **config["model_args"]}
    for name in ("config.json", "generate.yaml", "README.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert str(work) not in text and str(REPO) not in text and "/tmp" not in text, name
    assert len(datasets.load_dataset(str(out), split="train")) == sum(
        datasets.Dataset.from_parquet(str(work / "runs" / "latest" / "notes.parquet"))["keep"]
    )


def test_the_cards_commands_remake_the_same_notes(published, tmp_path, monkeypatch):
    out, _ = published
    copy = tmp_path / "clone"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".medsyn-output.json"))
    card = (copy / "README.md").read_text(encoding="utf-8")
    commands = re.search(r"## Reproduce\n.*?```bash\n(.*?)```", card, re.S).group(1).strip().splitlines()
    assert commands == json.loads((out / "config.json").read_text(encoding="utf-8"))["command"]
    monkeypatch.chdir(copy)
    for command in commands:
        assert medsyn(shlex.split(command)[1:]) == 0
    remade = copy / "ru-notes"
    for part in sorted(p.relative_to(out) for p in (out / "data").rglob("*.parquet")):
        assert (remade / part).read_bytes() == (out / part).read_bytes(), part
    assert (remade / "config.json").read_bytes() == (out / "config.json").read_bytes()


def test_the_card_names_sources_licences_a_sample_and_citations(published):
    import datasets

    out, _ = published
    card = (out / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---")[1])
    assert "extended|rumedtop3_train" in meta["source_datasets"] and meta["license"] == "cc-by-sa-4.0"
    provenance = card.split("## Provenance and licences")[1]
    rumedtop3 = r"\| `rumedtop3_train` \| RuMedTop3 train.*\| Apache-2\.0 \| the real example notes of \d+"
    assert re.search(rumedtop3, provenance)
    assert "| `medsyn_gpt_notes` |" in provenance and "| MIT |" in provenance
    assert "| `ru_wikipedia` |" in provenance and "CC BY-SA" in provenance  # the packaged writer's training text
    assert "**CC BY-SA 4.0**" in provenance and "stay Apache-2.0" in provenance
    sample = json.loads(re.search(r"## Sample record\n.*?```json\n(.*?)```", card, re.S).group(1))
    first = datasets.load_dataset(str(out), split="train")[0]
    assert sample["idx"] == first["idx"] and sample["ICD-10"] == first["ICD-10"]
    assert set(sample) == set(first) and sample["response"] == first["response"][:400] + (
        "…" if len(first["response"]) > 400 else ""
    )
    citation = card.split("## Citation")[1]
    assert "doi       = {10.1007/978-3-031-70381-2_14}" in citation and "@software{medsyn_hf," in citation
    assert "@misc{blinov2022rumedbench," in citation


def named(card: str) -> set[str]:
    """What the card's text names in `code` spans (outside code blocks), each cut at ': ' (`name: value`)."""
    body = re.sub(r"```.*?```", "", card.split("---", 2)[2], flags=re.S)
    return {span.split(": ")[0] for span in re.findall(r"`([^`\n]+)`", body)}


def test_every_column_the_card_names_is_a_column(published):
    """Every identifier the card shows in backticks is a column of the dataset, or one of the other names the card
    speaks of (splits, filter reasons and thresholds, sources, the generate config's keys, the run and model): a
    wrong column name (a filter's own `symptom_recall` for the notes' `symptoms_recall`, priors' `code` for `ICD-10`)
    fails."""
    import datasets

    from medsyn_hf.filters import REGISTRY
    from medsyn_hf.generation.config import GenerateScriptArguments
    from medsyn_hf.provenance import SOURCES

    out, _ = published
    data = datasets.load_dataset(str(out))
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    others = {
        *data,
        *(r for f in REGISTRY.values() for r in f.reasons),
        *(t for f in REGISTRY.values() for t in f.thresholds),
        *SOURCES,
        *(f.name for f in dataclasses.fields(GenerateScriptArguments)),
        config["run_id"],
        "medsyn-tiny",
    }
    identifiers = {n for n in named((out / "README.md").read_text(encoding="utf-8")) if re.fullmatch(r"[\w-]+", n)}
    columns = set(data["train"].column_names)
    assert {"symptoms_recall", "ICD-10", "anamnesis", "copy_ratio"} <= identifiers
    assert sorted(identifiers - columns - others) == []
    assert "symptom_recall" not in identifiers and "code" not in identifiers and "judge_score" not in identifiers


def test_the_recipe_names_a_local_model_by_its_name(tmp_path):
    """A local model folder becomes its name and is flagged, so the card says what to provide to re-run."""
    from medsyn_hf.generation.reproduce import run_recipe
    from medsyn_hf.tiny_model import PACKAGED_WRITERS, WRITER_DIR, WRITER_NAME

    model = tmp_path / "outputs" / "sft-llama"
    model.mkdir(parents=True)
    run = {
        "run_id": "abc",
        "script_args": {"num_priors": 3, "output_dir": str(tmp_path / "runs"), "dataset_name": str(tmp_path)},
        "generation_args": {"backend": "transformers", "seed": 0, "batch_size": 8, "base_url": "http://x"},
        "model_args": {"model_name_or_path": str(model), "adapter_name_or_path": None, "lora_r": 8},
    }
    config, files = run_recipe(run, "notes", ["--license", "llama2"])
    assert config["model_args"] == {"model_name_or_path": "sft-llama", "adapter_name_or_path": None}
    assert config["local"] == ["model_name_or_path", "dataset_name"] and config["script_args"]["dataset_name"] == (
        tmp_path.name
    )
    assert config["script_args"]["output_dir"] == "runs/generate" and "base_url" not in config["generation_args"]
    assert config["command"][1] == "medsyn publish runs/generate/latest --out notes --license llama2"
    assert str(tmp_path) not in b"".join(files.values()).decode()
    run["script_args"]["dataset_name"] = "medsyn/priors"
    for name, folder in PACKAGED_WRITERS.items():  # a packaged writer is a name anyone can run, not a local model
        run["model_args"]["model_name_or_path"] = str(folder)
        config = run_recipe(run, "notes")[0]
        assert config["local"] == [] and config["model_args"]["model_name_or_path"] == name
    assert PACKAGED_WRITERS[WRITER_NAME] == WRITER_DIR
