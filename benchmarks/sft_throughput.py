"""SFT throughput: the MedSyn reference batch shape vs our recipe, same model and data, one run; prints one JSON line.

Reference: micro-batches of 4 examples padded to the longest, no packing, activation checkpointing on (TRL's
default). Ours: the recipe's own settings (`recipes/<shape>/sft/config*.yaml`): on CUDA packed padding-free rows with
varlen flash attention and no checkpointing; where no varlen kernel exists, length-grouped batches. Both train the
same randomly initialised model (LoRA r=16 on q,k,v,o for the 7B shape, as the recipe) on the same MedSyn GPT
notes, tokenised with the tiny model's tokenizer, for `--steps` optimizer steps after `--warmup` untimed ones.

Real tokens are non-pad tokens; MFU counts 6N FLOPs per real token (4N with LoRA, which skips the weight
gradients), N = base model parameters, against the device's dense bf16 peak (or --peak-tflops).

    python benchmarks/sft_throughput.py                                  # tiny model, CPU (`make bench`)
    python benchmarks/sft_throughput.py --model-shape llama-2-7b --device cuda --steps 20
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before the HF imports read it
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from generation_throughput import SHAPES  # noqa: E402  (the one LLaMA-2-7B shape of both benchmarks)
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, TrainerCallback, set_seed  # noqa: E402

from medsyn_hf.tiny_model import build as build_tiny_model  # noqa: E402
from medsyn_hf.training.attention import configure_attention  # noqa: E402
from medsyn_hf.training.sft import build_trainer, parse_args  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "data" / "sources"
RECIPES = {
    "tiny": REPO / "recipes/tiny/sft/config.yaml",
    "llama-2-7b": REPO / "recipes/llama-2-7b/sft/config_lora.yaml",
}
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "H800": 989.4, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}
SYSTEM = "Ты — опытный врач. Пиши медицинские записи на русском языке."


def write_notes(out: Path, n: int) -> Path:
    """The first `n` MedSyn GPT notes as conversational prompt-completion rows, one parquet file."""
    with gzip.open(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "rt", encoding="utf-8") as f:
        notes = [json.loads(line) for _, line in zip(range(n), f)]
    rows = [
        {
            "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": note["prompt"].strip()}],
            "completion": [{"role": "assistant", "content": note["response"]}],
        }
        for note in notes
    ]
    out.mkdir(parents=True)
    datasets.Dataset.from_list(rows).to_parquet(str(out / "train.parquet"))
    return out


def recipe_args(shape, device, steps, max_length, tokenizer_dir: Path, data_dir: Path, out: Path, reference: bool):
    """The recipe's arguments pointed at the benchmark's tokenizer and data; the reference changes the batch shape."""
    config = yaml.safe_load(RECIPES[shape].read_text(encoding="utf-8"))
    for key in ("datasets", "test_split_size", "dataset_config", "chat_template_path", "attn_implementation"):
        config.pop(key, None)
    config.update(
        model_name_or_path=str(tokenizer_dir),
        dataset_name=str(data_dir),
        output_dir=str(out),
        max_steps=steps,
        gradient_accumulation_steps=1,
        eval_strategy="no",
        save_strategy="no",
        save_merged_model=False,
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
        use_cpu=device == "cpu",
        bf16=device == "cuda",
        dtype="bfloat16" if device == "cuda" else "float32",
        log_level="warning",
    )
    if max_length:
        config["max_length"] = max_length
    if reference:
        config.update(
            per_device_train_batch_size=4,
            packing=False,
            padding_free=False,
            train_sampling_strategy="random",
            activation_checkpointing=True,
            attn_implementation="sdpa",
        )
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return parse_args(["--config", str(path)])


def random_model(shape: str, tokenizer_dir: Path, model_args, device: str):
    config = AutoConfig.from_pretrained(tokenizer_dir)
    if shape == "llama-2-7b":
        ids = {k: getattr(config, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
        config = LlamaConfig(**SHAPES["llama-2-7b"], **ids)
    set_seed(0)
    dtype = getattr(torch, model_args.dtype)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(
            config, dtype=dtype, attn_implementation=model_args.attn_implementation
        )


class StepTimer(TrainerCallback):
    """Wall time of the steps after the warm-up ones, synchronising the GPU so queued kernels are counted."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, None, None

    def on_step_end(self, args, state, control, **kwargs):
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        if state.global_step == self.warmup:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def counting(collate, counts: list):
    """Wrap the collator to record (real, padded) tokens of each micro-batch, in order."""

    def wrapped(examples):
        batch = collate(examples)
        real = batch["attention_mask"].sum() if "attention_mask" in batch else batch["input_ids"].numel()
        counts.append((int(real), batch["input_ids"].numel()))
        return batch

    return wrapped


