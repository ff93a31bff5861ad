"""The SFT recipe on the tiny model (CPU): what it learns from, that it learns, resumes, saves, and fails clearly."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from medsyn_hf.cli import main as medsyn

TINY_RECIPE = REPO / "recipes" / "tiny" / "sft" / "config.yaml"


def recipe(tmp_path, tiny_model_dir, ift_dir, name="config.yaml", **changes):
    """The tiny recipe pointed at the fixtures, made fast (short rows, small batches), with `changes` applied."""
    config = yaml.safe_load(TINY_RECIPE.read_text(encoding="utf-8"))
    config.update(
        model_name_or_path=str(tiny_model_dir),
        dataset_name=str(ift_dir),
        output_dir=str(tmp_path / "out"),
        max_length=128,
        per_device_train_batch_size=4,
        logging_steps=1,
        disable_tqdm=True,
    )
    config.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def run(config_path, *overrides):
    from medsyn_hf.training.sft import main, parse_args

    argv = ["--config", str(config_path), *overrides]
    return main(*parse_args(argv), argv=argv)


def run_quick_start(card: str, folder, monkeypatch) -> str:
    """The card's quick start, run from the folder's parent (its `model_id` is the folder's name): the note."""
    import contextlib
    import io

    code = re.search(r"## Quick start\n\n```python\n(.*?)```", card, re.S).group(1)
    monkeypatch.chdir(folder.parent)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "quick_start", "exec"), {})
    return out.getvalue().strip()


def trainer_state(path):
    return json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))


def losses(state):
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def test_prompt_is_masked_and_eos_is_a_label(tmp_path, tiny_model_dir, ift_dir):
    from medsyn_hf.training.sft import build_trainer, parse_args

    task = "complaint_to_icd"  # short answers: nothing is truncated away
    trainer, _ = build_trainer(
        *parse_args(["--config", str(recipe(tmp_path, tiny_model_dir, ift_dir, dataset_config=task, max_length=512))])
    )
    tok = trainer.processing_class
    assert tok.pad_token_id != tok.eos_token_id
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert (batch["input_ids"] == tok.pad_token_id).any()  # rows of different lengths: some padding to check
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist()):
        target = [i for i, label in enumerate(labels) if label != -100]
        prompt, answer = tok.decode(ids[: target[0]]), tok.decode([ids[i] for i in target])
        assert prompt.endswith("<|im_start|>assistant\n") and "Жалобы:" in prompt  # the prompt is context only
        assert "Жалобы" not in answer and tok.eos_token_id in [labels[i] for i in target]  # the model learns to stop
        assert all(labels[i] == ids[i] for i in target)
        assert all(label == -100 for i, label in enumerate(labels) if ids[i] == tok.pad_token_id)


