"""`medsyn ift build`: the instruction dataset as a Hub-layout folder."""

from __future__ import annotations

import json

from datasets.utils.logging import disable_progress_bar

from medsyn_hf.ift.build import DEFAULT_SOURCES, build_ift
from medsyn_hf.ift.decontaminate import NGRAM
from medsyn_hf.validate import float_arg, int_arg, repo_id_arg


def _categories(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def _build(args) -> None:
    disable_progress_bar()
    report = build_ift(
        args.out,
        args.sources,
        decontaminate=args.decontaminate,
        seed=args.seed,
        holdout_categories=args.holdout_categories,
        holdout_fraction=args.holdout_fraction,
        limit=args.limit,
        tokenizer=args.tokenizer,
        ngram=args.ngram,
        repo_id=args.repo_id,
        overwrite=args.overwrite,
    )
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for task, counts in report["tasks"].items():
        print(f"{task:22s} " + " ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"{report['examples']} examples written to {report['out']} in {report['seconds']} s")


def add_cli(subparsers) -> None:
    ift = subparsers.add_parser("ift", help="the Russian medical instruction-following dataset")
    sub = ift.add_subparsers(dest="ift_command", required=True, metavar="COMMAND")
    p = sub.add_parser("build", help="build the dataset folder (parquet shards + dataset card)")
    p.add_argument(
        "--out",
        required=True,
        help="output folder (replaced atomically; an existing one only if this command wrote it, or with --overwrite)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder this command did not write")
    p.add_argument("--sources", default=str(DEFAULT_SOURCES), help="source data folder (default: %(default)s)")
    p.add_argument(
        "--decontaminate",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="evaluation files (.jsonl/.json/.csv/.parquet/.txt) whose texts must not appear in the data",
    )
    p.add_argument(
        "--ngram", type=int_arg(1, 100), default=NGRAM, help="shared word n-gram that counts as overlap (default: 8)"
    )
    hold = p.add_mutually_exclusive_group()
    hold.add_argument(
        "--holdout-categories",
        type=_categories,
        default=[],
        metavar="A00,J06",
        help="ICD-10 categories moved whole into a validation split",
    )
    hold.add_argument(
        "--holdout-fraction",
        type=float_arg(0.0, 0.9),
        default=0.0,
        metavar="F",
        help="hold out seeded whole categories covering at most this share of the examples",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of phrasings, subsets and hold-out (default: 0)")
    p.add_argument("--limit", type=int_arg(1), default=None, help="at most N examples per task (quick builds)")
    p.add_argument(
        "--tokenizer",
        default=None,
        help="local tokenizer folder for the card's length statistics (default: whitespace words)",
    )
    p.add_argument(
        "--repo-id",
        type=repo_id_arg,
        default=None,
        help="Hub id shown in the card's usage snippet (default: the folder name)",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON line")
    p.set_defaults(func=_build)
