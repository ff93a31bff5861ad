"""The packaged writer on CPU: the decoding loop (`decoding: auto`, the default) against the earlier path (`decoding:
generate`) in one run, at the tiny recipe's settings (recipes/tiny/generate/config.yaml: 192 new tokens, temperature
0.3, top-k 50, top-p 0.95); prints one JSON object and writes it to --out.

    python benchmarks/cpu_generation.py                      # ~6 min on 2 idle cores -> benchmarks/cpu_generation.json

Three parts, each measuring both paths in the same run:

1. ``bound``: the compute bound. The model's own matrix products (every `nn.Linear` of the writer, the output layer
   included, on `--bound-rows` rows) timed on all cores: one thread per core with one torch thread each (as the loop
   runs) and one thread with a torch thread per core (as `generate` runs); the faster gives GFLOP/s, and
   GFLOP/s / (2 x the linear layers' parameters) is the most new tokens/s the cores could compute. Prompt tokens and
   attention are extra work this bound does not count.
2. ``decode``: token generation alone on `--decode-notes` recipe priors, model loaded: the earlier path as a run
   calls it (one `generate` call per shard of the recipe's `shard_size`, batches of 38, one process with a torch
   thread per core) and the loop (one call for all, the recipe's `batch_size`, `cpu_threads` unset: one per core).
   notes/s, new tokens/s, share of the bound; `identical_notes` compares the generated token ids.
3. ``end_to_end``: `medsyn generate --config recipes/tiny/generate/config.yaml --num_priors N` as a user runs it
   (wall clock: interpreter start, priors, model load, generation, filters, notes.parquet), for each path; the earlier
   one as `--decoding generate --batch_size 38`. `identical_notes` compares the notes.parquet texts.

The machine's load average is recorded before and after: figures from a loaded machine are only comparable within
the run (the `speedup` ratios); `cpu_seconds` (the CPU time the path used) suffers less from other jobs than the wall
clock, though spinning torch threads add to it. Needs the repository installed (`make install`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import transformers
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RECIPE = ROOT / "recipes" / "tiny" / "generate" / "config.yaml"
OLD = {"decoding": "generate", "batch_size": 38}  # the path before the loop, as the recipe ran it
TARGET_NOTES_PER_S = 20


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def recipe_args(**overrides):
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.recipe_args import parse_args

    flags = [a for k, v in overrides.items() for a in (f"--{k}", str(v))]
    return parse_args(["--config", str(RECIPE), *flags], make_parser())


# -- 1. the bound -----------------------------------------------------------------------------------------------------
def linear_products(model, rows: int):
    """One call per `nn.Linear` of the model on ``rows`` rows: the matrix products of a decoding step."""
    weights = [m.weight.detach() for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(rows, w.shape[1]) for w in weights]
    flop = 2 * rows * sum(w.numel() for w in weights)

    def run():
        for x, w in zip(inputs, weights):
            torch.nn.functional.linear(x, w)

    return run, flop, sum(w.numel() for w in weights)


def timed_products(run, flop: int, threads: int, seconds: float) -> float:
    """GFLOP/s of ``run`` repeated for about ``seconds`` on ``threads`` Python threads at once."""
    run()
    count = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(k):
        while time.perf_counter() < stop:
            run()
            count[k] += 1

    start = time.perf_counter()
    pool = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(count) * flop / (time.perf_counter() - start) / 1e9


def bound(model, rows: int, seconds: float) -> dict:
    run, flop, params = linear_products(model, rows)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        per_core = timed_products(run, flop, cores(), seconds)
        torch.set_num_threads(cores())
        intra_op = timed_products(run, flop, 1, seconds)
    finally:
        torch.set_num_threads(threads)
    best = max(per_core, intra_op)
    return {
        "rows": rows,
        "linear_parameters": params,
        "flop_per_new_token": 2 * params,
        "gflop_per_s_thread_per_core": round(per_core, 1),
        "gflop_per_s_one_thread_torch_per_core": round(intra_op, 1),
        "gflop_per_s": round(best, 1),
        "new_tokens_per_s": round(best * 1e9 / (2 * params)),
    }


# -- 2. decoding ------------------------------------------------------------------------------------------------------
def rate(notes: int, tokens: int, seconds: float, cpu_seconds: float, bound_tokens: float) -> dict:
    return {
        "notes": notes,
        "new_tokens": tokens,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "notes_per_s": round(notes / seconds, 2),
        "new_tokens_per_s": round(tokens / seconds),
        "share_of_bound": round(tokens / seconds / bound_tokens, 4),
    }


def decode(model, tokenizer, n: int, bound_tokens: float, sweep: list[int]) -> dict:
    from medsyn_hf.generation.backends import row_key
    from medsyn_hf.generation.backends.transformers import token_generator
    from medsyn_hf.generation.run import load_priors, shard_ranges

    script, gen, _ = recipe_args(num_priors=n)
    priors = load_priors(script, gen.seed)
    prompts = [
        tokenizer.apply_chat_template(list(m), add_generation_prompt=True, return_dict=True)["input_ids"]
        for m in priors["messages"]
    ]
    keys = [row_key(gen.seed, s) for s in priors["seed"]]
    eos, pad = [tokenizer.eos_token_id], tokenizer.pad_token_id
    report = {"prompts": n, "prompt_tokens_mean": round(sum(map(len, prompts)) / n, 1)}
    outputs = {}
    threads = torch.get_num_threads()
    runs = [("old", OLD), ("new", {})] + [(f"new_batch_size_{b}", {"batch_size": b}) for b in sweep]
    for name, overrides in runs:
        _, args, _ = recipe_args(num_priors=n, **overrides)
        generate = token_generator(model, args, eos, pad)
        calls = shard_ranges(n, script.shard_size) if name == "old" else [range(n)]
        torch.set_num_threads(cores())  # a process's default: one torch thread per core
        start, cpu = time.perf_counter(), time.process_time()
        results = [r for rows in calls for r in generate([prompts[i] for i in rows], [keys[i] for i in rows])]
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        torch.set_num_threads(threads)
        outputs[name] = [ids.tolist() for ids, _, _ in results]
        report[name] = {
            "batch_size": args.batch_size,
            "calls": len(calls),
            **rate(n, sum(k for _, k, _ in results), seconds, cpu, bound_tokens),
        }
        print(f"decode {name}: {report[name]}", file=sys.stderr, flush=True)
    report["speedup"] = round(report["old"]["seconds"] / report["new"]["seconds"], 2)
    report["identical_notes"] = f"{sum(a == b for a, b in zip(outputs['old'], outputs['new']))}/{n}"
    return report


# -- 3. end to end ----------------------------------------------------------------------------------------------------
def end_to_end(n: int, bound_tokens: float, folder: Path) -> dict:
    import pyarrow.parquet as pq

    report, texts = (
        {"notes": n, "command": f"medsyn generate --config {RECIPE.relative_to(ROOT)} --num_priors {n}"},
        {},
    )
    for name, overrides in (("old", OLD), ("new", {})):
        flags = [a for k, v in overrides.items() for a in (f"--{k}", str(v))]
        cmd = [sys.executable, "-m", "medsyn_hf.cli", "generate", "--config", str(RECIPE), "--num_priors", str(n)]
        cmd += ["--output_dir", str(folder / name), *flags, "--json"]
        start, cpu = time.perf_counter(), children_cpu()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
        seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        table = pq.read_table(result["notes_file"], columns=["response", "completion_tokens"]).to_pydict()
        texts[name] = table["response"]
        report[name] = {
            "flags": " ".join(flags),
            "kept": result["kept"],
            **rate(result["notes"], sum(table["completion_tokens"]), seconds, cpu, bound_tokens),
        }
        print(f"end to end {name}: {report[name]}", file=sys.stderr, flush=True)
    report["speedup"] = round(report["old"]["seconds"] / report["new"]["seconds"], 2)
    report["identical_notes"] = f"{sum(a == b for a, b in zip(texts['old'], texts['new']))}/{n}"
    report["target_notes_per_s"] = TARGET_NOTES_PER_S
    report["target_met"] = report["new"]["notes_per_s"] >= TARGET_NOTES_PER_S
    return report


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decode-notes", type=int, default=300, help="priors for the decoding comparison")
    parser.add_argument("--notes", type=int, default=1000, help="priors for the end-to-end runs (0: skip them)")
    parser.add_argument("--sweep", type=int, nargs="*", default=[], help="also the loop at these batch sizes")
    parser.add_argument("--bound-rows", type=int, default=1024)
    parser.add_argument("--bound-seconds", type=float, default=5.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "cpu_generation.json"), help="'-': stdout only")
    args = parser.parse_args(argv)

    from trl import ModelConfig

    from medsyn_hf.generation.backends import load_model
    from medsyn_hf.tiny_model import resolve_model

    recipe = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    model_args = ModelConfig(model_name_or_path=resolve_model(recipe["model_name_or_path"]), dtype=recipe["dtype"])
    model, tokenizer = load_model(model_args, "cpu")
    report = {
        "benchmark": "cpu_generation",
        "command": " ".join(["python benchmarks/cpu_generation.py", *(sys.argv[1:] if argv is None else argv)]),
        "cpu": cpu_name(),
        "cores": cores(),
        "load_average_before": load(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "model": recipe["model_name_or_path"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "settings": {k: recipe[k] for k in ("max_new_tokens", "temperature", "top_k", "top_p", "shard_size")},
        "new_path": {"decoding": "auto", "batch_size": recipe["batch_size"], "cpu_threads": "one per core"},
        "old_path": OLD,
    }
    report["bound"] = bound(model, args.bound_rows, args.bound_seconds)
    print(f"bound: {report['bound']}", file=sys.stderr, flush=True)
    report["decode"] = decode(model, tokenizer, args.decode_notes, report["bound"]["new_tokens_per_s"], args.sweep)
    if args.notes:
        with tempfile.TemporaryDirectory(prefix="cpu-generation-") as tmp:
            report["end_to_end"] = end_to_end(args.notes, report["bound"]["new_tokens_per_s"], Path(tmp))
    report["load_average_after"] = load()
    text = json.dumps(report, ensure_ascii=False)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
