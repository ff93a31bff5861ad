"""`medsyn eval icd`'s options (with --choose-on-train's) and the checks that need no data."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

from medsyn_hf import text_views
from medsyn_hf.data import CODE_COLUMNS
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation import icd as command
from medsyn_hf.evaluation.icd import choice
from medsyn_hf.evaluation.icd.choice import VALIDATION_FRACTION, VIEWS
from medsyn_hf.evaluation.icd.experiment import GRID_REAL, GRID_SYNTHETIC, GRID_TOPUP, MAX_CHARS, RARE_K
from medsyn_hf.evaluation.icd.metrics import KEYS
from medsyn_hf.evaluation.icd.rule import RULES
from medsyn_hf.evaluation.icd.sampling import check_topup

PLAN_K = object()  # `--topup` without a value: the plan's K (a string const would go through `type=int`)
_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")  # a candidate's name in --synthetic NAME=PATH
OPTIONS = (  # this command's options: each needs --choose-on-train (None: not given)
    "synthetic_views",
    "validation_fraction",
    "split_seed",
    "validation",
    "choice_rule",
    "choose_by",
    "max_acc1_drop",
)


def add_parser(eval_subparsers) -> argparse.ArgumentParser:
    """The `eval icd` subcommand's parser: the comparison's and the grid's options, then --choose-on-train's."""
    parser = eval_subparsers.add_parser(
        "icd",
        help="ICD-code classifier on real notes ± synthetic ones: acc@1, hit@3, rare codes, top-up, MedSyn grid",
        description=f"{command.__doc__}\n--choose-on-train: {choice.__doc__}\n{JSON_KEYS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", required=True, help="real training notes (RuMedTop3 train_v1.jsonl or any dataset)")
    data.add_argument("--eval", required=True, help="notes to score on (RuMedTop3 dev_v1.jsonl)")
    data.add_argument("--text-column", default="symptoms", help="text column of --train and --eval")
    data.add_argument("--code-column", default="code", help="ICD-10 column of --train and --eval")
    data.add_argument(
        "--synthetic",
        action="append",
        metavar="[NAME=]PATH",
        help="synthetic notes: a .jsonl(.gz)/.parquet file, a dataset folder or a Hub id; with --choose-on-train, "
        "repeat it with names (selected=PATH --synthetic all=PATH) to choose between candidates",
    )
    data.add_argument("--synthetic-split", help="split of a multi-split synthetic dataset (default: train)")
    data.add_argument("--synthetic-text-column", default="response")
    data.add_argument(
        "--synthetic-code-column",
        help=f"ICD-10 column, subcodes allowed (default: the first of {', '.join(CODE_COLUMNS)})",
    )
    data.add_argument(
        "--synthetic-view",
        choices=text_views.VIEWS,
        default="head",
        help="what of each synthetic note the classifier sees (default: head)",
    )
    data.add_argument(
        "--synthetic-max-chars",
        type=int,
        default=MAX_CHARS,
        help="cap of the head and complaint views, in characters (0: none)",
    )
    data.add_argument("--drop-unseen", action="store_true", help="skip eval notes whose code no training note has")
    run = parser.add_argument_group("experiment")
    run.add_argument("--real-fraction", type=float, default=1.0, help="stratified share of the real notes")
    run.add_argument(
        "--topup",
        type=int,
        nargs="?",
        const=PLAN_K,
        metavar="K",
        help="bring every code up to K training notes with synthetic notes of that code; without K, or by default "
        "when the synthetic dataset carries a plan (`medsyn plan`'s plan.json) and no --synthetic-fraction is given: "
        "the plan's K",
    )
    run.add_argument(
        "--synthetic-fraction",
        type=float,
        help="stratified share of the synthetic notes instead of a top-up (default with --synthetic: 1)",
    )
    run.add_argument("--seeds", "--seed", type=_ints, help="comma-separated (default: 0; with --grid: 0,1,2)")
    run.add_argument("--rare-k", type=int, default=RARE_K, help="rare codes have fewer than K real training notes")
    run.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (0: none)"
    )
    run.add_argument("--grid", action="store_true", help="run the MedSyn grid instead (needs --synthetic and --out)")
    run.add_argument("--real-fractions", type=_floats, default=GRID_REAL, help="grid: comma-separated")
    run.add_argument("--synthetic-fractions", type=_floats, default=GRID_SYNTHETIC, help="grid: comma-separated")
    run.add_argument(
        "--topups",
        type=_ints,
        default=GRID_TOPUP,
        help="grid and --choose-on-train: comma-separated K (0: no top-up); default 0,20,40,80",
    )
    run.add_argument(
        "--out",
        type=Path,
        help="folder for grid.md, grid.png, grid.json (--grid) or choice.md, choice.json, split (--choose-on-train)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace --out even if another command wrote it")
    model = parser.add_argument_group("classifier")
    model.add_argument(
        "--classifier",
        default="tfidf",
        help="'tfidf' (fast RuMedBench baseline), 'reference' (RuMedBench's code as published, slow) "
        "or a local encoder folder to fine-tune",
    )
    model.add_argument("--epochs", type=float, default=3.0, help="encoder only")
    model.add_argument("--learning-rate", type=float, default=5e-5, help="encoder only")
    model.add_argument("--batch-size", type=int, default=16, help="encoder only")
    model.add_argument("--max-length", type=int, default=256, help="encoder only: tokens per note")
    parser.add_argument("--json", action="store_true", help="print one JSON line (keys: see above)")
    group = parser.add_argument_group("choose on train (--choose-on-train)")
    group.add_argument(
        "--choose-on-train",
        action="store_true",
        help="choose candidate (--synthetic NAME=PATH, repeatable), view and K on a validation split of --train, "
        "then report once on --eval",
    )
    group.add_argument(
        "--synthetic-views", type=_views, help=f"views compared, comma-separated (default: {','.join(VIEWS)})"
    )
    group.add_argument(
        "--validation-fraction",
        type=float,
        help=f"share of each code's --train notes held out for validation (default {VALIDATION_FRACTION:g})",
    )
    group.add_argument("--split-seed", type=int, help="seed of that split (default 0)")
    group.add_argument(
        "--validation", help="your own validation notes (--train's columns); --train is then the fit part"
    )
    group.add_argument(
        "--choice-rule",
        choices=RULES,
        help="one-se (default): the smallest intervention within one standard error of the best gain; "
        "largest: the largest gain (the former rule)",
    )
    group.add_argument("--choose-by", choices=KEYS, help="the gain to choose on (default: rare_hit3)")
    group.add_argument(
        "--max-acc1-drop",
        type=float,
        help="points of acc@1 a cell may lose beyond noise (one-se) or at all (largest); default 0",
    )
    group.add_argument(
        "--split-only",
        action="store_true",
        help="write the fit/validation split (--out DIR: fit.jsonl, validation.jsonl) and stop",
    )
    return parser


JSON_KEYS = """--json with --choose-on-train: `eval icd --topup`'s keys for the chosen configuration on --eval (real
only when real only is chosen) plus choose_on_train: rule, choose_by, max_acc1_drop, validation_fraction, split_seed
(None with --validation), fit_notes, validation_notes, validation_rare_notes, validation_dropped, share (fit part /
all training notes), views, topups, candidates ({name: {notes, dropped}}), fits (classifiers trained), fit_seconds,
threshold (the smallest gain the rule accepts), chosen ({candidate, view, topup, topup_applied}; candidate None:
real only), cells (every validation cell: candidate, view, topup, topup_applied, size = train_synthetic (notes
added, mean over seeds), the mean scores, paired_diff against real only, verdict {gain, gain_se, acc1, acc1_se,
admissible, within_noise}, best, chosen) and caveat. With --out: choice.md (the table), choice.json (the same dict)
and the split (fit.jsonl, validation.jsonl; not with --validation)."""


def _views(text: str) -> tuple[str, ...]:
    views = tuple(view.strip() for view in text.split(","))
    if not all(view in text_views.VIEWS for view in views):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed views are {', '.join(text_views.VIEWS)}")
    return views


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None


def check_arguments(args) -> None:
    """Everything that can be checked before the data is read."""
    if args.grid and not (args.synthetic and args.out):
        raise MedsynError("--grid needs --synthetic and --out")
    if args.grid and (args.topup is not None or args.synthetic_fraction is not None):
        raise MedsynError(
            "--grid takes its cells from --real-fractions, --synthetic-fractions and --topups, "
            "not --topup or --synthetic-fraction"
        )
    if args.topup is not None:
        check_topup(args.topup)
    if any(k < 0 for k in args.topups):
        raise MedsynError("--topups: each K must be at least 0 (0: no top-up)")
    fractions = (
        args.real_fraction,
        *args.real_fractions,
        *args.synthetic_fractions,
        *([args.synthetic_fraction] if args.synthetic_fraction is not None else []),
    )
    if not all(0 <= f <= 1 for f in fractions) or args.real_fraction == 0 or 0 in args.real_fractions:
        raise MedsynError("fractions must lie between 0 and 1, real ones above 0")
    if args.rare_k < 1 or args.bootstrap < 0 or args.synthetic_max_chars < 0:
        raise MedsynError("--rare-k must be at least 1, --bootstrap and --synthetic-max-chars at least 0")


def check_choice(args) -> None:
    """--choose-on-train's options: each needs it, and it excludes the grid and fractions."""
    given = [name for name in OPTIONS if getattr(args, name) is not None] + ["split_only"] * args.split_only
    if not args.choose_on_train:
        if given:
            raise MedsynError(f"--{given[0].replace('_', '-')} needs --choose-on-train")
        return
    if args.topup is PLAN_K:
        raise MedsynError("--choose-on-train chooses K among --topups (and --topup K if given): give --topup a K")
    if args.grid or args.synthetic_fraction is not None or args.real_fraction != 1:
        raise MedsynError(
            "--choose-on-train chooses the top-up K (--topups) on all the real notes: "
            "not with --grid, --synthetic-fraction or --real-fraction"
        )
    if args.split_only and (not args.out or args.validation):
        raise MedsynError("--split-only writes the split into --out, and has nothing to split with --validation")
    if args.out is None and args.overwrite:
        raise MedsynError("--overwrite needs --out")


def synthetic_sources(values: Sequence[str] | None) -> dict[str, str]:
    """``--synthetic`` values by name: ``NAME=PATH``, or a plain path (an existing path, or one without a name before
    an ``=``) named by itself."""
    sources = {}
    for value in values or ():
        name, separator, path = value.partition("=")
        if not separator or not _NAME.fullmatch(name) or Path(value).exists():
            name, path = value, value
        if not path:
            raise MedsynError(f"--synthetic {value}: no path after the name")
        if name in sources:
            raise MedsynError(f"--synthetic {name}: given twice; give each candidate once, with its own name")
        sources[name] = path
    return sources