def test_loss_decreases_and_the_run_is_saved_with_a_card(tmp_path, tiny_model_dir, ift_dir, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    metrics = run(recipe(tmp_path, tiny_model_dir, ift_dir, max_steps=16, warmup_steps=2, learning_rate=3e-3))
    out = tmp_path / "out"
    curve = losses(trainer_state(out))
    assert len(curve) == 16
    assert sum(curve[-4:]) / 4 < sum(curve[:4]) / 4 - 0.5, curve
    assert metrics["train_samples"] > 0
    model, tok = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    assert model.config.use_cache and tok.eos_token == "<|im_end|>"
    assert model.generation_config.eos_token_id == tok.eos_token_id  # generation stops where training taught
    card = (out / "README.md").read_text(encoding="utf-8")
    for fact in (
        f"`{tiny_model_dir.name}` fine-tuned",  # the base by its name
        "note_writing",
        "learning_rate",
        "| `0.003` |",
        "Intended use",
        "full fine-tuning",
        "medsyn sft --config recipe.yaml",
        "@inproceedings{kumichev2024medsyn,",
    ):
        assert fact in card, fact
    assert str(tmp_path) not in card and "/tmp" not in card  # no path of the training machine
    recipe_text = (out / "recipe.yaml").read_text(encoding="utf-8")  # the recipe, beside the weights
    assert "learning_rate: 0.003" in recipe_text and str(tmp_path) not in recipe_text
    prompt = re.search(r"into this prompt.*?```text\n(.*?)\n```", card, re.S).group(1)
    assert prompt.startswith("<s><|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert "Жалобы: боль в горле, насморк, кашель." in prompt
    assert run_quick_start(card, out, monkeypatch)  # load, prompt, generate: a note comes out


def test_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, tiny_model_dir, ift_dir):
    config = recipe(tmp_path, tiny_model_dir, ift_dir, max_steps=3, save_steps=2, save_total_limit=3)
    out = tmp_path / "out"
    run(config)
    # Simulate a run killed after step 2: its later checkpoint never got written. Tag the checkpoint's state so the
    # rerun can only carry the tag if it really started from there.
    shutil.rmtree(out / "checkpoint-3")
    state = trainer_state(out / "checkpoint-2")
    state["log_history"].append({"step": 2, "tag": "checkpoint-2"})
    (out / "checkpoint-2" / "trainer_state.json").write_text(json.dumps(state), encoding="utf-8")

    run(config)
    final = trainer_state(out)
    assert final["global_step"] == 3
    assert {"step": 2, "tag": "checkpoint-2"} in final["log_history"]
    assert [e["step"] for e in final["log_history"] if "loss" in e] == [1, 2, 3]  # steps 1-2 not redone


def test_lora_on_packed_rows_saves_adapter_and_merged_model(tmp_path, tiny_model_dir, ift_dir, monkeypatch):
    """The 7B recipes' shape in miniature: LoRA on q,k,v,o over padding-free packed rows (sdpa_varlen, here on CPU)."""
    from transformers import AutoModelForCausalLM

    run(
        recipe(
            tmp_path,
            tiny_model_dir,
            ift_dir,
            max_steps=2,
            use_peft=True,
            lora_r=8,
            lora_alpha=16,
            lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            save_merged_model=True,
            packing=True,
            packing_strategy="bfd",
            attn_implementation="sdpa_varlen",
            max_length=256,
        )
    )
    out = tmp_path / "out"
    adapter = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["r"] == 8 and set(adapter["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    merged = AutoModelForCausalLM.from_pretrained(out / "merged")
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not any("lora" in name for name in merged.state_dict())
    q_merged, q_base = merged.model.layers[0].self_attn.q_proj.weight, base.model.layers[0].self_attn.q_proj.weight
    assert q_merged.shape == q_base.shape and not q_merged.equal(q_base)  # the adapter is in the weights
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "LoRA" in card and "AutoPeftModelForCausalLM.from_pretrained(model_id)" in card
    assert run_quick_start(card, out, monkeypatch)  # the adapter loads its base and writes


def test_mixture_weights_subsample_and_upsample(tiny_model_dir, ift_dir):
    from medsyn_hf.training.configs import ScriptArguments
    from medsyn_hf.training.data import get_dataset

    # TRL's mixture keys: a weight is a split in datasets' syntax (half of the notes, the complaints twice)
    mixture = [
        {"path": str(ift_dir), "name": "note_writing", "split": "train[:50%]"},
        {"path": str(ift_dir), "name": "complaint_to_icd", "split": "train+train"},
    ]
    data, sources = get_dataset(ScriptArguments(datasets=mixture, test_split_size=0.1))
    assert [len(get_dataset(ScriptArguments(datasets=[d]))[0]["train"]) for d in mixture] == [30, 100]
    assert (len(data["train"]), len(data["test"])) == (117, 13)
    assert data["train"].column_names == ["prompt", "completion"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lerning_rate": 1e-3}, "unknown key(s) in"),
        ({"dataset_name": "/nonexistent/ift"}, "is neither a local folder nor a reachable Hub dataset"),
        ({"datasets": [{"path": "outputs/ift", "name": "note_writing", "wieght": 1}]}, "unknown key(s) ['wieght']"),
        ({"dataset_config": "no_such_task"}, "cannot load dataset"),
        ({"use_peft": True, "lora_target_modules": ["q_proj", "dense"]}, "lora_target_modules: ['dense'] not in"),
        ({"pad_token": "<|no_such_pad|>"}, "pad_token: '<|no_such_pad|>' is not in the tokenizer's vocabulary"),
    ],
)
def test_bad_config_is_one_line_error(tmp_path, tiny_model_dir, ift_dir, capsys, changes, message):
    assert medsyn(["sft", "--config", str(recipe(tmp_path, tiny_model_dir, ift_dir, **changes))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medsyn: error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_max_length_that_leaves_no_rows_is_one_line_error(tmp_path, tiny_model_dir, ift_dir, capsys):
    """TRL drops rows whose completion is truncated away; with none left the Trainer used to fail with an IndexError.
    The error comes after the model loaded, so its progress bar may precede the one line."""
    config = recipe(tmp_path, tiny_model_dir, ift_dir, max_length=8, packing=False)
    assert medsyn(["sft", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.endswith("\n"), err
    assert err.splitlines()[-1].startswith("medsyn: error: no training rows left: with max_length=8"), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("config", sorted((REPO / "recipes").glob("*/sft/config*.yaml")), ids=lambda p: p.parts[-3])
def test_recipes_parse_and_dataset_name_overrides_their_data(config):
    """One dataset is `dataset_name` (+ `dataset_config`), so `--dataset_name DIR` points a recipe elsewhere under
    both launchers (TRL would ignore it next to a `datasets:` mixture)."""
    from medsyn_hf.training.sft import parse_args

    script_args, training_args, model_args = parse_args(["--config", str(config), "--use_cpu", "true"])
    assert training_args.completion_only_loss and training_args.max_length
    assert not script_args.datasets and script_args.dataset_name == "outputs/ift"
    if "lora" in config.name:
        assert script_args.dataset_config == "all"  # every task of `medsyn ift build`
        assert (model_args.lora_r, model_args.lora_alpha, model_args.lora_dropout) == (16, 16, 0.05)
        assert sorted(model_args.lora_target_modules) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    else:
        assert script_args.dataset_config == "note_writing"
    moved, *_ = parse_args(["--config", str(config), "--use_cpu", "true", "--dataset_name", "runs/my-ift"])
    assert moved.dataset_name == "runs/my-ift"


def test_recipes_read_the_real_instruction_dataset(tmp_path, tiny_model_dir, built_ift):
    """Every recipe's dataset config is one `medsyn ift build` writes, and its rows tokenise for SFT."""
    from medsyn_hf.training.data import get_dataset
    from medsyn_hf.training.sft import build_trainer, parse_args

    ift = str(built_ift)
    for config in sorted((REPO / "recipes").glob("*/sft/config*.yaml")):
        script_args, _, _ = parse_args(["--config", str(config), "--dataset_name", ift, "--use_cpu", "true"])
        data, _ = get_dataset(script_args)
        assert len(data["train"]) > 0, config
    tiny = yaml.safe_load(TINY_RECIPE.read_text(encoding="utf-8"))
    config = recipe(tmp_path, tiny_model_dir, ift, max_length=tiny["max_length"])
    trainer, _ = build_trainer(*parse_args(["--config", str(config)]))
    assert len(trainer.train_dataset) > 0 and -100 in trainer.train_dataset[0]["labels"]


def test_llama2_chat_template_masks_like_chatml(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = (REPO / "recipes" / "llama-2-7b" / "sft" / "chat_template.jinja").read_text(encoding="utf-8")
    prompt = [{"role": "system", "content": "Ты врач."}, {"role": "user", "content": "Напиши анамнез."}]
    text = tok.apply_chat_template(prompt + [{"role": "assistant", "content": "Анамнез."}], tokenize=False)
    prompt_text = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    assert text.startswith(prompt_text) and text.endswith("[/INST] Анамнез." + tok.eos_token)
    assert prompt_text == "<s>[INST] <<SYS>>\nТы врач.\n<</SYS>>\n\nНапиши анамнез. [/INST]"


@pytest.mark.parametrize(
    "launch",
    [
        pytest.param(["--multi_gpu", "--num_processes", "2"], id="multi_gpu-flags"),
    ],
)
def test_two_process_cpu_run(tmp_path, tiny_model_dir, ift_dir, launch):
    """DDP over gloo: the same script under `accelerate launch`, 2 CPU processes (~20 s)."""
    config = recipe(tmp_path, tiny_model_dir, ift_dir, max_steps=4, save_steps=2, per_device_train_batch_size=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *launch,
        "--main_process_port",
        "0",
        str(REPO / "recipes" / "sft.py"),
        "--config",
        str(config),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = trainer_state(tmp_path / "out")
    assert state["global_step"] == 4 and (tmp_path / "out" / "model.safetensors").is_file()
    assert "world_size | `2`" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


def test_sdpa_varlen_keeps_packed_documents_apart(tiny_model_dir):
    """Packed rows (padding-free) give each document the logits it gets alone: PyTorch's varlen kernel on CUDA, the
    block-diagonal sdpa mask elsewhere."""
    import torch
    from transformers import AutoModelForCausalLM

    from medsyn_hf.training.attention import SDPA_VARLEN, register_sdpa_varlen

    register_sdpa_varlen()
    device, dtype = ("cuda", torch.bfloat16) if torch.cuda.is_available() else ("cpu", torch.float32)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=SDPA_VARLEN, dtype=dtype).to(
        device
    )
    docs = [torch.randint(5, 900, (n,), device=device) for n in (12, 8)]
    positions = torch.cat([torch.arange(12), torch.arange(8)])[None].to(device)
    cu = torch.tensor([0, 12, 20], dtype=torch.int32, device=device)
    packed = model(
        input_ids=torch.cat(docs)[None],
        position_ids=positions,
        cu_seq_lens_q=cu,
        cu_seq_lens_k=cu,
        max_length_q=12,
        max_length_k=12,
        use_cache=False,
    ).logits[0]
    alone = torch.cat([model(input_ids=d[None], use_cache=False).logits[0] for d in docs])
    torch.testing.assert_close(packed, alone, atol=2e-2 if device == "cuda" else 1e-5, rtol=0)


PAD_EQ_EOS = "pad = eos"  # a tokenizer that pads with its eos and reserves nothing else (many fine-tunes do)


def family_folder(tmp_path, recipe_models, family: str):
    """A model folder whose tokenizer is `family`'s (tests/recipe_models.py), or, for PAD_EQ_EOS, the Qwen2.5
    stand-in with a tokenizer whose pad is its eos and whose vocabulary has no other candidate."""
    from recipe_models import FAMILIES, Family, chat_template, family_tokenizer

    if family != PAD_EQ_EOS:
        return recipe_models[family]
    folder = tmp_path / "pad-eq-eos"
    shutil.copytree(recipe_models["Qwen/Qwen2.5-7B-Instruct"], folder)
    qwen = FAMILIES["Qwen/Qwen2.5-7B-Instruct"]
    own = Family(bos=None, eos="<|im_end|>", pad="<|im_end|>", specials=("<|im_start|>",))
    tokenizer = family_tokenizer(own, chat_template(qwen.template))
    (folder / "tokenizer.json").unlink()
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    ("family", "pad", "why"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "<|finetune_right_pad_id|>", "RESERVED_PAD"),  # no pad, no unk
        ("meta-llama/Llama-2-7b-hf", "<unk>", "RESERVED_PAD"),  # no pad; unk, LLaMA-2's convention
        ("Qwen/Qwen3-8B", "<|endoftext|>", "OWN_PAD"),  # its own pad, distinct from eos
        (PAD_EQ_EOS, "<|im_end|>", "EOS_PAD"),  # nothing else: eos, padding masked by position
    ],
)
def test_pad_token_rule_accepts_every_family_and_logs_its_choice(tmp_path, recipe_models, caplog, family, pad, why):
    import logging

    from medsyn_hf.training import sft
    from medsyn_hf.training.configs import ModelConfig, SFTConfig

    folder = family_folder(tmp_path, recipe_models, family)
    model_args = ModelConfig(model_name_or_path=str(folder))
    training_args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False)
    with caplog.at_level(logging.INFO, logger="medsyn_hf"):
        tokenizer = sft.get_tokenizer(model_args, training_args)
    assert tokenizer.pad_token == pad
    logged = [r for r in caplog.records if r.getMessage().startswith("pad token ")]
    assert len(logged) == 1 and pad in logged[0].getMessage() and getattr(sft, why) in logged[0].getMessage()
    substitute = why in ("RESERVED_PAD", "EOS_PAD")  # visible at the default (warning) level
    assert logged[0].levelno == (logging.WARNING if substitute else logging.INFO)
    # the config's pad_token comes first, whatever the tokenizer has
    assert sft.choose_pad_token(tokenizer, tokenizer.eos_token) == (tokenizer.eos_token, sft.CONFIG_PAD)


def test_padding_with_eos_keeps_eos_a_label(tmp_path, recipe_models, ift_dir):
    """With pad = eos (TRL's fallback), padded positions are masked by position, so every row still learns to end
    with eos."""
    from medsyn_hf.training.sft import build_trainer, parse_args

    folder = family_folder(tmp_path, recipe_models, PAD_EQ_EOS)
    config = recipe(tmp_path, folder, ift_dir, dataset_config="complaint_to_icd", max_length=512)
    trainer, _ = build_trainer(*parse_args(["--config", str(config)]))
    tok = trainer.processing_class
    assert tok.pad_token_id == tok.eos_token_id
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert (batch["attention_mask"] == 0).any()  # rows of different lengths: some padding to check
    for labels, mask in zip(batch["labels"].tolist(), batch["attention_mask"].tolist()):
        assert all(label == -100 for label, m in zip(labels, mask) if m == 0)  # padding: no loss
        target = [label for label in labels if label != -100]
        assert target.count(tok.eos_token_id) == 1  # the note's end is a label (ChatML's "\n" after it too)
        assert not tok.decode(target[target.index(tok.eos_token_id) + 1 :]).strip()
