"""The recipes as TRL reads them: `trl sft` trains the tiny recipe, TRL's own parser reads every SFT recipe, the CPU
accelerate config runs both recipe scripts, and the model card carries what TRL and PEFT write."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO

TINY_SFT = REPO / "recipes" / "tiny" / "sft" / "config.yaml"
CPU_CONFIG = REPO / "recipes" / "accelerate_configs" / "cpu.yaml"
SFT_RECIPES = sorted((REPO / "recipes").glob("*/sft/config*.yaml"))
# The scaled-down run: 2 short steps of 2 rows, no checkpoints; the saved model is what must come out.
SHORT = [
    "--max_steps",
    "2",
    "--max_length",
    "128",
    "--per_device_train_batch_size",
    "2",
    "--save_strategy",
    "no",
    "--logging_steps",
    "1",
    "--disable_tqdm",
    "true",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def test_trl_sft_trains_the_tiny_recipe(tmp_path, tiny_model_dir, ift_dir):
    """TRL's own CLI and script (`trl/scripts/sft.py` under `accelerate launch`) on our recipe file, as is."""
    trl = Path(sys.executable).with_name("trl")
    out = tmp_path / "trl-out"
    proc = run(
        [
            str(trl),
            "sft",
            "--config",
            str(TINY_SFT),
            "--model_name_or_path",
            str(tiny_model_dir),
            "--dataset_name",
            str(ift_dir),
            "--output_dir",
            str(out),
            *SHORT,
        ],
        cwd=tmp_path,
    )
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file(), sorted(os.listdir(out))
    logged = [json.loads(line.replace("'", '"')) for line in proc.stdout.splitlines() if line.startswith("{'loss'")]
    assert len(logged) == 2, proc.stdout[-2000:]  # two optimizer steps, each logged with its loss


@pytest.mark.parametrize("config", SFT_RECIPES, ids=lambda p: p.parts[-3])
def test_trl_parser_reads_every_sft_recipe(config):
    """TRL's parser (`trl sft`'s) on each recipe: every key is TRL's (an unknown one would be handed to `accelerate
    launch`, which rejects it), and `--dataset_name` on the command line replaces the recipe's dataset."""
    from trl.scripts.sft import make_parser

    args = ["--config", str(config), "--use_cpu", "true"]
    script, training, model, mixture, left, _ = make_parser().parse_args_and_config(
        args, return_remaining_strings=True, separate_remaining_strings=True
    )
    assert training.completion_only_loss and training.max_length and left == []
    assert script.dataset_name == "outputs/ift" and not mixture.datasets  # so nothing masks dataset_name
    assert script.dataset_config == ("note_writing" if config == TINY_SFT else "all")
    moved = make_parser().parse_args_and_config([*args, "--dataset_name", "runs/my-ift"])[0]
    assert moved.dataset_name == "runs/my-ift"


