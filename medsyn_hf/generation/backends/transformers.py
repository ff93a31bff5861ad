"""The in-process backend: a transformers model (+ merged LoRA adapter), batched, with exact per-row sampling.

Sampling is per row: row r's token at step t is drawn by inverse CDF from the top-k/top-p-truncated softmax with one
uniform number that is a hash of (row key, t) alone: an exact draw, and independent of which rows share the batch,
how many processes run or in which order shards are done. A row's logits depend on its batch only through float
rounding (~1e-6 of a logit: another batch size or padding sums a matrix product in another order), which decides a
token only at a near-tie of two candidates (their order in the top-k) or a uniform number that close to a boundary:
1 note of 1,000 differed between the CPU loop and `generate` for the tiny recipe. The run keeps each shard's (or
each group's, for the CPU loop) batches the same under any process count and any resume, so a resumed or
data-parallel run writes exactly the notes of a single uninterrupted one (on CPU; on a GPU as far as its kernels
give the same logits for the same batch).

Only torch and transformers are imported (lazily), so ``benchmarks/generation_throughput.py`` runs on a bare GPU box.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.generation.backends import decode
from medsyn_hf.generation.backends.base import Backend, Completion, OnBatch
from medsyn_hf.validate import check_model_path, check_range

_M32 = 0xFFFFFFFF
DECODINGS = ("auto", "generate")
POOL_BATCHES = 16  # the CPU loop plans its batches over ~16 batches of prompts (whole shards) at a time


# -- per-row sampling -------------------------------------------------------------------------------------------------
def _hash32(x):
    """A 32-bit integer hash (Wellons' 'lowbias32' family) on int64 tensors holding values < 2**32: no overflow."""
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & _M32
    return x ^ (x >> 15)


def row_uniforms(keys, step: int):
    """One uniform number in (0, 1) per row, a pure function of (row key, step); 24 bits, exact in float32."""
    import torch

    bits = _hash32(_hash32((keys + step * 0x9E3779B9) & _M32) ^ 0x5BD1E995) >> 8
    return (bits.to(torch.float32) + 0.5) * 2.0**-24


def sample_rows(scores, keys, step: int):
    """Token per row drawn from softmax(scores) by inverse CDF with `row_uniforms` (masked -inf scores never)."""
    import torch

    cdf = torch.softmax(scores.float(), dim=-1).cumsum(dim=-1)
    target = (row_uniforms(keys, step) * cdf[:, -1])[:, None]
    return torch.searchsorted(cdf, target, right=True).clamp_(max=scores.shape[1] - 1)


def make_sampler(temperature: float, top_k: int, top_p: float) -> Callable:
    """``sample(scores, keys, step) -> token per row``: greedy at temperature 0, else `sample_rows` on the temperature-
    and top-p-warped k best scores (top-k first: no sort of the whole vocabulary)."""
    import torch
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)] if temperature > 0 else [])
    if temperature > 0 and top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))

    def sample(scores, keys, step: int):
        if temperature == 0:
            return scores.argmax(dim=-1)
        best, index = torch.topk(scores, top_k) if 0 < top_k < scores.shape[1] else (scores, None)
        token = sample_rows(warpers(None, best), keys, step)  # the warpers do not read input_ids
        return (index.gather(1, token) if index is not None else token)[:, 0]

    return sample


def make_row_sampler(keys, prompt_length: int, temperature: float, top_k: int, top_p: float):
    """A LogitsProcessor for greedy `generate` that turns argmax into per-row sampling (see the module docstring):
    it leaves only the token `make_sampler` draws finite."""
    import torch
    from transformers import LogitsProcessor

    sample = make_sampler(temperature, top_k, top_p)

    class RowSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            if temperature == 0:
                return scores
            token = sample(scores, keys, input_ids.shape[1] - prompt_length)
            return torch.full_like(scores, -float("inf")).scatter_(1, token[:, None], 0.0)

    return RowSampler()


# -- the model --------------------------------------------------------------------------------------------------------
def is_model_folder(folder) -> bool:
    """A model with its tokenizer, or a LoRA adapter as SFT saves it."""
    return os.path.isfile(os.path.join(folder, "adapter_config.json")) or all(
        os.path.isfile(os.path.join(folder, name)) for name in ("config.json", "tokenizer_config.json")
    )


