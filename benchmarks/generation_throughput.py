"""Generation throughput: our default transformers path vs the MedSyn reference shape and plain batched `generate`,
same random model and prompts, one run; prints one JSON object.

- reference: one prompt at a time, `generate(do_sample=True)` (MedSyn's generation loop), `--reference-prompts`
  prompts of at most `--reference-max-new-tokens` tokens.
- plain: one batch of `--plain-batch-size` prompts in their given order, left-padded, `generate(do_sample=True)`,
  dynamic cache.
- ours: `medsyn_hf.generation.backends.transformers.token_generator`, what `medsyn generate` runs: batches of
  `--batch-size` sorted by length, per-row seeded sampling; on CUDA `generate` with a static cache and a compiled
  decoding step (CUDA graphs), on CPU the backend's decoding loop (`decode.py`, one thread per core). On CUDA one
  untimed batch of the longest prompts first pays for the compilation (`warmup_s`), as a long run pays it once.
- continuous (CUDA, optional): transformers' own continuous batching (`generate_batch`, paged attention), default
  settings; recorded as an error if this transformers version lacks it.

Prompts are random token ids (a random model has no tokenizer worth using) with lengths uniform in
[P/2, 3P/2], P = `--prompt-tokens` (256 ≈ our median prompt, ~640 Russian characters, in LLaMA-2 tokens). A random
model rarely emits end-of-sequence, so nearly every row generates `--max-new-tokens` tokens; only generated tokens
up to and including an end-of-sequence count. Needs only torch and transformers:

    python benchmarks/generation_throughput.py                                    # tiny shape, CPU (`make bench`)
    python benchmarks/generation_throughput.py --model-shape llama-2-7b --device cuda --num-prompts 512
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import transformers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from medsyn_hf.generation.backends.transformers import token_generator, uses_loop  # noqa: E402

SHAPES = {
    "tiny": dict(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        vocab_size=8000,
    ),
    "llama-2-7b": dict(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
        vocab_size=32000,
        rms_norm_eps=1e-5,
    ),
}
EOS, PAD = 2, 0
SAMPLING = dict(temperature=0.8, top_k=50, top_p=0.95)  # our default (and transformers' top-k)
# what the issue measured on one H100 with the LLaMA-2-7B generator, for scale
MEASURED_ELSEWHERE = {
    "reference_tokens_per_s": 9,
    "plain_batch_192_tokens_per_s": 1600,
    "transformers_continuous_batching_tokens_per_s": 1000,
    "target_tokens_per_s": 10000,
}


def build_model(shape: str, device: str):
    config = LlamaConfig(
        **SHAPES[shape], bos_token_id=1, eos_token_id=EOS, pad_token_id=PAD, tie_word_embeddings=False
    )
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, attn_implementation="sdpa", dtype=dtype)
    return model.eval()


def make_prompts(n: int, mean: int, vocab: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(mean // 2, mean * 3 // 2 + 1, (n,), generator=g).tolist()
    return [torch.randint(3, vocab, (k,), generator=g).tolist() for k in lengths]


def count_generated(out: torch.Tensor) -> int:
    """Generated tokens per row up to and including the first end-of-sequence (the rest is padding)."""
    is_eos = out == EOS
    stopped = is_eos.any(dim=1)
    return int(torch.where(stopped, is_eos.int().argmax(dim=1) + 1, out.shape[1]).sum())


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def free(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def timed(device: str, fn):
    sync(device)
    start = time.perf_counter()
    tokens = fn()
    sync(device)
    seconds = time.perf_counter() - start
    return {"tokens": tokens, "seconds": round(seconds, 3), "tokens_per_s": round(tokens / seconds, 1)}


def sampling_config(max_new_tokens: int) -> GenerationConfig:
    return GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=True, eos_token_id=EOS, pad_token_id=PAD, **SAMPLING
    )


def reference(model, prompts, max_new_tokens: int, device: str) -> dict:
    config = sampling_config(max_new_tokens)

    def run():
        n = 0
        for p in prompts:
            ids = torch.tensor([p], device=device)
            n += count_generated(
                model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)[:, ids.shape[1] :]
            )
        return n

    with torch.inference_mode():
        return {"prompts": len(prompts), "max_new_tokens": max_new_tokens, **timed(device, run)}


def plain(model, prompts, max_new_tokens: int, device: str) -> dict:
    length = max(map(len, prompts))
    ids = torch.full((len(prompts), length), PAD, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, length - len(p) :], mask[row, length - len(p) :] = torch.tensor(p), 1
    ids, mask = ids.to(device), mask.to(device)
    config = sampling_config(max_new_tokens)
    with torch.inference_mode():
        result = timed(
            device,
            lambda: count_generated(model.generate(ids, attention_mask=mask, generation_config=config)[:, length:]),
        )
    return {"prompts": len(prompts), "batch_size": len(prompts), **result}


def ours(model, prompts, args) -> dict:
    gen_args = SimpleNamespace(
        max_new_tokens=args.max_new_tokens,
        repetition_penalty=1.0,
        cache_implementation=None,
        batch_size=args.batch_size,
        **SAMPLING,
    )
    generate = token_generator(model, gen_args, [EOS], PAD)
    keys = list(range(len(prompts)))
    loop = uses_loop(model, gen_args)
    cache = "allocated once (decoding loop)" if loop else model.generation_config.cache_implementation or "dynamic"
    compiled = cache == "static" and args.device == "cuda"
    warmup = {"seconds": 0.0}
    if compiled:  # one batch of the longest prompts: compiles the decoding step for the shape every batch reuses
        longest = sorted(prompts, key=len, reverse=True)[: args.batch_size]
        warmup = timed(args.device, lambda: sum(n for _, n, _ in generate(longest, keys)))
    result = timed(args.device, lambda: sum(n for _, n, _ in generate(prompts, keys)))
    return {
        "prompts": len(prompts),
        "batch_size": args.batch_size,
        "cache": cache,
        "compiled": compiled,
        "warmup_s": warmup["seconds"],
        **result,
    }


def continuous(model, prompts, max_new_tokens: int, device: str) -> dict:
    if not hasattr(model, "generate_batch"):
        return {"error": f"transformers {transformers.__version__} has no generate_batch"}
    config = sampling_config(max_new_tokens)
    try:
        with torch.inference_mode():
            model.generate_batch(prompts[:8], generation_config=config)  # warm-up (CUDA graphs, cache allocation)
            result = timed(
                device,
                lambda: sum(
                    len(o.generated_tokens) for o in model.generate_batch(prompts, generation_config=config).values()
                ),
            )
    except Exception as err:  # optional comparison: any failure is reported, not fatal
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
    return {"prompts": len(prompts), **result}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--num-prompts", type=int, default=None, help="ours (and continuous); default 64 tiny, 512 7B")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 32 tiny, 256 7B")
    parser.add_argument("--prompt-tokens", type=int, default=256, help="mean prompt length")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="ours; default 64 tiny, 128 7B (static cache fits)"
    )
    parser.add_argument("--plain-batch-size", type=int, default=192)
    parser.add_argument("--reference-prompts", type=int, default=2)
    parser.add_argument("--reference-max-new-tokens", type=int, default=128)
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["reference", "plain", "ours", "continuous"],
        choices=["reference", "plain", "ours", "continuous"],
    )
    args = parser.parse_args(argv)
    big = args.model_shape == "llama-2-7b"
    args.num_prompts = args.num_prompts or (512 if big else 64)
    args.max_new_tokens = args.max_new_tokens or (256 if big else 32)
    args.batch_size = args.batch_size or (128 if big else 64)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device")
    if args.device == "cpu" and "continuous" in args.paths:
        args.paths.remove("continuous")  # paged attention on CPU says nothing about the GPU path

    model = build_model(args.model_shape, args.device)
    prompts = make_prompts(args.num_prompts, args.prompt_tokens, model.config.vocab_size, seed=0)
    report = {
        "benchmark": "generation_throughput",
        "model_shape": args.model_shape,
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": str(model.dtype),
        "parameters": sum(p.numel() for p in model.parameters()),
        "prompt_tokens_mean": args.prompt_tokens,
        "max_new_tokens": args.max_new_tokens,
        "measured_elsewhere": MEASURED_ELSEWHERE if big else None,
    }
    runs = {
        "reference": lambda: reference(
            model,
            prompts[: args.reference_prompts],
            min(args.reference_max_new_tokens, args.max_new_tokens),
            args.device,
        ),
        "plain": lambda: plain(model, prompts[: args.plain_batch_size], args.max_new_tokens, args.device),
        "continuous": lambda: continuous(model, prompts, args.max_new_tokens, args.device),
        "ours": lambda: ours(model, prompts, args),  # last: it replaces the model's generation config
    }
    for name in ("reference", "plain", "continuous", "ours"):
        if name in args.paths:
            try:
                report[name] = runs[name]()
            except torch.OutOfMemoryError:  # e.g. plain batch-192 `generate` with a 7B model's dynamic cache
                report[name] = {"error": "out of memory"}
            free(args.device)
            print(f"{name}: {report[name]}", file=sys.stderr, flush=True)
    best = report.get("ours", {}).get("tokens_per_s")
    for name in ("reference", "plain", "continuous"):
        base = report.get(name, {}).get("tokens_per_s")
        if best and base:
            report[f"ours_vs_{name}"] = round(best / base, 2)
    if big and best:
        report["target_met"] = best >= MEASURED_ELSEWHERE["target_tokens_per_s"]
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
