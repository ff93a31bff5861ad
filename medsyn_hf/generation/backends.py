"""Backends turn chat prompts into notes: ``transformers`` (in process, batched) and ``openai`` (any OpenAI-compatible
server: vLLM, TGI, ``transformers serve``). Each is a function ``(messages_list, keys, on_batch) -> [Completion]``.

Sampling is per row. In the transformers backend row r's token at step t is drawn by inverse CDF from the
top-k/top-p-truncated softmax with one uniform number that is a hash of (row key, t) alone: an exact draw, and
independent of which rows share the batch, how many processes run or in which order shards are done. So a resumed or
data-parallel run writes the same notes as a single uninterrupted one (bit for bit on CPU; on a GPU as far as its
kernels give the same logits for the same batch). The openai backend sends the row key as the request's ``seed``
(servers that honour it per request, such as vLLM, are then reproducible per row too).

Only torch and transformers are imported (lazily), so ``benchmarks/generation_throughput.py`` runs on a bare GPU box.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from medsyn_hf.errors import MedsynError, first_line

_M32 = 0xFFFFFFFF


class Completion(NamedTuple):
    text: str
    prompt_tokens: int
    completion_tokens: int  # generated tokens, the end-of-sequence token included
    finish_reason: str  # "stop" (end of sequence) or "length" (max_new_tokens reached)


def row_key(seed: int, prior_seed: int) -> int:
    """The 31-bit sampling key of one row: a function of the run seed and the prior's own seed only."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{prior_seed}".encode(), digest_size=4).digest(), "little") >> 1


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


def make_row_sampler(keys, prompt_length: int, temperature: float, top_k: int, top_p: float):
    """A LogitsProcessor for greedy `generate` that turns argmax into per-row sampling (see the module docstring):
    it leaves only the sampled token finite. With top-k the rest works on the k best tokens only (no vocabulary sort)."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)] if temperature > 0 else [])
    if temperature > 0 and top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))

    class RowSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            if temperature == 0:
                return scores
            best, index = torch.topk(scores, top_k) if 0 < top_k < scores.shape[1] else (scores, None)
            token = sample_rows(warpers(input_ids, best), keys, input_ids.shape[1] - prompt_length)
            if index is not None:
                token = index.gather(1, token)
            return torch.full_like(scores, -float("inf")).scatter_(1, token, 0.0)

    return RowSampler()


# -- transformers ---------------------------------------------------------------------------------------------------
def is_model_folder(folder) -> bool:
    """A model with its tokenizer, or a LoRA adapter as SFT saves it."""
    return os.path.isfile(os.path.join(folder, "adapter_config.json")) or all(
        os.path.isfile(os.path.join(folder, name)) for name in ("config.json", "tokenizer_config.json"))


def adapter_base(folder) -> str | None:
    """The base model a LoRA adapter folder names; None for a full model."""
    if os.path.isfile(os.path.join(folder, "config.json")):
        return None
    try:
        with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as f:
            return json.load(f)["base_model_name_or_path"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MedsynError(f"{folder}: unreadable adapter_config.json ({type(err).__name__}: {err})") from None


def load_model(model_args, device):
    """Model (+ merged LoRA adapter) and tokenizer; the adapter folder's tokenizer wins when it has one (SFT saves it)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = getattr(model_args, "adapter_name_or_path", None)
    tokenizer_source = adapter if adapter and os.path.isfile(os.path.join(adapter, "tokenizer_config.json")) else None
    kwargs = dict(revision=model_args.model_revision, trust_remote_code=getattr(model_args, "trust_remote_code", False))
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source or model_args.model_name_or_path, **kwargs)
        dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
        model = AutoModelForCausalLM.from_pretrained(
            model_args.model_name_or_path, dtype=dtype, attn_implementation=model_args.attn_implementation,
            device_map=str(device), **kwargs,
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


def token_generator(model, gen_args, eos: list[int], pad: int) -> Callable:
    """``(prompts: token id lists, keys, on_batch) -> [(generated ids, n_tokens, stopped)]`` in the prompts' order.

    Batches of ``gen_args.batch_size`` prompts sorted by length (longest first, so an out-of-memory shows at once),
    left-padded. On CUDA the default cache is static, which makes `generate` compile the decoding step (CUDA graphs);
    the first (longest) batch sizes the cache and later batches reuse its shape: one compilation per batch size.
    """
    import torch
    from transformers import GenerationConfig

    device = model.device
    cache = gen_args.cache_implementation or ("static" if device.type == "cuda" else None)
    # Replaces the model's own generation config: its sampling defaults (do_sample, temperature ...) must not mix in.
    model.generation_config = GenerationConfig(
        max_new_tokens=gen_args.max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=pad,
        repetition_penalty=None if gen_args.repetition_penalty == 1.0 else gen_args.repetition_penalty,
        cache_implementation=cache,
    )
    eos_tensor = torch.tensor(eos, device=device)

    @torch.inference_mode()
    def generate(prompts, keys, on_batch=None) -> list:
        order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
        results = [None] * len(prompts)
        for start in range(0, len(order), gen_args.batch_size):
            batch = order[start:start + gen_args.batch_size]
            length = len(prompts[batch[0]])
            input_ids = torch.full((len(batch), length), pad, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), length), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, length - len(prompts[i]):] = torch.tensor(prompts[i])
                attention_mask[row, length - len(prompts[i]):] = 1
            sampler = make_row_sampler(torch.tensor([keys[i] for i in batch], device=device), length,
                                       gen_args.temperature, gen_args.top_k, gen_args.top_p)
            out = model.generate(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                                 logits_processor=[sampler])[:, length:]
            is_eos = torch.isin(out, eos_tensor)
            stopped = is_eos.any(dim=1)
            n_tokens = torch.where(stopped, is_eos.int().argmax(dim=1) + 1, out.shape[1]).tolist()
            out, stopped = out.cpu(), stopped.tolist()
            for row, i in enumerate(batch):
                results[i] = (out[row, :n_tokens[row]], n_tokens[row], stopped[row])
            if on_batch:
                on_batch(len(batch), sum(n_tokens))
        return results

    return generate