def adapter_base(folder) -> str | None:
    """The base model a LoRA adapter folder names; None for a full model."""
    if os.path.isfile(os.path.join(folder, "config.json")):
        return None
    try:
        with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as f:
            return json.load(f)["base_model_name_or_path"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MedsynError(f"{folder}: unreadable adapter_config.json ({type(err).__name__}: {err})") from None


def check_model(model_args, gen_args) -> None:
    """The model (and adapter) can be found, and ``max_new_tokens`` fits its context: checked before any writing."""
    from transformers import AutoConfig

    check_model_path("model_name_or_path", model_args.model_name_or_path)
    check_model_path("adapter_name_or_path", model_args.adapter_name_or_path)
    adapter = model_args.adapter_name_or_path
    if adapter and os.path.isdir(adapter) and not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        raise MedsynError(f"adapter_name_or_path: {adapter} has no adapter_config.json (not a LoRA adapter folder)")
    name = model_args.model_name_or_path
    if os.path.isdir(name) and adapter_base(name) is not None:
        return  # an adapter folder as the model: its base is resolved when it is loaded
    try:
        config = AutoConfig.from_pretrained(
            name, revision=model_args.model_revision, trust_remote_code=getattr(model_args, "trust_remote_code", False)
        )
    except (OSError, ValueError) as err:
        raise MedsynError(f"model_name_or_path: cannot load {name!r} ({first_line(err)})") from None
    context = getattr(config, "max_position_embeddings", None)
    if context and gen_args.max_new_tokens >= context:
        raise MedsynError(
            f"max_new_tokens: {gen_args.max_new_tokens} is out of range; allowed: 1..{context - 1} "
            f"(the context of {name} is {context} tokens, the prompt included)"
        )


def load_model(model_args, device):
    """Model (+ merged LoRA adapter) and tokenizer; the adapter folder's tokenizer wins when it has one (SFT saves
    it)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = getattr(model_args, "adapter_name_or_path", None)
    tokenizer_source = adapter if adapter and os.path.isfile(os.path.join(adapter, "tokenizer_config.json")) else None
    kwargs = dict(
        revision=model_args.model_revision, trust_remote_code=getattr(model_args, "trust_remote_code", False)
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source or model_args.model_name_or_path, **kwargs)
        dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
        model = AutoModelForCausalLM.from_pretrained(
            model_args.model_name_or_path,
            dtype=dtype,
            attn_implementation=model_args.attn_implementation,
            device_map=str(device),
            **kwargs,
        )
    except OSError as err:
        raise MedsynError(f"cannot load model {model_args.model_name_or_path!r}: {str(err).splitlines()[0]}") from None
    if adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        except (OSError, ValueError) as err:
            raise MedsynError(f"cannot load adapter {adapter!r}: {first_line(err)}") from None
    if tokenizer.chat_template is None:
        raise MedsynError(f"{tokenizer_source or model_args.model_name_or_path}: the tokenizer has no chat template")
    tokenizer.padding_side = "left"
    return model.eval(), tokenizer


def uses_loop(model, gen_args) -> bool:
    """Whether `token_generator` decodes with `decode`'s loop: ``decoding: auto`` on CPU, for a model the loop
    supports, without a repetition penalty (it reads the whole sequence) or a cache implementation asked for."""
    return (
        getattr(gen_args, "decoding", "auto") == "auto"
        and model.device.type == "cpu"
        and gen_args.repetition_penalty == 1.0
        and not gen_args.cache_implementation
        and decode.supports_model(model)
    )


def token_generator(model, gen_args, eos: list[int], pad: int) -> Callable:
    """``(prompts: token id lists, keys, on_batch) -> [(generated ids, n_tokens, stopped)]`` in the prompts' order;
    ``on_batch({position: (ids, n_tokens, stopped)})`` after each batch, in the calling thread.

    On CPU (`uses_loop`): `decode`'s loop, batches planned by `decode.plan_batches`, ``cpu_threads`` at a time.
    Otherwise `generate`: batches of ``gen_args.batch_size`` prompts sorted by length (longest first, so an
    out-of-memory shows at once), left-padded. On CUDA the default cache is static, which makes `generate` compile
    the decoding step (CUDA graphs); the first (longest) batch sizes the cache and later batches reuse its shape: one
    compilation per batch size.
    """
    if uses_loop(model, gen_args):
        return loop_generator(model, gen_args, eos, pad)
    import torch
    from transformers import GenerationConfig

    device = model.device
    cache = gen_args.cache_implementation or ("static" if device.type == "cuda" else None)
    # Replaces the model's own generation config: its sampling defaults (do_sample, temperature ...) must not mix in.
    model.generation_config = GenerationConfig(
        max_new_tokens=gen_args.max_new_tokens,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=pad,
        repetition_penalty=None if gen_args.repetition_penalty == 1.0 else gen_args.repetition_penalty,
        cache_implementation=cache,
    )
    eos_tensor = torch.tensor(eos, device=device)

    @torch.inference_mode()
    def generate(prompts, keys, on_batch=None, needed=None) -> list:
        order = sorted(
            (i for i in range(len(prompts)) if needed is None or i in needed), key=lambda i: (-len(prompts[i]), i)
        )
        results = [None] * len(prompts)
        for start in range(0, len(order), gen_args.batch_size):
            batch = order[start : start + gen_args.batch_size]
            length = len(prompts[batch[0]])
            input_ids = torch.full((len(batch), length), pad, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), length), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, length - len(prompts[i]) :] = torch.tensor(prompts[i])
                attention_mask[row, length - len(prompts[i]) :] = 1
            sampler = make_row_sampler(
                torch.tensor([keys[i] for i in batch], device=device),
                length,
                gen_args.temperature,
                gen_args.top_k,
                gen_args.top_p,
            )
            out = model.generate(
                input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), logits_processor=[sampler]
            )[:, length:]
            is_eos = torch.isin(out, eos_tensor)
            stopped = is_eos.any(dim=1)
            n_tokens = torch.where(stopped, is_eos.int().argmax(dim=1) + 1, out.shape[1]).tolist()
            out, stopped = out.cpu(), stopped.tolist()
            for row, i in enumerate(batch):
                results[i] = (out[row, : n_tokens[row]], n_tokens[row], stopped[row])
            if on_batch:
                on_batch({i: results[i] for i in batch})
        return results

    return generate


def loop_generator(model, gen_args, eos: list[int], pad: int) -> Callable:
    """`token_generator` on `decode`'s loop; ``needed`` (positions): only the batches that hold one are decoded (the
    others' results stay None), so the batches are those of all the prompts whichever are needed."""
    sample = make_sampler(gen_args.temperature, gen_args.top_k, gen_args.top_p)
    threads = getattr(gen_args, "cpu_threads", None) or decode.default_threads()

    def generate(prompts, keys, on_batch=None, needed=None) -> list:
        batches = decode.plan_batches([len(p) for p in prompts], gen_args.batch_size)
        if needed is not None:
            batches = [b for b in batches if not needed.isdisjoint(b)]
        results = [None] * len(prompts)

        def work(batch):
            rows = ([prompts[i] for i in batch], [keys[i] for i in batch])
            return decode.decode_batch(model, *rows, sample, eos, pad, gen_args.max_new_tokens)

        for index, out in decode.run_batches(batches, work, threads):
            for i, result in zip(batches[index], out):
                results[i] = result
            if on_batch:
                on_batch({i: results[i] for i in batches[index]})
        return results

    return generate


# -- the backend ------------------------------------------------------------------------------------------------------
@dataclass
class TransformersConfig:
    """The transformers backend's settings (a section of GenerationArguments)."""

    top_k: int = field(default=50, metadata={"help": "transformers: 0 is off (transformers' default is 50 too)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "transformers: 1.0 is off."})
    batch_size: int = field(
        default=64, metadata={"help": "transformers: prompts per `generate` call; in the CPU loop, at most per batch."}
    )
    cache_implementation: str | None = field(
        default=None,
        metadata={"help": "transformers: KV cache of `generate`; unset: 'static' (+ torch.compile) on CUDA."},
    )
    decoding: str = field(
        default="auto",
        metadata={
            "help": "transformers: 'auto': on CPU our decoding loop (a cache allocated once, batches planned over "
            "the prompts of 16 x batch_size priors (whole shards), ended rows dropped, one thread per core), "
            "elsewhere `generate`; 'generate': `generate` everywhere, one shard's batches at a time (the earlier CPU "
            "path). The same notes but for rare near-ties (benchmarks/README.md, 'CPU generation')."
        },
    )
    cpu_threads: int | None = field(
        default=None,
        metadata={
            "help": "transformers, CPU loop: decoding threads; unset: one per core (divided among the "
            "processes of an `accelerate launch`)."
        },
    )
    chat_template_kwargs: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "transformers: extra variables of the model's chat template, e.g. {enable_thinking: false} for "
            "Qwen3 (vLLM takes the same as extra_body: {chat_template_kwargs: {...}}). YAML only."
        },
    )

    def __post_init__(self):
        check_range("batch_size", self.batch_size, 1)
        if self.decoding not in DECODINGS:
            raise MedsynError(f"decoding: {self.decoding!r} is not one of {', '.join(DECODINGS)}")
        if self.cpu_threads is not None:
            check_range("cpu_threads", self.cpu_threads, 1, 1024)
        check_range("top_k", self.top_k, 0)
        check_range("repetition_penalty", self.repetition_penalty, 0, low_open=True)


class TransformersBackend(Backend):
    """Chat-formatted prompts through `token_generator`, decoded; the end-of-sequence token ends a note."""

    name = "transformers"
    Config = TransformersConfig
    run_id_fields = ("top_k", "repetition_penalty", "chat_template_kwargs")

    def __init__(self, gen_args, model_args, device="cpu", model_and_tokenizer=None):
        super().__init__(gen_args, model_args, device)
        model, self.tokenizer = model_and_tokenizer or load_model(model_args, device)
        eos = model.generation_config.eos_token_id
        eos = eos if eos is not None else self.tokenizer.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos[0]
        self.generate_tokens = token_generator(model, gen_args, eos, pad)

    @classmethod
    def check(cls, gen_args, model_args) -> None:
        super().check(gen_args, model_args)
        check_model(model_args, gen_args)

    @classmethod
    def identity(cls, gen_args, model_args) -> tuple[dict, dict]:
        """Unset `chat_template_kwargs` stays out of the run id, so runs made before the field existed keep theirs
        (and resume from their request caches)."""
        sampling, model = super().identity(gen_args, model_args)
        if sampling.get("chat_template_kwargs") is None:
            sampling.pop("chat_template_kwargs", None)
        return sampling, model

    @classmethod
    def model_identity(cls, gen_args, model_args) -> dict:
        return {"dtype": model_args.dtype}

    @classmethod
    def prompts_per_call(cls, gen_args, device) -> int | None:
        """The CPU loop plans its batches over several shards' prompts (less padding, fuller batches, work for
        every thread); `generate` takes one shard at a time."""
        cpu = str(device) == "cpu" or getattr(device, "type", None) == "cpu"
        auto = getattr(gen_args, "decoding", "auto") == "auto"
        return POOL_BATCHES * gen_args.batch_size if cpu and auto else None

    def generate(self, messages_list, keys, on_batch: OnBatch | None = None, needed=None) -> list[Completion | None]:
        """``needed`` (the run passes it, `prompts_per_call`): the positions to complete; on the CPU loop the batches
        are planned over every prompt and those holding a needed one are decoded (None for the others)."""
        template_kwargs = self.config.chat_template_kwargs or {}
        prompts = [
            self.tokenizer.apply_chat_template(
                list(m), add_generation_prompt=True, tokenize=True, return_dict=True, **template_kwargs
            )["input_ids"]
            for m in messages_list
        ]

        def completion(i, ids, n, stopped) -> Completion:
            return Completion(
                self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                len(prompts[i]),
                n,
                "stop" if stopped else "length",
            )

        completions = {}

        def done(batch):
            finished = {i: completion(i, *result) for i, result in batch.items()}
            completions.update(finished)
            if on_batch:
                on_batch(finished)

        self.generate_tokens(prompts, keys, done, needed)
        return [completions.get(i) for i in range(len(prompts))]
