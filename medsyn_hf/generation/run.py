"""Generation runs: priors -> prompts -> notes, in parquet shards of a run folder named by a hash of the config.

    output_dir/<run id>/config.json            the full config; its note-determining part (`run_config`) gives the id
    output_dir/<run id>/priors.parquet         one prior (PRIORS_FEATURES) per note to write
    output_dir/<run id>/shards/shard-00007.parquet   notes of priors [7*S, 8*S), written atomically: complete or absent
    output_dir/<run id>/notes.parquet          shards + priors + filter columns (NOTES_FEATURES): what `medsyn publish` reads
    output_dir/latest -> <run id>

Re-running the same config skips finished shards (a crash or `kill -9` loses at most the shards in flight and never
leaves a partial one). Under `accelerate launch` process r of N does the pending shards r, r+N, ...; sampling is per
row (`backends`), so any N and any resume give the same notes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.generation.backends import row_key
from medsyn_hf.io import atomic_path, check_output, claim_output

logger = logging.getLogger(__name__)
COMMAND = "medsyn generate"

SMALL_FILE = 64 << 20  # model files up to this size are hashed by content, larger ones by size and mtime


# -- identity -------------------------------------------------------------------------------------------------------
def model_fingerprint(name_or_path: str | None, revision: str | None = None) -> dict | None:
    """What identifies the weights: a local folder by its files, a Hub id by its revision."""
    if name_or_path is None:
        return None
    path = Path(name_or_path)
    if not path.is_dir():
        return {"id": name_or_path, "revision": revision}
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0".encode())
        if stat.st_size <= SMALL_FILE:
            digest.update(file.read_bytes())
        else:
            digest.update(str(stat.st_mtime_ns).encode())
    return {"path": str(path.resolve()), "files_sha256": digest.hexdigest()}


def priors_fingerprint(priors) -> str:
    return hashlib.sha256(json.dumps(priors.to_dict(), ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def run_config(script_args, gen_args, model_args, priors_sha256: str) -> dict:
    """Everything that changes the notes, and nothing that only changes the speed."""
    return {"priors_sha256": priors_sha256, "shard_size": script_args.shard_size,
            **backend_config(gen_args, model_args)}


def backend_config(gen_args, model_args) -> dict:
    """What decides a backend's reply to a prompt: the model (weights, adapter, dtype or served name) and sampling.
    Also the identity of `medsyn eval judge`'s cached requests."""
    sampling = {k: getattr(gen_args, k) for k in ("backend", "seed", "max_new_tokens", "temperature", "top_p")}
    model = {"model": model_fingerprint(model_args.model_name_or_path, model_args.model_revision),
             "adapter": model_fingerprint(model_args.adapter_name_or_path)}
    if gen_args.backend == "transformers":
        sampling.update(top_k=gen_args.top_k, repetition_penalty=gen_args.repetition_penalty)
        model["dtype"] = model_args.dtype
    else:
        sampling["extra_body"] = gen_args.extra_body
        model["served_model_name"] = gen_args.served_model_name or model_args.model_name_or_path
    return {"sampling": sampling, **model}