def transformers_backend(model_args, gen_args, device="cpu", model_and_tokenizer=None) -> Callable:
    """Chat-formatted prompts through `token_generator`, decoded; the end-of-sequence token ends a note."""
    model, tokenizer = model_and_tokenizer or load_model(model_args, device)
    eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None else tokenizer.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    generate_tokens = token_generator(model, gen_args, eos, pad)

    def generate(messages_list, keys, on_batch=None) -> list[Completion]:
        prompts = [tokenizer.apply_chat_template(list(m), add_generation_prompt=True, tokenize=True, return_dict=True)
                   ["input_ids"] for m in messages_list]
        return [Completion(tokenizer.decode(ids, skip_special_tokens=True).strip(), len(prompt), n,
                           "stop" if stopped else "length")
                for prompt, (ids, n, stopped) in zip(prompts, generate_tokens(prompts, keys, on_batch))]

    return generate


# -- OpenAI-compatible HTTP ---------------------------------------------------------------------------------------------
def _post(url: str, body: dict, headers: dict, timeout: float, retries: int = 3) -> dict:
    """POST JSON; retry 429/5xx and dropped connections with backoff; anything else is one MedsynError line."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                raise MedsynError(f"{url}: not authorised (HTTP {err.code}); put the key in the variable named by "
                                  "api_key_env") from None
            if err.code not in (429, 500, 502, 503, 504) or attempt == retries:
                detail = err.read()[:200].decode("utf-8", "replace").strip()
                raise MedsynError(f"{url}: HTTP {err.code} {detail}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            refused = isinstance(getattr(err, "reason", err), ConnectionRefusedError)
            if refused or attempt == retries:
                reason = getattr(err, "reason", err)
                raise MedsynError(f"cannot reach {url}: {reason} (is the server running?)") from None
        time.sleep(2**attempt)
    raise AssertionError("unreachable")


def openai_backend(model_args, gen_args) -> Callable:
    """Chat completions, `concurrency` requests in flight; the server applies the model's chat template."""
    url = gen_args.base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(gen_args.api_key_env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    # Only the OpenAI fields: servers that validate requests (OpenAI, transformers serve) refuse others; top-k or a
    # repetition penalty for vLLM / TGI go in extra_body.
    sampling = {"max_tokens": gen_args.max_new_tokens, "temperature": gen_args.temperature, "top_p": gen_args.top_p,
                **(gen_args.extra_body or {})}
    model = gen_args.served_model_name or model_args.model_name_or_path

    def one(messages, key) -> Completion:
        body = {"model": model, "messages": list(messages), "seed": key, "n": 1, **sampling}
        reply = _post(url, body, headers, gen_args.request_timeout)
        try:
            choice, usage = reply["choices"][0], reply.get("usage") or {}
            return Completion((choice["message"]["content"] or "").strip(), int(usage.get("prompt_tokens", 0)),
                              int(usage.get("completion_tokens", 0)),
                              "stop" if choice.get("finish_reason") == "stop" else "length")
        except (KeyError, IndexError, TypeError) as err:
            raise MedsynError(f"{url}: not an OpenAI chat completion reply ({err!r})") from None

    def generate(messages_list, keys, on_batch=None) -> list[Completion]:
        results = []
        with ThreadPoolExecutor(gen_args.concurrency) as pool:
            for completion in pool.map(one, messages_list, keys):
                results.append(completion)
                if on_batch:
                    on_batch(1, completion.completion_tokens)
        return results

    return generate
