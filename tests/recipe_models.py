"""Tiny offline stand-ins for the GPU recipes' models: a random model of the recipe model's own architecture class
(its shape from `medsyn_hf.training.gpu_estimate.MODELS`, scaled down, grouped-query ratio kept) and a tokenizer with
that family's special tokens, pad/unk/bos conventions and chat template. The templates are the models' own, as TRL
ships byte-identical copies of them (``trl/chat_templates``, checked weekly against the Hub); the BPE under the
special tokens is the packaged medsyn-tiny one. Nothing is downloaded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from medsyn_hf.tiny_model import WRITER_DIR
from medsyn_hf.training.gpu_estimate import MODELS


@dataclass(frozen=True)
class Family:
    """A tokenizer family: its special tokens (None: the tokenizer has none), the other special tokens it defines,
    plain added tokens, its chat template (a file of trl/chat_templates; None: a base model without one) and the
    tokens its generation_config.json stops on."""

    bos: str | None
    eos: str
    pad: str | None = None
    unk: str | None = None
    specials: tuple[str, ...] = ()
    plain: tuple[str, ...] = ()
    template: str | None = None
    stop: tuple[str, ...] = ()
    adds_bos: bool = False  # the tokenizer prepends bos when encoding text
    split: str | None = None  # the pre-tokenizer's regex (None: GPT-2's, as medsyn-tiny's BPE was trained)


LLAMA3_SPECIALS = (
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|finetune_right_pad_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
)
# Llama-3's and Qwen2's pre-tokenizer regexes (tokenizer.json): a run of newlines is one piece, so "\n\n" before a
# note splits as it does at the end of the prompt
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPLIT = LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")
# Qwen2.5 and Qwen3 share their tokens (ChatML, pad distinct from eos, no bos)
QWEN = dict(
    bos=None,
    eos="<|im_end|>",
    pad="<|endoftext|>",
    specials=("<|im_start|>",),
    stop=("<|im_end|>", "<|endoftext|>"),
    split=QWEN_SPLIT,
)
# as the models' tokenizer_config.json and generation_config.json have them
FAMILIES = {
    "meta-llama/Llama-2-7b-hf": Family(bos="<s>", eos="</s>", unk="<unk>", stop=("</s>",), adds_bos=True),
    "meta-llama/Llama-3.1-8B-Instruct": Family(
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        specials=LLAMA3_SPECIALS,
        template="llama3_1",
        stop=("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"),
        adds_bos=True,
        split=LLAMA3_SPLIT,
    ),
    "Qwen/Qwen2.5-7B-Instruct": Family(**QWEN, template="qwen2_5"),
    "Qwen/Qwen3-8B": Family(**QWEN, template="qwen3", plain=("<think>", "</think>")),
}
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, head_dim=16, kv_heads=1)


def chat_template(name: str) -> str:
    return (resources.files("trl") / "chat_templates" / f"{name}.jinja").read_text(encoding="utf-8")


def family_tokenizer(family: Family, template: str | None = None):
    """The packaged BPE with the family's special tokens in place of medsyn-tiny's own (which leave the vocabulary,
    so a family without a pad token has none to fall back on)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    data = json.loads((WRITER_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    free = [vocab.pop(t["content"]) for t in data["added_tokens"]]  # the tiny writer's specials leave
    special = [t for t in dict.fromkeys([family.bos, family.eos, family.pad, family.unk, *family.specials]) if t]
    added = [(t, True) for t in special] + [(t, False) for t in family.plain]
    ids = free + list(range(len(vocab) + len(free), len(vocab) + len(free) + len(added)))
    for i, unused in enumerate(ids[len(added) :]):  # keep ids contiguous: unreachable placeholders
        vocab[f"<unused{i}>"] = unused
    data["added_tokens"] = []
    for (token, is_special), token_id in zip(added, ids):
        vocab[token] = token_id
        data["added_tokens"].append(
            dict(id=token_id, content=token, single_word=False, lstrip=False, rstrip=False, normalized=False)
            | dict(special=is_special)
        )
    if family.split:
        data["pre_tokenizer"] = {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": family.split}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        }
    if family.adds_bos:
        bos = {"SpecialToken": {"id": family.bos, "type_id": 0}}
        data["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {family.bos: {"id": family.bos, "ids": [vocab[family.bos]], "tokens": [family.bos]}},
        }
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(data)),
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        unk_token=family.unk,
        additional_special_tokens=[t for t in family.specials if t not in (family.bos, family.eos, family.pad)],
        chat_template=template or (chat_template(family.template) if family.template else None),
        model_max_length=131072,
    )
    return tokenizer


def build_recipe_model(hub_id: str, out: Path, seed: int = 0) -> Path:
    """A tiny random model of `hub_id`'s architecture class with its family's tokenizer, saved to `out`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    shape, family = MODELS[hub_id], FAMILIES[hub_id]
    tokenizer = family_tokenizer(family)
    ratio = shape.get("num_attention_heads") // shape.get("num_key_value_heads")  # grouped queries, as the real one
    sizes = {k: v for k, v in TINY.items() if k != "kv_heads"}
    sizes |= dict(num_attention_heads=ratio * TINY["kv_heads"], num_key_value_heads=TINY["kv_heads"])
    sizes["vocab_size"] = len(tokenizer)
    config = AutoConfig.for_model(
        shape.model_type,
        **{**shape.config, **sizes},
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    assert type(model).__name__ == shape.architecture, (hub_id, type(model).__name__)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids(list(family.stop)),
        pad_token_id=tokenizer.pad_token_id,
    )
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out
