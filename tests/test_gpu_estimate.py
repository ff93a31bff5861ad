"""The GPU estimate is computed, and checked against the real thing where it can run here: parameter counts against
the models transformers builds from the recorded shapes (and their published sizes), the per-layer activation bytes
against what autograd saves on CPU for tiny models of each architecture class, README's table against the script."""

import re
import runpy

import pytest
from conftest import REPO

from medsyn_hf.training.gpu_estimate import (
    MODELS,
    layer_activation_bytes,
    lora_parameter_count,
    parameter_count,
)

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]


@pytest.mark.parametrize("hub_id", sorted(MODELS))
def test_parameter_count_is_the_built_models(hub_id):
    """transformers builds the model from the recorded shape (on the meta device: no memory), of the right class,
    with exactly the parameters the formula counts, and the model card's size."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    shape = MODELS[hub_id]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(shape.model_type, **shape.config))
    assert type(model).__name__ == shape.architecture
    assert parameter_count(shape) == sum(p.numel() for p in model.parameters())
    assert parameter_count(shape) == pytest.approx(shape.published_params, rel=0.001)


def saved_bytes(model_type: str, layers: int, tokens: int, targets, dropout: float, **config) -> int:
    """Bytes autograd keeps for backward in one forward of a LoRA model in bf16 autocast (CPU), storages counted
    once."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(
        AutoConfig.for_model(model_type, num_hidden_layers=layers, vocab_size=512, **config),
        dtype=torch.bfloat16,
        attn_implementation="sdpa",
    )
    model = get_peft_model(base, LoraConfig(r=16, lora_alpha=16, lora_dropout=dropout, target_modules=targets))
    model.train()
    storages = {}

    def keep(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    ids = torch.randint(0, 512, (1, tokens))
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t), torch.autocast("cpu", dtype=torch.bfloat16):
        model(input_ids=ids, labels=ids)
    return sum(storages.values())


def dims(hidden, intermediate, heads, kv_heads, head_dim) -> dict:
    return dict(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
    )


SHAPES = {  # head widths unequal to hidden, grouped queries or not: each term of the formula shows
    "llama": dims(128, 256, 4, 4, 32),
    "llama-gqa": dims(128, 320, 8, 2, 16),
    "qwen2": dims(96, 224, 6, 2, 16),
    "qwen3": dims(128, 192, 4, 2, 48),
}


@pytest.mark.parametrize(
    ("name", "targets", "dropout"),
    [
        ("llama", ATTENTION, 0.05),
        ("llama-gqa", ATTENTION, 0.05),
        ("qwen2", ATTENTION, 0.05),
        ("qwen3", ATTENTION, 0.05),
        ("qwen3", ATTENTION + ["gate_proj", "up_proj", "down_proj"], 0.05),
        ("llama-gqa", ["q_proj", "v_proj"], 0.0),
    ],
)
def test_layer_activations_are_what_autograd_saves(name, targets, dropout, one_torch_thread):
    """One more decoder layer and more tokens: the growth per layer and token is the formula's, byte for byte (with
    CPU's float32 dropout noise, 4 bytes per element, where CUDA keeps a bool mask)."""
    from medsyn_hf.training.gpu_estimate import ModelShape

    model_type = name.split("-")[0]
    config = SHAPES[name]
    measured = {
        (layers, tokens): saved_bytes(model_type, layers, tokens, targets, dropout, **config)
        for layers in (1, 2)
        for tokens in (64, 128)
    }
    per_layer_token = ((measured[2, 128] - measured[1, 128]) - (measured[2, 64] - measured[1, 64])) / 64
    shape = ModelShape("", model_type, config)
    assert per_layer_token == layer_activation_bytes(shape, 16, targets, dropout, mask_bytes=4)


def test_lora_parameters_and_unknown_targets():
    shape = MODELS["meta-llama/Llama-3.1-8B-Instruct"]
    # q, o: 4096 -> 4096; k, v: 4096 -> 1024 (8 of 32 heads): r x (in + out) per module and layer
    assert lora_parameter_count(shape, 16, ATTENTION) == 32 * 16 * (2 * 8192 + 2 * 5120)
    with pytest.raises(ValueError, match=r"\['dense'\] are not linear layers of LlamaForCausalLM"):
        lora_parameter_count(shape, 16, ["q_proj", "dense"])


def test_readme_table_is_the_scripts():
    """README's "On a GPU" table shows exactly what `python benchmarks/gpu_estimate.py --markdown` prints."""
    rows = runpy.run_path(str(REPO / "benchmarks" / "gpu_estimate.py"))["markdown_rows"]()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = [line for line in readme.splitlines() if re.match(r"^\| `recipes/[^`]+/sft/config_lora\.yaml` \|", line)]
    assert shown == rows and len(rows) == 2 * len(list((REPO / "recipes").glob("*/sft/config_lora.yaml")))
