"""Generation runs: priors -> prompts -> notes, in parquet shards of a run folder named by a hash of the config.

    output_dir/<run id>/config.json            the full config; its note-determining part (`run_config`) gives the id
    output_dir/<run id>/priors.parquet         one prior (PRIORS_FEATURES) per note to write
    output_dir/<run id>/plan.json              the plan by deficit the priors follow, if any (`medsyn_hf.priors.plan`)
    output_dir/<run id>/requests/shard-00007.jsonl   its finished requests, appended one by one (`request_cache`)
    output_dir/<run id>/shards/shard-00007.parquet   notes of priors [7*S, 8*S), written atomically: complete or absent
    output_dir/<run id>/notes.parquet          shards + priors + filter columns (NOTES_FEATURES), for `medsyn publish`
    output_dir/latest -> <run id>

Re-running the same config skips finished shards and, within a shard, sends only the requests its cache lacks: a
crash, `kill -9` or a request that fails after its retries loses no finished completion, and no shard is ever partial.
A run with failed requests writes every other shard, then stops with one error line (exit code 2) naming how many
failed; re-running it resumes. Under `accelerate launch` process r of N does the pending shards r, r+N, ...; with a
backend that batches across shards (the CPU decoding loop, `Backend.prompts_per_call`), the pending groups of shards
r, r+N, ... (`shard_groups`, fixed by the run's shape). Sampling is per row (`backends`), and a shard's or group's
batches do not depend on the process count or on how often the run was resumed (with the same batch_size), so any N
and any resume give the same notes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from medsyn_hf.data import load_labelled_notes
from medsyn_hf.errors import MedsynError
from medsyn_hf.filters import Reference
from medsyn_hf.generation.backends import RequestsFailed, get_backend, make_backend, row_key
from medsyn_hf.generation.notes import plan_kept
from medsyn_hf.io import atomic_path, check_output, claim_output
from medsyn_hf.priors.plan import PLAN_FILE, plan_of, real_style_pool, sample_plan, unit
from medsyn_hf.request_cache import append_cache, read_cache, request_key

logger = logging.getLogger(__name__)
COMMAND = "medsyn generate"

SMALL_FILE = 64 << 20  # model files up to this size are hashed by content, larger ones by size and mtime
SAMPLING = ("backend", "seed", "max_new_tokens", "temperature", "top_p")  # every backend's part of the run id


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
    """A hash of the priors' content. A `style_examples` column that is all null (priors written before it existed,
    or showing no exemplar) is left out, so every run id made before the column came stays the same."""
    columns = priors.to_dict()
    if "style_examples" in columns and all(value is None for value in columns["style_examples"]):
        del columns["style_examples"]
    return hashlib.sha256(json.dumps(columns, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def run_config(script_args, gen_args, model_args, priors_sha256: str) -> dict:
    """Everything that changes the notes, and nothing that only changes the speed."""
    return {
        "priors_sha256": priors_sha256,
        "shard_size": script_args.shard_size,
        **backend_config(gen_args, model_args),
    }


def backend_config(gen_args, model_args) -> dict:
    """What decides a backend's reply to a prompt: the model (weights, adapter, and what the backend adds: dtype or
    served name) and sampling (the common settings and the backend's `run_id_fields`). Also the identity of every
    cached request (`medsyn_hf.request_cache`), of generation and of `medsyn eval judge`."""
    from medsyn_hf.generation.backends import get_backend

    sampling, model = get_backend(gen_args.backend).identity(gen_args, model_args)
    return {
        "sampling": {**{k: getattr(gen_args, k) for k in SAMPLING}, **sampling},
        "model": model_fingerprint(model_args.model_name_or_path, model_args.model_revision),
        "adapter": model_fingerprint(model_args.adapter_name_or_path),
        **model,
    }


def run_id(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def generation_model_name(model_args) -> str:
    name = (
        Path(model_args.model_name_or_path).name
        if Path(model_args.model_name_or_path).is_dir()
        else model_args.model_name_or_path
    )
    if model_args.adapter_name_or_path:
        name += f"+{Path(model_args.adapter_name_or_path).name}"
    return name


def is_generate_output(folder: Path) -> bool:
    """A runs folder from before output markers existed: a `latest` link to one of its runs."""
    return (folder / "latest").is_symlink() and (folder / "latest" / "config.json").is_file()


# -- priors ---------------------------------------------------------------------------------------------------------
def load_priors(script_args, seed: int):
    """The priors of `dataset_name` (folder, parquet file or Hub id), else planned or sampled from the packaged MKG."""
    return prepare_priors(script_args, seed)[0]


def prepare_priors(script_args, seed: int):
    """(priors, the plan they follow or None): `dataset_name`'s priors and the plan.json beside them; else a plan by
    deficit when `fill_to` is set; else `num_priors` sampled by the priors' policy."""
    from medsyn_hf.priors.policy import from_config
    from medsyn_hf.schemas import PRIORS_FEATURES, PRIORS_REQUIRED

    if script_args.dataset_name is None:
        from medsyn_hf.kg import load_graph
        from medsyn_hf.priors import sample_priors

        kg = load_graph()
        if script_args.fill_to is not None:
            plan, priors = sample_plan(kg, script_args, seed=seed, **from_config(script_args))
            return priors, plan
        style = None
        if script_args.real_dataset is not None and script_args.priors_style_examples:
            try:  # the user's notes are the style exemplars, as in a plan
                texts, codes = load_labelled_notes(
                    script_args.real_dataset,
                    script_args.real_text_column,
                    script_args.real_code_column,
                    script_args.real_split,
                    flags=("real_text_column", "real_code_column"),
                )
                style = real_style_pool(kg, texts, codes, script_args.real_dataset)
            except MedsynError as err:
                raise MedsynError(f"real_dataset: {err}") from None
        return sample_priors(kg, script_args.num_priors, seed=seed, style_pool=style, **from_config(script_args)), None
    from medsyn_hf.data import load_dataset

    try:
        ds = load_dataset(script_args.dataset_name, script_args.dataset_train_split, script_args.dataset_config)
    except MedsynError as err:
        raise MedsynError(f"dataset_name: {err}") from None
    missing = sorted(set(PRIORS_REQUIRED) - set(ds.column_names))
    if missing:
        raise MedsynError(f"{script_args.dataset_name}: not a priors dataset (missing {', '.join(missing)})")
    if "style_examples" not in ds.column_names:  # written before priors carried style exemplars
        ds = ds.add_column("style_examples", [None] * len(ds))
    return ds.select_columns(list(PRIORS_FEATURES)).cast(PRIORS_FEATURES), plan_of(script_args.dataset_name)


def load_reference(script_args, plan):
    """The real notes the selection filters compare with (``filters.Reference``): `real_dataset` (and its columns),
    else the plan's own real notes; None without either. Their codes are counted as the plan counts them, and the
    plan's need per code sets the quota."""
    from medsyn_hf.kg import load_graph

    real = plan.real if plan is not None else {}
    source = script_args.real_dataset or real.get("source")
    if source is None:
        return None
    own = script_args.real_dataset is not None
    try:
        texts, codes = load_labelled_notes(
            source,
            script_args.real_text_column if own else real.get("text_column"),
            script_args.real_code_column if own else real.get("code_column"),
            script_args.real_split if own else real.get("split"),
            flags=("real_text_column", "real_code_column"),
        )
    except MedsynError as err:
        where = "real_dataset" if own else f"the real notes of the plan {script_args.dataset_name} (set real_dataset)"
        raise MedsynError(f"{where}: {err}") from None
    level = plan.level if plan is not None else script_args.priors_level
    kg = load_graph()
    return Reference(
        texts, [unit(code, level, kg) for code in codes], level, plan.need if plan is not None else None, str(source)
    )


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


def _prepare(run_dir: Path, config: dict, full_config: dict, priors, plan) -> None:
    """Main process only: the run folder, its config, priors and plan, no temporary left by a killed run, no broken
    shard."""
    (run_dir / "shards").mkdir(parents=True, exist_ok=True)
    remove_broken_shards(run_dir, shard_ranges(len(priors), config["shard_size"]))
    for stale in (run_dir / "shards").glob(".shard-*"):  # atomic_path's temporaries of a killed process
        shutil.rmtree(stale, ignore_errors=True)
    with atomic_path(run_dir / "config.json") as tmp:  # the latest invocation's (its filters made notes.parquet)
        tmp.write_text(
            json.dumps(
                {"run_id": run_dir.name, "run_config": config, **full_config},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
            + "\n",
            encoding="utf-8",
        )
    if not (run_dir / "priors.parquet").is_file():
        with atomic_path(run_dir / "priors.parquet") as tmp:
            priors.to_parquet(str(tmp))
    if plan is not None:
        with atomic_path(run_dir / PLAN_FILE) as tmp:
            tmp.write_text(json.dumps(plan.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


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


REPLY_FIELDS = ("text", "prompt_tokens", "completion_tokens", "finish_reason")  # a cached reply lacking one is re-sent


def request_cache_path(run_dir: Path, index: int) -> Path:
    return run_dir / "requests" / f"shard-{index:05d}.jsonl"


def generate_shards(
    run_dir: Path, shards: dict[int, range], priors, identity: dict, seed: int, backend, update, whole: bool = False
) -> dict:
    """Write ``shards`` ({index: its rows}) from their cached replies plus the requests their caches lack, asked of
    the backend in one call (so it can batch across shards). Each finished completion is appended to its shard's
    request cache at once, and a shard is written as soon as it has all its replies. ``backend()`` gives the backend.

    ``whole`` (a backend that plans its batches over the prompts of a call, `Backend.prompts_per_call`): the call
    gets every prompt of ``shards`` and ``needed``, the positions without a reply; it computes the batches that hold
    one, so a resumed run batches exactly as an uninterrupted one. Otherwise it gets only the missing ones.
    Returns the requests that failed after their retries ({row: reason}; their shard is not written and a re-run
    sends only those)."""
    keys, request_keys, caches, asked, messages, needed = {}, {}, {}, [], [], set()
    for index, rows_range in shards.items():
        rows = priors.select(rows_range)
        keys[index] = [row_key(seed, s) for s in rows["seed"]]
        shard_messages = [list(m) for m in rows["messages"]]
        caches[index] = read_cache(request_cache_path(run_dir, index), REPLY_FIELDS)
        request_keys[index] = [request_key(identity, m, k) for m, k in zip(shard_messages, keys[index])]
        for j, key in enumerate(request_keys[index]):
            if key not in caches[index]:
                needed.add(len(asked))
            elif not whole:
                continue
            asked.append((index, j))
            messages.append(shard_messages[j])
        update(len(rows_range) - sum(key not in caches[index] for key in request_keys[index]), 0)

    def write_complete(indices) -> None:
        for index in indices:
            replies = [caches[index].get(key) for key in request_keys[index]]
            if None in replies or shard_path(run_dir, index).is_file():
                continue
            names = ("prompt_tokens", "completion_tokens", "finish_reason")
            write_shard(
                shard_path(run_dir, index),
                {
                    "idx": list(shards[index]),
                    "seed": keys[index],
                    **{name: [r[name] for r in replies] for name in names},
                    "response": [r["text"] for r in replies],
                },
            )

    def store(done: dict) -> None:
        records: dict[int, list] = {}
        for position, completion in done.items():
            index, j = asked[position]
            if completion is not None and request_keys[index][j] not in caches[index]:
                records.setdefault(index, []).append({"key": request_keys[index][j], **completion._asdict()})
        for index, new in records.items():
            append_cache(request_cache_path(run_dir, index), new, hint="make the run folder writable")
            caches[index].update((r["key"], r) for r in new)
            update(len(new), sum(r["completion_tokens"] for r in new))
        write_complete(records)

    failed = {}
    if needed:
        extra = {"needed": needed} if whole else {}
        try:  # a backend that reports no batches has its completions stored when it returns
            store(dict(enumerate(backend().generate(messages, [keys[i][j] for i, j in asked], store, **extra))))
        except RequestsFailed as err:
            for position, reason in err.failed.items():
                index, j = asked[position]
                failed[shards[index][j]] = reason
            logger.warning("shards %s: %s; a shard is written when a re-run has all its replies", list(shards), err)
    write_complete(shards)  # those whose replies were all cached already
    return failed


def shard_groups(num_shards: int, ranges: list[range], prompts_per_call: int | None) -> list[list[int]]:
    """The shards in consecutive groups of at least ``prompts_per_call`` priors (the last one may have fewer); None:
    one shard each. Fixed by the run's shape alone, so every process count and every resume groups alike."""
    groups: list[list[int]] = []
    for index in range(num_shards):
        if groups and prompts_per_call and sum(len(ranges[i]) for i in groups[-1]) < prompts_per_call:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


# -- the recipe -----------------------------------------------------------------------------------------------------
def main(script_args, gen_args, model_args) -> dict:
    """Generate every missing shard of the run, then (main process) join, filter and write notes.parquet."""
    import datetime

    import torch
    from accelerate import PartialState

    # CPU-only: the processes of `accelerate launch` use gloo. A process that finished its shards waits for the
    # others at the last barrier, longer than the default 10-30 minutes when shards are large.
    state = PartialState(cpu=not torch.cuda.is_available(), timeout=datetime.timedelta(hours=12))
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    output = dict(
        command=COMMAND,
        overwrite=script_args.overwrite_output_dir,
        owned=is_generate_output,
        inputs=[
            p
            for p in (model_args.model_name_or_path, model_args.adapter_name_or_path, script_args.dataset_name)
            if p and os.path.exists(p)
        ],
    )
    check_output(script_args.output_dir, **output)
    get_backend(gen_args.backend).check(gen_args, model_args)
    priors, plan = prepare_priors(script_args, gen_args.seed)
    reference = load_reference(script_args, plan)  # read now: a bad real_dataset fails before any generation
    config = run_config(script_args, gen_args, model_args, priors_fingerprint(priors))
    run_dir = Path(script_args.output_dir) / run_id(config)
    full_config = {
        "script_args": asdict(script_args),
        "generation_args": asdict(gen_args),
        "model_args": asdict(model_args),
    }
    if state.is_main_process:  # every input checked: now the folder may be written
        claim_output(script_args.output_dir, **output)
        _prepare(run_dir, config, full_config, priors, plan)
    state.wait_for_everyone()

    ranges = shard_ranges(len(priors), script_args.shard_size)
    pending = set(pending_shards(run_dir, len(ranges)))
    state.wait_for_everyone()  # every process has listed the same pending shards before any is written
    per_call = get_backend(gen_args.backend).prompts_per_call(gen_args, state.device)
    groups = [g for g in shard_groups(len(ranges), ranges, per_call) if pending.intersection(g)]
    todo = groups[state.process_index :: state.num_processes]  # also balanced when resuming
    logger.info(
        "run %s: %d priors, %d shards, %d to do on process %d/%d",
        run_dir,
        len(priors),
        len(ranges),
        len(pending.intersection(i for g in todo for i in g)),
        state.process_index,
        state.num_processes,
    )
    failed = {}
    if todo:
        # built when a request is due: a shard whose replies are all cached needs no model
        backend = functools.cache(lambda: make_backend(gen_args, model_args, state.device))
        bar, update = _progress(sum(len(ranges[i]) for g in todo for i in g), not state.is_local_main_process)
        try:
            for group in todo:
                shards = {i: ranges[i] for i in group}
                whole = per_call is not None
                failed.update(generate_shards(run_dir, shards, priors, config, gen_args.seed, backend, update, whole))
        finally:  # also on a fatal error: its line then starts below the bar, not on it
            bar.close()
    state.wait_for_everyone()
    unwritten = pending_shards(run_dir, len(ranges))
    if unwritten:
        where = (
            f"{len(failed)} request(s) failed after their retries (first: {failed[min(failed)]})"
            if failed
            else "requests failed on another process (see its log)"
        )
        raise MedsynError(
            f"{where}; {len(unwritten)} of {len(ranges)} shards not written. Re-run the same command "
            f"to resume: only the missing requests are sent (the finished ones are cached in "
            f"{run_dir / 'requests'})"
        )
    report = {"run_dir": str(run_dir), "priors": len(priors), "shards": len(ranges)}
    if state.is_main_process:
        from medsyn_hf.generation.notes import build_notes

        notes = build_notes(run_dir, priors, generation_model_name(model_args), script_args.filters, reference)
        _link_latest(run_dir)
        report.update(
            notes=len(notes),
            kept=sum(notes["keep"]),
            completion_tokens=sum(notes["completion_tokens"]),
            notes_file=str(run_dir / "notes.parquet"),
        )
        if plan is not None:
            report["plan"] = {k: v for k, v in plan_kept(plan, notes).items() if k != "codes"}  # per code: the card
    state.wait_for_everyone()
    return report