def test_mixture_is_trls_with_a_seeded_test_split(tmp_path, ift_dir):
    """TRL's keys mean what they mean under `trl sft` (its own `get_dataset` loads them); our one change is the test
    split drawn with the seed."""
    from trl import DatasetMixtureConfig, get_dataset

    from medsyn_hf.training.configs import ScriptArguments
    from medsyn_hf.training.data import get_dataset as ours

    entries = [
        {"path": str(ift_dir), "name": "note_writing", "split": "train[:50%]"},
        {"path": str(ift_dir), "name": "complaint_to_icd", "split": "train+train"},
    ]
    args = ScriptArguments(datasets=entries, test_split_size=0.1)
    data, sources = ours(args, seed=1)
    assert sources == [
        (str(ift_dir), "note_writing", "train[:50%]", None),
        (str(ift_dir), "complaint_to_icd", "train+train", None),
    ]
    again = ours(ScriptArguments(datasets=entries, test_split_size=0.1), seed=1)[0]
    assert list(again["test"]["completion"]) == list(data["test"]["completion"])
    theirs = get_dataset(DatasetMixtureConfig(datasets=ScriptArguments(datasets=entries).datasets))["train"]
    mixed = [*data["train"]["completion"], *data["test"]["completion"]]
    assert sorted(map(str, theirs["completion"])) == sorted(map(str, mixed))
    shares = ScriptArguments(datasets=[e | {"fraction": 0.5} for e in entries])
    train = ours(shares)[0]["train"]
    assert len(train) == 60 and train.column_names == ["prompt", "completion"]  # 30 + 30: capped by the smaller


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"dataset_mixture": {"datasets": [{"config": "note_writing", "weight": 0.5}]}},
            "dataset_mixture: replaced by TRL's mixture keys",
        ),
        (
            {"datasets": [{"path": "x", "name": "note_writing", "weight": 1}]},
            "unknown key(s) ['weight'] in datasets[0]",
        ),
        ({"datasets": [{"name": "note_writing"}]}, "datasets[0]: no `path`"),
        ({"datasets": [{"path": "x", "fraction": 0.5}, {"path": "y"}]}, "`fraction` must be set for every entry"),
        ({"datasets": [{"path": "x", "fraction": 0}]}, "fraction of x:None: 0 is out of range"),
        ({"datasets": [{"path": "IFT", "name": "no_such_task"}]}, "no config 'no_such_task'"),
    ],
)
def test_bad_mixture_is_one_line_error(tmp_path, tiny_model_dir, ift_dir, capsys, changes, message):
    from medsyn_hf.cli import main as medsyn

    config = yaml.safe_load(TINY_SFT.read_text(encoding="utf-8"))
    config.update(
        model_name_or_path=str(tiny_model_dir),
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        **yaml.safe_load(yaml.safe_dump(changes).replace("IFT", str(ift_dir))),
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert medsyn(["sft", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medsyn: error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_sft_help_shows_trls_mixture_keys(capsys):
    from medsyn_hf.cli import main as medsyn

    with pytest.raises(SystemExit) as exit_:
        medsyn(["sft", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--datasets DATASETS" in out and "--test_split_size" in out, out[-500:]


def card_args(use_peft: bool, base: str, max_steps: int = -1):
    from transformers.trainer_utils import SchedulerType

    training = SimpleNamespace(
        learning_rate=2e-5,
        lr_scheduler_type=SchedulerType.COSINE,
        warmup_steps=100,
        num_train_epochs=3.0,
        max_steps=max_steps,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=8,
        max_length=2048,
        packing=True,
        completion_only_loss=True,
        train_sampling_strategy="random",
        optim="adamw_torch",
        weight_decay=0.0,
        bf16=True,
        activation_checkpointing=False,
        seed=0,
        world_size=8,
        hub_model_id=None,
    )
    model = SimpleNamespace(
        model_name_or_path=base,
        use_peft=use_peft,
        lora_r=16,
        lora_alpha=16,
        lora_dropout=0.05,
        lora_target_modules=["q_proj"],
        lora_modules_to_save=None,
    )
    return training, model


def test_model_card_carries_trl_and_peft_metadata(tmp_path):
    from huggingface_hub import ModelCard

    from medsyn_hf.training.model_card import write_model_card

    training, model = card_args(True, "meta-llama/Llama-2-7b-hf")
    data = tmp_path / "ift-build"
    data.mkdir()
    sources = [("medsyn/ift", "note_writing", "train", None), (str(data), "complaint_to_icd", "train", None)]
    recipe = tmp_path / "lora.yaml"  # a recipe naming a local dataset by its absolute path, with a comment
    recipe.write_text(f"# LoRA on LLaMA-2\nmodel_name_or_path: meta-llama/Llama-2-7b-hf\ndataset_name: {data}\n")
    argv = ["--config", str(recipe), "--output_dir", str(tmp_path / "lora"), "--seed", "5"]
    (tmp_path / "lora").mkdir()
    write_model_card(tmp_path / "lora", None, training, model, sources, {"train_loss": 1.5}, argv)
    card = ModelCard.load(tmp_path / "lora" / "README.md")
    meta = card.data.to_dict()
    assert meta["license"] == "llama2"  # the base model's
    assert "medsyn sft --config recipe.yaml --output_dir lora --seed 5" in card.text
    saved = (tmp_path / "lora" / "recipe.yaml").read_text()
    assert saved == "# LoRA on LLaMA-2\nmodel_name_or_path: meta-llama/Llama-2-7b-hf\ndataset_name: ift-build\n"
    assert str(tmp_path) not in card.text and "| `ift-build` | complaint_to_icd |" in card.text
    assert "@inproceedings{kumichev2024medsyn," in card.text and "@software{medsyn_hf," in card.text
    assert "AutoPeftModelForCausalLM.from_pretrained(model_id)" in card.text
    assert meta["base_model"] == "meta-llama/Llama-2-7b-hf" and meta["library_name"] == "peft"
    assert meta["model_name"] == "lora" and meta["datasets"] == ["medsyn/ift"]  # local folders stay out of metadata
    assert {
        "trl",
        "sft",
        "generated_from_trainer",
        "lora",
        "transformers",
        "base_model:adapter:meta-llama/Llama-2-7b-hf",
    } <= set(meta["tags"])
    text = card.text
    assert "| lr_scheduler_type | `cosine` |" in text and "SchedulerType" not in text
    assert "| num_train_epochs | `3.0` |" in text and "max_steps" not in text
    from importlib.metadata import version

    lines = {
        "peft": "- PEFT {}",
        "trl": "- TRL: {}",
        "transformers": "- Transformers: {}",
        "torch": "- Pytorch: {}",
        "datasets": "- Datasets: {}",
        "tokenizers": "- Tokenizers: {}",
    }  # PEFT's spelling, then TRL's
    for package, line in lines.items():
        assert line.format(version(package)) in text.splitlines(), line
    assert "@software{vonwerra2020trl," in text and "title   = {{TRL: Transformers Reinforcement Learning}}" in text

    training, model = card_args(False, str(data), max_steps=100)  # a local base: no base_model, no adapter tag
    write_model_card(tmp_path / "full", None, training, model, sources[1:], {}, [])
    card = ModelCard.load(tmp_path / "full" / "README.md")
    assert "base_model" not in card.data.to_dict() and card.data.library_name == "transformers"
    assert card.data.license is None and "The base model `ift-build`'s licence applies" in card.text
    assert "AutoModelForCausalLM.from_pretrained(model_id)" in card.text and str(tmp_path) not in card.text
    assert not any(t.startswith("base_model:") or t == "lora" for t in card.data.tags)
    assert "| max_steps | `100` |" in card.text and "num_train_epochs" not in card.text and "- PEFT" not in card.text


@pytest.mark.parametrize(
    "base, license",
    [
        ("meta-llama/Llama-2-7b-hf", "llama2"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3.1"),
        ("meta-llama/Llama-3.3-70B-Instruct", "llama3.3"),
        ("meta-llama/Meta-Llama-3-8B", "llama3"),
        ("Qwen/Qwen2.5-7B-Instruct", "apache-2.0"),
        ("Qwen/Qwen2.5-3B-Instruct", None),  # Qwen's research licence, not Apache-2.0: the card says "see its card"
        ("someone/unknown-7b", None),
    ],
)
def test_base_licence(base, license):
    from medsyn_hf.training.model_card import base_license

    assert base_license(base) == license


def test_the_packaged_writer_is_a_base_with_its_own_licence():
    from medsyn_hf.provenance import WRITER_LICENSE
    from medsyn_hf.tiny_model import WRITER_DIR
    from medsyn_hf.training.model_card import base_license, shown

    assert base_license(str(WRITER_DIR)) == WRITER_LICENSE and shown(str(WRITER_DIR)) == "medsyn-tiny"


def test_adapter_records_an_absolute_base_path(tmp_path, tiny_model_dir, ift_dir):
    """A relative `model_name_or_path` (as the recipes write it) is saved absolute in adapter_config.json, so the
    adapter loads from any folder."""
    import shutil

    from peft import AutoPeftModelForCausalLM

    from medsyn_hf.training.sft import main, parse_args

    shutil.copytree(tiny_model_dir, tmp_path / "base")
    config = yaml.safe_load(TINY_SFT.read_text(encoding="utf-8"))
    config.update(
        model_name_or_path="base",
        dataset_name=str(ift_dir),
        output_dir=str(tmp_path / "out"),
        use_peft=True,
        lora_r=4,
        lora_alpha=8,
        lora_target_modules=["q_proj", "v_proj"],
        max_steps=1,
        max_length=128,
        per_device_train_batch_size=2,
        save_strategy="no",
        disable_tqdm=True,
    )
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        main(*parse_args(["--config", "c.yaml"]))
    finally:
        os.chdir(cwd)
    adapter = json.loads((tmp_path / "out" / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["base_model_name_or_path"] == str(tmp_path / "base")
    assert AutoPeftModelForCausalLM.from_pretrained(tmp_path / "out") is not None  # loads from another folder
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "library_name: peft" in card and "- PEFT " in card and "| max_steps | `1` |" in card


@pytest.mark.slow  # ~1 min: two launches; README's demo (test_readme) runs the generate one in every run
def test_cpu_accelerate_config_runs_both_recipes(tmp_path, tiny_model_dir, ift_dir):
    """`recipes/accelerate_configs/cpu.yaml` (what `accelerate config` writes for CPU: distributed_type NO, use_cpu)
    under `accelerate launch` with recipes/sft.py and recipes/generate.py (the demo's path), scaled down."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CPU_CONFIG)]
    sft_out = tmp_path / "sft"
    run(
        [
            *launch,
            str(REPO / "recipes" / "sft.py"),
            "--config",
            str(TINY_SFT),
            "--model_name_or_path",
            str(tiny_model_dir),
            "--dataset_name",
            str(ift_dir),
            "--output_dir",
            str(sft_out),
            *SHORT,
        ],
        cwd=REPO,
    )
    assert (sft_out / "model.safetensors").is_file()
    assert "world_size | `1`" in (sft_out / "README.md").read_text(encoding="utf-8")
    gen = run(
        [
            *launch,
            str(REPO / "recipes" / "generate.py"),
            "--config",
            str(REPO / "recipes" / "tiny" / "generate" / "config.yaml"),
            "--model_name_or_path",
            str(sft_out),
            "--output_dir",
            str(tmp_path / "generate"),
            "--num_priors",
            "4",
            "--shard_size",
            "4",
            "--max_new_tokens",
            "16",
            "--batch_size",
            "4",
            "--json",
        ],
        cwd=REPO,
    )
    report = json.loads(gen.stdout[gen.stdout.index("{") :])
    assert (Path(report["run_dir"]) / "notes.parquet").is_file()
    assert "1 shards, 1 to do on process 0/1" in gen.stderr, gen.stderr[-2000:]
