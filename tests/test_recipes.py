"""Every GPU recipe runs here, scaled down: for each recipes/<model>/sft recipe a tiny random model of the same
architecture class with its family's tokenizer and chat template (tests/recipe_models.py) trains 2 steps through
`recipes/sft.py` and through `trl sft`, its generate recipe writes 4 notes with the adapter, and its vLLM recipe
parses and fails cleanly without a server. Only model, data, steps and device are overridden, so a wrong YAML key,
chat template, target module or dataset fails here, not on the user's GPU.

Both launchers run in this process (a subprocess costs ~6 CPU seconds of imports each): `recipes/sft.py` and
`recipes/generate.py` as scripts (what `accelerate launch` starts on one process), `trl sft` as its CLI does it: TRL's
parser splits the arguments, accelerate's launch parser must accept what is left over (an unknown YAML key lands
there and is refused), then TRL's own script trains. tests/test_trl_native.py launches the real `trl sft` process.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml
from conftest import REPO, free_port
from recipe_models import FAMILIES

from medsyn_hf.training.gpu_estimate import MODELS, module_widths

GPU_RECIPES = sorted(p.parents[1] for p in (REPO / "recipes").glob("*/sft/config_lora.yaml"))
IDS = [p.name for p in GPU_RECIPES]
DEVICE = ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32"]
STEPS = ["--max_steps", "2", "--gradient_accumulation_steps", "1", "--logging_steps", "1", "--disable_tqdm", "true"]


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def sft_args(recipe: Path, model: Path, data: Path, out: Path) -> list[str]:
    """The recipe with only model, data, steps and device overridden."""
    config = recipe / "sft" / "config_lora.yaml"
    return ["--config", str(config), "--model_name_or_path", str(model), "--dataset_name", str(data)] + [
        "--output_dir",
        str(out),
        *STEPS,
        *DEVICE,
    ]


def run_script(path: Path, argv: list[str], monkeypatch) -> int:
    """`python PATH ARGV` in this process: its exit code."""
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exit_:
        return exit_.code or 0
    return 0


@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=IDS)
def test_recipe_has_its_parts(recipe):
    """SFT, generate and vLLM recipes; a model whose shape and family the tests know; the model's own chat template
    unless it has none (then ours); LoRA on modules that exist in that architecture."""
    sft = read(recipe / "sft" / "config_lora.yaml")
    assert (recipe / "generate" / "config.yaml").is_file() and (recipe / "generate" / "config_vllm.yaml").is_file()
    model = sft["model_name_or_path"]
    assert model in MODELS and model in FAMILIES, f"add {model}'s shape to gpu_estimate.MODELS and its family"
    own_template = FAMILIES[model].template is not None
    assert ("chat_template_path" in sft) != own_template, "ours only for a base model without a template"
    assert set(sft["lora_target_modules"]) <= set(module_widths(MODELS[model]))
    for name in ("config.yaml", "config_vllm.yaml"):
        generate = read(recipe / "generate" / name)
        assert generate["model_name_or_path"] == model and generate["adapter_name_or_path"] == sft["output_dir"]


@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=IDS)
def test_sft_recipe_then_generate_recipe(recipe, recipe_models, built_ift, tmp_path, monkeypatch, one_torch_thread):
    """`recipes/sft.py` trains the adapter; `recipes/generate.py` writes 4 notes with it."""
    model = recipe_models[read(recipe / "sft" / "config_lora.yaml")["model_name_or_path"]]
    adapter = tmp_path / "adapter"
    assert run_script(REPO / "recipes" / "sft.py", sft_args(recipe, model, built_ift, adapter), monkeypatch) == 0
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    sft = read(recipe / "sft" / "config_lora.yaml")
    assert sorted(config["target_modules"]) == sorted(sft["lora_target_modules"]) and config["r"] == sft["lora_r"]
    assert config["base_model_name_or_path"] == str(model)
    state = json.loads((adapter / "trainer_state.json").read_text(encoding="utf-8"))
    assert state["global_step"] == 2

    generate = [
        "--config",
        str(recipe / "generate" / "config.yaml"),
        "--model_name_or_path",
        str(model),
        "--adapter_name_or_path",
        str(adapter),
        "--output_dir",
        str(tmp_path / "generate"),
        "--num_priors",
        "4",
        "--max_new_tokens",
        "8",
        "--dtype",
        "float32",
    ]
    assert run_script(REPO / "recipes" / "generate.py", generate, monkeypatch) == 0
    import datasets

    notes = datasets.Dataset.from_parquet(str(tmp_path / "generate" / "latest" / "notes.parquet"))
    assert len(notes) == 4 and all(n > 0 for n in notes["completion_tokens"])


@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=IDS)
def test_trl_sft_runs_the_recipe(recipe, recipe_models, built_ift, tmp_path, monkeypatch, one_torch_thread):
    """What `trl sft --config RECIPE ...` does, in this process: TRL's parser, accelerate's launch parser on what
    TRL leaves to it (an unknown YAML key ends up there and is refused), then TRL's own script for 2 steps."""
    from accelerate.commands.launch import launch_command_parser
    from trl.cli.accelerate_config import resolve_accelerate_config_argument
    from trl.cli.commands.training import _subtract_subsequence
    from trl.scripts.sft import make_parser

    model = recipe_models[read(recipe / "sft" / "config_lora.yaml")["model_name_or_path"]]
    argv = sft_args(recipe, model, built_ift, tmp_path / "trl")
    *_, from_config, from_flags = make_parser(prog="trl sft").parse_args_and_config(
        argv, return_remaining_strings=True, separate_remaining_strings=True
    )
    assert from_config == [], f"keys `trl sft` does not know would go to accelerate launch: {from_config}"
    script = str(resources.files("trl.scripts") / "sft.py")
    script_args = _subtract_subsequence(argv, from_flags)
    launch_command_parser().parse_args(resolve_accelerate_config_argument(from_flags) + [script] + script_args)
    assert run_script(Path(script), script_args, monkeypatch) == 0
    saved = tmp_path / "trl"
    assert (saved / "adapter_model.safetensors").is_file() and (saved / "adapter_config.json").is_file()