def run_id(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def generation_model_name(model_args) -> str:
    name = Path(model_args.model_name_or_path).name if Path(model_args.model_name_or_path).is_dir() \
        else model_args.model_name_or_path
    if model_args.adapter_name_or_path:
        name += f"+{Path(model_args.adapter_name_or_path).name}"
    return name


def is_generate_output(folder: Path) -> bool:
    """A runs folder from before output markers existed: a `latest` link to one of its runs."""
    return (folder / "latest").is_symlink() and (folder / "latest" / "config.json").is_file()


def check_model(model_args, gen_args) -> None:
    """The model (and adapter) can be found, and ``max_new_tokens`` fits its context: checked before any writing."""
    from transformers import AutoConfig

    from medsyn_hf.generation.backends import adapter_base
    from medsyn_hf.training.configs import check_model_path

    check_model_path("model_name_or_path", model_args.model_name_or_path)
    check_model_path("adapter_name_or_path", model_args.adapter_name_or_path)
    adapter = model_args.adapter_name_or_path
    if adapter and os.path.isdir(adapter) and not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        raise MedsynError(f"adapter_name_or_path: {adapter} has no adapter_config.json (not a LoRA adapter folder)")
    name = model_args.model_name_or_path
    if os.path.isdir(name) and adapter_base(name) is not None:
        return  # an adapter folder as the model: its base is resolved when it is loaded
    try:
        config = AutoConfig.from_pretrained(name, revision=model_args.model_revision,
                                            trust_remote_code=getattr(model_args, "trust_remote_code", False))
    except (OSError, ValueError) as err:
        raise MedsynError(f"model_name_or_path: cannot load {name!r} "
                          f"({first_line(err)})") from None
    context = getattr(config, "max_position_embeddings", None)
    if context and gen_args.max_new_tokens >= context:
        raise MedsynError(f"max_new_tokens: {gen_args.max_new_tokens} is out of range; allowed: 1..{context - 1} "
                          f"(the context of {name} is {context} tokens, the prompt included)")


# -- priors ---------------------------------------------------------------------------------------------------------
def load_priors(script_args, seed: int):
    """The priors of `dataset_name` (folder, parquet file or Hub id), else sampled from the packaged MKG."""
    import datasets

    from medsyn_hf.schemas import PRIORS_FEATURES

    if script_args.dataset_name is None:
        from medsyn_hf.kg import load_graph
        from medsyn_hf.priors import sample_priors

        return sample_priors(load_graph(), script_args.num_priors, seed=seed, mode=script_args.priors_mode,
                             codes=script_args.codes, level=script_args.priors_level, example_p=script_args.example_p,
                             temperature=script_args.priors_temperature, top_k=script_args.priors_top_k,
                             min_weight=script_args.priors_min_weight, source_weights=script_args.priors_source_weights,
                             inherit=script_args.priors_inherit, symptom_lists=script_args.priors_symptom_lists,
                             medsyn_compatible=script_args.priors_medsyn_compatible)
    source = Path(script_args.dataset_name)
    try:
        if source.suffix == ".parquet":
            ds = datasets.Dataset.from_parquet(str(source))
        elif (source / "dataset_info.json").is_file() or (source / "state.json").is_file():
            ds = datasets.load_from_disk(str(source))
        else:
            ds = datasets.load_dataset(script_args.dataset_name, script_args.dataset_config)
    except Exception as err:  # datasets raises many types (FileNotFoundError, DatasetNotFoundError, ArrowInvalid, ...)
        name = script_args.dataset_name
        why = (f"cannot read {name!r} as priors written by `medsyn priors`" if source.exists() else
               f"{name!r} is neither a local file or folder nor a reachable Hub dataset")
        raise MedsynError(f"dataset_name: {why} ({type(err).__name__})") from None
    if isinstance(ds, datasets.DatasetDict):
        if script_args.dataset_train_split not in ds:
            raise MedsynError(f"dataset_train_split: {script_args.dataset_name} has no split "
                              f"{script_args.dataset_train_split!r} (has {', '.join(ds)})")
        ds = ds[script_args.dataset_train_split]
    missing = sorted(set(PRIORS_FEATURES) - set(ds.column_names))
    if missing:
        raise MedsynError(f"{script_args.dataset_name}: not a priors dataset (missing {', '.join(missing)})")
    return ds.select_columns(list(PRIORS_FEATURES)).cast(PRIORS_FEATURES)


# -- shards ---------------------------------------------------------------------------------------------------------
def shard_path(run_dir: Path, index: int) -> Path:
    return run_dir / "shards" / f"shard-{index:05d}.parquet"


def shard_ranges(n: int, shard_size: int) -> list[range]:
    return [range(start, min(start + shard_size, n)) for start in range(0, n, shard_size)]


def pending_shards(run_dir: Path, num_shards: int) -> list[int]:
    return [i for i in range(num_shards) if not shard_path(run_dir, i).is_file()]


def remove_broken_shards(run_dir: Path, ranges: list[range]) -> list[int]:
    """Delete the shards that cannot be resumed from: unreadable (truncated by a full disk, copied half) or holding
    other rows than their range; they are generated again. Returns their indices."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    broken = []
    for index, rows in enumerate(ranges):
        path = shard_path(run_dir, index)
        if not path.is_file():
            continue
        try:
            table = pq.read_table(path, columns=["idx"])
            ok = table["idx"].to_pylist() == list(rows)
        except (OSError, pa.ArrowException, KeyError):
            ok = False
        if not ok:
            logger.warning("%s: unreadable or incomplete shard; removed, it will be generated again", path)
            path.unlink()
            broken.append(index)
    return broken


def write_shard(path: Path, rows: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(pa.table(rows), tmp)


def _prepare(run_dir: Path, config: dict, full_config: dict, priors) -> None:
    """Main process only: the run folder, its config and priors, no temporary left by a killed run, no broken shard."""
    (run_dir / "shards").mkdir(parents=True, exist_ok=True)
    remove_broken_shards(run_dir, shard_ranges(len(priors), config["shard_size"]))
    for stale in (run_dir / "shards").glob(".shard-*"):  # atomic_path's temporaries of a killed process
        shutil.rmtree(stale, ignore_errors=True)
    with atomic_path(run_dir / "config.json") as tmp:  # the latest invocation's (its filters made notes.parquet)
        tmp.write_text(json.dumps({"run_id": run_dir.name, "run_config": config, **full_config},
                                  ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    if not (run_dir / "priors.parquet").is_file():
        with atomic_path(run_dir / "priors.parquet") as tmp:
            priors.to_parquet(str(tmp))


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


def _progress(total: int, disable: bool):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="note", desc="generating", disable=disable, dynamic_ncols=True)
    start, tokens = time.perf_counter(), [0]

    def update(notes: int, generated: int) -> None:
        tokens[0] += generated
        bar.update(notes)
        bar.set_postfix(tok_s=f"{tokens[0] / max(time.perf_counter() - start, 1e-9):.0f}")

    return bar, update


# -- the recipe -----------------------------------------------------------------------------------------------------
def make_backend(gen_args, model_args, device):
    from medsyn_hf.generation.backends import openai_backend, transformers_backend

    if gen_args.backend == "openai":
        return openai_backend(model_args, gen_args)
    return transformers_backend(model_args, gen_args, device)


def main(script_args, gen_args, model_args) -> dict:
    """Generate every missing shard of the run, then (main process) join, filter and write notes.parquet."""
    import datetime

    import torch
    from accelerate import PartialState

    # CPU-only: the processes of `accelerate launch` use gloo. A process that finished its shards waits for the
    # others at the last barrier, longer than the default 10-30 minutes when shards are large.
    state = PartialState(cpu=not torch.cuda.is_available(), timeout=datetime.timedelta(hours=12))
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    output = dict(command=COMMAND, overwrite=script_args.overwrite_output_dir, owned=is_generate_output,
                  inputs=[p for p in (model_args.model_name_or_path, model_args.adapter_name_or_path,
                                      script_args.dataset_name) if p and os.path.exists(p)])
    check_output(script_args.output_dir, **output)
    if gen_args.backend == "transformers":
        check_model(model_args, gen_args)
    priors = load_priors(script_args, gen_args.seed)
    config = run_config(script_args, gen_args, model_args, priors_fingerprint(priors))
    run_dir = Path(script_args.output_dir) / run_id(config)
    full_config = {"script_args": asdict(script_args), "generation_args": asdict(gen_args),
                   "model_args": asdict(model_args)}
    if state.is_main_process:  # every input checked: now the folder may be written
        claim_output(script_args.output_dir, **output)
        _prepare(run_dir, config, full_config, priors)
    state.wait_for_everyone()

    ranges = shard_ranges(len(priors), script_args.shard_size)
    pending = pending_shards(run_dir, len(ranges))
    state.wait_for_everyone()  # every process has listed the same pending shards before any is written
    todo = pending[state.process_index::state.num_processes]  # also balanced when resuming
    logger.info("run %s: %d priors, %d shards, %d to do on process %d/%d", run_dir, len(priors), len(ranges),
                len(todo), state.process_index, state.num_processes)
    if todo:
        generate = make_backend(gen_args, model_args, state.device)
        bar, update = _progress(sum(len(ranges[i]) for i in todo), not state.is_local_main_process)
        for index in todo:
            rows = priors.select(ranges[index])
            keys = [row_key(gen_args.seed, s) for s in rows["seed"]]
            completions = generate(list(rows["messages"]), keys, update)
            write_shard(shard_path(run_dir, index), {
                "idx": list(ranges[index]), "seed": keys,
                **{name: [getattr(c, name) for c in completions] for name in
                   ("prompt_tokens", "completion_tokens", "finish_reason")},
                "response": [c.text for c in completions],
            })
        bar.close()
    state.wait_for_everyone()
    report = {"run_dir": str(run_dir), "priors": len(priors), "shards": len(ranges)}
    if state.is_main_process:
        from medsyn_hf.generation.notes import build_notes

        notes = build_notes(run_dir, priors, generation_model_name(model_args), script_args.filters)
        _link_latest(run_dir)
        report.update(notes=len(notes), kept=sum(notes["keep"]),
                      completion_tokens=sum(notes["completion_tokens"]), notes_file=str(run_dir / "notes.parquet"))
    state.wait_for_everyone()
    return report
