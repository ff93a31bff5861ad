"""`medsyn eval judge`'s run: judge every note through a generation backend (``requests.py``), add the judge
columns, apply ``min_score``, compare with the annotators (``agreement.py``) and write the folder (``card.py``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.judge.agreement import agreement, human_answers
from medsyn_hf.evaluation.judge.arguments import COMMAND, JudgeArguments
from medsyn_hf.evaluation.judge.card import write_judged
from medsyn_hf.evaluation.judge.dataset import (
    apply_min_score,
    judge_columns,
    load_input,
    prompts_for,
    with_columns,
)
from medsyn_hf.evaluation.judge.prompt import CRITERIA, load_template, reply_schema
from medsyn_hf.evaluation.judge.requests import CACHE_FILE, judge_messages
from medsyn_hf.filters import FilterConfig, judge_failed
from medsyn_hf.generation.backends import make_backend
from medsyn_hf.generation.run import backend_config, generation_model_name
from medsyn_hf.io import check_output, safe_output

logger = logging.getLogger(__name__)


def model_name(gen_args, model_args) -> str:
    """The judge model's name in the judge_model column: the served name, else the weights (and adapter)."""
    return gen_args.served_model_name or generation_model_name(model_args)


def judge(args: JudgeArguments, gen_args, model_args) -> dict:
    """Judge the notes of ``args.dataset_name`` and write ``args.out``; returns the report."""
    if not args.out:
        raise MedsynError(f"name the output folder: {COMMAND} DATASET --config ... --out DIR")
    inputs = [args.dataset_name, args.cache_dir, args.assessment]
    check_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite)  # fail before any request
    if args.max_retries and gen_args.temperature == 0:
        logger.warning("temperature 0: a retry gets the same greedy reply again; set temperature > 0 for new draws")
    template = load_template(args.template)
    splits, assessment = load_input(args)
    answers = human_answers(assessment) if assessment is not None else None  # read (and checked) before any request
    messages = {name: prompts_for(ds, template, args, args.dataset_name) for name, ds in splits.items()}
    flat = [m for name in splits for m in messages[name]]
    if args.response_format and gen_args.backend == "openai":
        schema = {
            "type": "json_schema",
            "json_schema": {"name": "note_scores", "schema": reply_schema(), "strict": True},
        }
        gen_args = replace(gen_args, extra_body={**(gen_args.extra_body or {}), "response_format": schema})

    def make_generate():
        import torch  # heavy: only when a request is due (a fully cached re-run never loads it)

        return make_backend(gen_args, model_args, "cuda" if torch.cuda.is_available() else "cpu").generate

    chunk = gen_args.batch_size if gen_args.backend == "transformers" else 4 * gen_args.concurrency
    with tqdm(unit="request", desc="judging (requests sent)", dynamic_ncols=True) as bar:
        results, attempts, counts = judge_messages(
            flat,
            make_generate,
            backend_config(gen_args, model_args),
            gen_args.seed,
            args.max_retries,
            Path(args.cache_dir) / CACHE_FILE,
            chunk,
            progress=bar.update,
        )
    model = model_name(gen_args, model_args)
    columns = judge_columns(results, attempts, model)
    judged, by_item, start = {}, {}, 0
    for name, ds in splits.items():
        rows = slice(start, start + len(ds))
        start += len(ds)
        judged[name] = with_columns(ds, {k: v[rows] for k, v in columns.items()})
        if "item_id" in ds.column_names:
            by_item.update(zip(ds["item_id"], results[rows]))
    agree = agreement(by_item, answers) if answers is not None else None
    out_splits = apply_min_score(judged, args.min_score)
    report = _report(args, results, attempts, counts, columns, out_splits, agree, model)
    with safe_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite) as tmp:
        write_judged(tmp, out_splits, args, gen_args, model_args, report)
    return report


def _report(args, results, attempts, counts, columns, splits, agree, model) -> dict:
    valid = [r for r in results if r is not None]
    means = {c: round(sum(r[c] for r in valid) / len(valid), 3) if valid else None for c in CRITERIA}
    report = {
        "dataset": str(args.dataset_name),
        "out": str(args.out),
        "model": model,
        "notes": len(results),
        "valid": len(valid),
        "missing": len(results) - len(valid),
        "max_attempts": args.max_retries + 1,
        **counts,
        "mean_attempts": round(sum(attempts) / len(attempts), 3),
        "mean_scores": means,
        "splits": {name: len(ds) for name, ds in splits.items()},
    }
    if args.min_score is not None:
        report["min_score"] = args.min_score
        report["below_min_score"] = sum(
            judge_failed(columns["judge_score"], FilterConfig(min_judge_score=args.min_score))
        )
    if agree is not None:
        report["agreement"] = agree
    return report