@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=IDS)
def test_generation_prompt_ends_where_sft_completions_start(recipe, recipe_models, built_ift):
    """The generate recipes render a prompt so that the note is what comes next in the text SFT trained on: with
    the SFT recipe's template (its own or ours) and the generate recipe's chat_template_kwargs (Qwen3: the empty
    thinking block), prompt + note + eos = the training text (up to whitespace the generation strips). The vLLM
    recipe asks with the same kwargs."""
    from medsyn_hf.data import read_dataset

    sft = read(recipe / "sft" / "config_lora.yaml")
    generate, vllm = read(recipe / "generate" / "config.yaml"), read(recipe / "generate" / "config_vllm.yaml")
    kwargs = generate.get("chat_template_kwargs") or {}
    assert (vllm.get("extra_body") or {}).get("chat_template_kwargs", {}) == kwargs
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(recipe_models[sft["model_name_or_path"]])
    if "chat_template_path" in sft:
        tok.chat_template = (REPO / sft["chat_template_path"]).read_text(encoding="utf-8")
    row = read_dataset(str(built_ift), "note_writing")["train"][0]
    note = row["completion"][0]["content"]
    prompt = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False, **kwargs)
    trained = tok.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    rest = trained[len(prompt) :].lstrip()  # LLaMA-2's template puts a space after [/INST]: generated, stripped
    assert trained.startswith(prompt) and rest.startswith(note.strip()), (prompt[-80:], rest[:80])
    assert rest[len(note.strip()) :].startswith(tok.eos_token)  # and after the note the model learned to stop


@pytest.mark.parametrize("recipe", GPU_RECIPES, ids=IDS)
def test_vllm_recipe_parses_and_without_a_server_is_one_line(recipe, tmp_path, capsys):
    """vLLM is not installable here: the recipe parses with our parser, and run without a server it stops at its
    first request with one error line saying so."""
    from medsyn_hf.cli import main as medsyn
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.recipe_args import parse_args

    config = recipe / "generate" / "config_vllm.yaml"
    script_args, gen_args, model_args = parse_args(["--config", str(config)], make_parser())
    assert gen_args.backend == "openai" and gen_args.base_url and gen_args.served_model_name
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there (port 8000 may be in use on this machine)
    argv = ["generate", "--config", str(config), "--base_url", url, "--num_priors", "4"]
    assert medsyn([*argv, "--output_dir", str(tmp_path / "out"), "--request_retries", "0"]) == 2
    errors = [line for line in re.split(r"[\r\n]", capsys.readouterr().err) if "error" in line.lower()]
    assert len(errors) == 1 and f"medsyn: error: cannot reach {url}" in errors[0], errors  # after progress bars
    assert "is the server running?" in errors[0]


def test_a_recipe_without_its_data_says_which_key_to_change(recipe_models, tmp_path, monkeypatch, capsys):
    """Run where `medsyn ift build` has not been: one line naming dataset_name and the command that builds it."""
    from medsyn_hf.cli import main as medsyn

    monkeypatch.chdir(tmp_path)
    recipe = REPO / "recipes" / "qwen3-8b" / "sft" / "config_lora.yaml"
    model = recipe_models["Qwen/Qwen3-8B"]
    assert medsyn(["sft", "--config", str(recipe), "--model_name_or_path", str(model), *DEVICE]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("medsyn: error: dataset_name: outputs/ift is neither"), err
    assert "`medsyn ift build --out outputs/ift`" in err and "`--dataset_name DIR`" in err
    assert not (tmp_path / "outputs").exists()