def measure(name, args, steps, tokenizer_dir, data_dir, work, peak_flops):
    shape, device, warmup = args.model_shape, args.device, args.warmup
    script_args, training_args, model_args = recipe_args(
        shape,
        device,
        warmup + steps,
        args.max_length,
        tokenizer_dir,
        data_dir,
        work / name,
        reference=name == "reference",
    )
    configure_attention(training_args, model_args)
    model = random_model(shape, tokenizer_dir, model_args, device)
    n_params = model.num_parameters()
    trainer, _ = build_trainer(script_args, training_args, model_args, model=model)
    timer, counts = StepTimer(warmup), []
    trainer.add_callback(timer)
    trainer.data_collator = counting(trainer.data_collator, counts)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is the one JSON line
        trainer.train()
    timed = counts[warmup : warmup + steps]
    real, padded = sum(r for r, _ in timed), sum(p for _, p in timed)
    seconds = timer.end - timer.start
    flops_per_token = (4 if model_args.use_peft else 6) * n_params
    result = {
        "tokens_per_s": round(real / seconds, 1),
        "mfu": round(real / seconds * flops_per_token / peak_flops, 4) if peak_flops else None,
        "seconds": round(seconds, 2),
        "real_tokens": real,
        "pad_fraction": round(1 - real / padded, 4),
        "micro_batch": training_args.per_device_train_batch_size,
        "packing": training_args.packing,
        "sampling": training_args.train_sampling_strategy,
        "activation_checkpointing": training_args.activation_checkpointing,
        "attn_implementation": model_args.attn_implementation,
        "max_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device == "cuda" else None,
    }
    del trainer, model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return result, n_params, flops_per_token


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-shape", choices=sorted(RECIPES), default="tiny")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 on cuda, 6 on cpu)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--notes", type=int, default=1000, help="MedSyn GPT notes in the data")
    parser.add_argument("--max-length", type=int, default=None, help="override the recipe's max_length")
    parser.add_argument("--tiny-model", type=Path, default=None, help="`medsyn tiny-model` output (built if absent)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (default: known GPUs)")
    args = parser.parse_args(argv)
    steps = args.steps or (20 if args.device == "cuda" else 6)

    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    known_peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device_name), None)
    peak = args.peak_tflops or (known_peak if args.device == "cuda" else None)
    peak_flops = peak * 1e12 if peak else None

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tokenizer_dir = args.tiny_model or build_tiny_model(work / "tiny-model")
        data_dir = write_notes(work / "data", args.notes)
        results = {}
        for name in ("reference", "ours"):
            results[name], n_params, flops_per_token = measure(
                name, args, steps, tokenizer_dir, data_dir, work, peak_flops
            )

    speedup = results["ours"]["tokens_per_s"] / results["reference"]["tokens_per_s"]
    print(
        json.dumps(
            {
                "benchmark": "sft_throughput",
                "model_shape": args.model_shape,
                "device": device_name,
                "params": n_params,
                "flops_per_token": flops_per_token,
                "peak_tflops": peak,
                "steps": steps,
                "max_length": args.max_length or "recipe",
                **results,
                "speedup": round(speedup, 3),
                "targets_met": {"speedup>=3.5": speedup >= 3.5, "mfu>=0.40": (results["ours"]["mfu"] or 0) >= 0.40}
                if args.model_shape == "llama-2-7b"
                else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
