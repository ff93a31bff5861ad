"""`medsyn priors`, `medsyn plan` and `medsyn priors-resources`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow as pa

from medsyn_hf.io import check_output, safe_output
from medsyn_hf.priors import plan as planning
from medsyn_hf.priors.policy import add_flags, from_flags
from medsyn_hf.priors.pool import build_pool
from medsyn_hf.priors.resources import build_resources, resources_dir
from medsyn_hf.priors.sample import MAX_PRIORS, sample_priors


def _is_priors_file(path: Path) -> bool:
    """A parquet file of priors (what `medsyn priors --out X.parquet` writes), which a new sample may replace."""
    import pyarrow.parquet as pq

    from medsyn_hf.schemas import PRIORS_REQUIRED

    try:
        return set(PRIORS_REQUIRED) <= set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException):
        return False


def _priors(args):
    import datasets

    from medsyn_hf.kg import load_graph

    if args.json:
        datasets.disable_progress_bars()
    kind = "file" if Path(args.out).suffix == ".parquet" else "dir"
    output = dict(
        command="medsyn priors",
        inputs=[args.graph, args.symptom_lists],
        overwrite=args.overwrite,
        kind=kind,
        owned=_is_priors_file if kind == "file" else None,
    )
    check_output(args.out, **output)
    start = time.perf_counter()
    kg = load_graph(args.graph)
    build_pool(kg, args.level, args.min_symptoms, args.example_offset)  # timed apart: one-off, cached
    ready = time.perf_counter()
    ds = sample_priors(kg, args.n, seed=args.seed, num_proc=args.num_proc, **from_flags(args))
    sampled = time.perf_counter()
    out = Path(args.out)
    with safe_output(out, **output) as tmp:
        if kind == "file":
            ds.to_parquet(str(tmp))
        else:
            ds.save_to_disk(str(tmp))
    done = time.perf_counter()
    report = {
        "n": ds.num_rows,
        "codes": len(set(ds["code"])),
        "seconds": round(done - start, 3),
        "priors_per_s": round(ds.num_rows / (done - start)),
        "setup_seconds": round(ready - start, 3),
        "sample_seconds": round(sampled - ready, 3),
        "write_seconds": round(done - sampled, 3),
        "sample_priors_per_s": round(ds.num_rows / (sampled - ready)),
        "out": str(out),
    }
    if args.json:  # how realistic and varied the symptoms are (medsyn_hf.priors.realism), against the train notes
        from medsyn_hf.priors.realism import realism

        report["realism_train"] = realism(ds)
    print(
        json.dumps(report, ensure_ascii=False)
        if args.json
        else f"{report['n']} priors over {report['codes']} codes -> {out} in {report['seconds']} s "
        f"(sampling {report['sample_priors_per_s']} priors/s)"
    )


def _plan(args):
    import datasets

    from medsyn_hf.kg import load_graph

    datasets.disable_progress_bars()
    output = dict(
        command="medsyn plan",
        inputs=[args.graph, args.symptom_lists, args.real_dataset],
        overwrite=args.overwrite,
    )
    check_output(args.out, **output)
    options = planning.PlanOptions(**{f: getattr(args, f) for f in planning.PlanOptions.__dataclass_fields__})
    plan, priors = planning.sample_plan(
        load_graph(args.graph),
        options,
        seed=args.seed,
        num_proc=args.num_proc,
        flags=("--text-column", "--code-column"),
        **from_flags(args),
    )
    with safe_output(args.out, **output) as tmp:
        priors.save_to_disk(str(tmp))
        planning.write_plan(tmp, plan)
    shown = 20
    for row in plan.unplannable[:shown]:  # listed, never dropped silently
        print(
            f"medsyn plan: {row['code']} ({row['real']} real notes) not planned: {planning.STATUSES[row['status']]}",
            file=sys.stderr,
        )
    if len(plan.unplannable) > shown:
        print(
            f"medsyn plan: ... and {len(plan.unplannable) - shown} more codes not planned "
            f"({args.out}/{planning.PLAN_TABLE} lists every code)",
            file=sys.stderr,
        )
    totals = plan.totals()
    report = {**totals, "priors": priors.num_rows, "out": str(args.out)}
    print(
        json.dumps(report, ensure_ascii=False)
        if args.json
        else f"{totals['planned']:,} priors for {totals['planned_codes']:,} codes under {plan.fill_to} real notes "
        f"(need {totals['need']:,}); {totals['full_codes']:,} codes already have {plan.fill_to}, "
        f"{totals['unplannable_codes']:,} cannot be planned -> {args.out} (table: {args.out}/{planning.PLAN_TABLE})"
    )


def _resources(args):
    report = build_resources(args.sources, args.out)
    print(
        json.dumps(report)
        if args.json
        else f"{report['examples']} example notes ({report['example_categories']} categories) and demographics -> "
        f"{report['out']}"
    )


def _sampling_flags(parser, command: str, out_help: str, skip: tuple[str, ...] = ()) -> None:
    """What `medsyn priors` and `medsyn plan` share: seed, output, the priors' policy, workers, graph, --json."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        required=True,
        help=f"{out_help}; an existing one only if `{command}` wrote it, or with --overwrite",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help=f"replace an existing output `{command}` did not write"
    )
    add_flags(parser, skip)
    parser.add_argument("--num-proc", type=int, default=1, help="worker processes (same output for any value)")
    parser.add_argument("--graph", default=None, help="MKG file (default: the packaged graph)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")


def add_cli(subparsers) -> None:
    from medsyn_hf.validate import int_arg

    p = subparsers.add_parser("priors", help="sample priors (code, symptoms, patient, example) with prompts")
    p.add_argument(
        "--n", type=int_arg(1, MAX_PRIORS), required=True, help=f"number of priors (at most {MAX_PRIORS:,})"
    )
    _sampling_flags(p, "medsyn priors", "output folder (Dataset.save_to_disk) or a .parquet file")
    p.set_defaults(func=_priors)

    q = subparsers.add_parser(
        "plan",
        help="plan by deficit: priors for every code of the real notes with fewer than K of them",
        description=planning.__doc__.split("\n\n")[0],
    )
    planning.add_flags(q)
    _sampling_flags(
        q,
        "medsyn plan",
        "plan folder: the priors (what `medsyn priors --out DIR` writes; `medsyn generate --dataset_name` takes it), "
        "plan.json and plan.md",
        skip=("mode",),  # the plan sets every code's count
    )
    q.set_defaults(func=_plan)

    r = subparsers.add_parser(
        "priors-resources", help="compile demographics.json and examples.parquet (deterministic)"
    )
    r.add_argument(
        "--sources", default="data/sources", help="folder laid out like data/sources (default: %(default)s)"
    )
    r.add_argument("--out", required=True, help=f"output folder (the package's is {resources_dir()})")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_resources)
