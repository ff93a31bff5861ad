"""`medsyn eval report`'s command line: the options, their checks, the run, and the folder it writes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import datasets

from medsyn_hf.data import CODE_COLUMNS, TEXT_COLUMNS
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation import report as command
from medsyn_hf.evaluation.privacy import RUN_THRESHOLD
from medsyn_hf.evaluation.report.compute import build_report, load_set, utility
from medsyn_hf.evaluation.report.plots import plot_diversity, plot_fidelity, plot_privacy
from medsyn_hf.evaluation.report.render import markdown
from medsyn_hf.guards import MOST, refuse, side_problems
from medsyn_hf.io import check_output, safe_output
from medsyn_hf.report_folder import COMMAND, PLOTS, summary_table
from medsyn_hf.text_views import MAX_CHARS, VIEWS


def write_report(out: str | Path, report: dict, plots: dict, *, inputs=(), overwrite: bool = False) -> Path:
    """The report folder, all or nothing (``medsyn_hf.io.safe_output``)."""
    with safe_output(out, command=COMMAND, inputs=inputs, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        plot_fidelity(report, plots, tmp / "fidelity.png")
        plot_diversity(report, plots, tmp / "diversity.png")
        plot_privacy(report, plots, tmp / "privacy.png")
        (tmp / "report.md").write_text(markdown(report), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return Path(out)


def add_cli(eval_subparsers) -> None:
    parser = eval_subparsers.add_parser(
        "report",
        help="fidelity, diversity, privacy (and utility) of synthetic notes: report.md/.json and plots",
        description=command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "synthetic",
        help="synthetic notes: a `medsyn generate` run folder, a published folder, a "
        ".jsonl(.gz)/.parquet file or a Hub id",
    )
    parser.add_argument("--real", required=True, help="real notes (RuMedTop3 train_v1.jsonl or any notes dataset)")
    parser.add_argument(
        "--eval", help="real notes to score an ICD classifier on (RuMedTop3 dev_v1.jsonl): adds utility"
    )
    parser.add_argument("--out", required=True, type=Path, help="report folder (written atomically)")
    parser.add_argument(
        "--overwrite", action="store_true", help=f"replace a non-empty folder `{COMMAND}` did not write"
    )
    parser.add_argument(
        "--split", help="split of the synthetic dataset (default: train, plus `rejected` for the plan)"
    )
    parser.add_argument(
        "--text-column", help=f"synthetic text column (default: the first of {', '.join(TEXT_COLUMNS)})"
    )
    parser.add_argument(
        "--code-column", help=f"synthetic ICD-10 column (default: the first of {', '.join(CODE_COLUMNS)})"
    )
    parser.add_argument("--real-text-column", help="real text column (default: as for the synthetic notes)")
    parser.add_argument("--real-code-column", help="real ICD-10 column (default: as for the synthetic notes)")
    parser.add_argument(
        "--view",
        choices=VIEWS,
        default="complaint",
        help="text both sides are compared on: the complaints section (real RuMedTop3 notes are "
        "complaints), the head, or the full note (default: %(default)s)",
    )
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS, help="length cap of the complaint/head view")
    parser.add_argument("--max-notes", type=int, default=5000, help="discriminator: at most this many notes per side")
    parser.add_argument("--folds", type=int, default=5, help="discriminator: cross-validation folds")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the AUC's 95%% interval (0: none)")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of real notes held out for the baselines")
    parser.add_argument(
        "--run-threshold",
        type=int,
        default=RUN_THRESHOLD,
        help="privacy: a shared verbatim run of this many words counts as copied",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--topup",
        type=int,
        default=40,
        help="utility (--eval): bring every code up to K training notes with synthetic ones",
    )
    parser.add_argument("--seeds", default="0,1,2", help="utility (--eval): comma-separated classifier seeds")
    parser.add_argument(
        "--allow-overlap",
        action="store_true",
        help="report even when real and synthetic (or --real and --eval) are the same data or share most notes "
        "(refused otherwise); the report's header then warns",
    )
    parser.add_argument("--json", action="store_true", help="print report.json's headline figures as one JSON line")
    parser.set_defaults(func=_run)


def _check(args) -> None:
    if args.folds < 2 or args.max_notes < 2 or args.bootstrap < 0 or args.run_threshold < 1 or args.max_chars < 0:
        raise MedsynError(
            "--folds and --max-notes must be at least 2, --run-threshold at least 1, --bootstrap and "
            "--max-chars at least 0"
        )
    if not 0 < args.holdout < 1:
        raise MedsynError(f"--holdout {args.holdout}: a share strictly between 0 and 1")
    if args.topup < 1:
        raise MedsynError(
            f"--topup {args.topup}: the number of training notes to bring each code up to must be at least 1"
        )
    try:
        args.seeds = tuple(int(seed) for seed in args.seeds.split(","))
    except ValueError:
        raise MedsynError(f"--seeds {args.seeds!r}: comma-separated integers, e.g. 0,1,2") from None


def _run(args) -> int:
    _check(args)
    inputs = [args.synthetic, args.real, args.eval]
    check_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite)  # fail before the work
    datasets.disable_progress_bars()
    start = time.perf_counter()
    synthetic = load_set(args.synthetic, args.split, args.text_column, args.code_column)
    real = load_set(args.real, None, args.real_text_column, args.real_code_column)
    evaluation = load_set(args.eval, None, args.real_text_column, args.real_code_column) if args.eval else None
    problems = side_problems(args.real, args.synthetic, real.texts, synthetic.texts, MOST)
    if evaluation:  # utility measured on the notes the classifier trained on
        problems += side_problems(args.real, args.eval, real.texts, evaluation.texts, MOST, ("--real", "--eval"))
    if not args.allow_overlap:
        refuse(problems, "the comparison would be meaningless (pass --allow-overlap to report anyway, with a warning)")
    for problem in problems:
        print(f"medsyn: warning: {problem}; the report says so in its header", file=sys.stderr)
    report, plots = build_report(
        synthetic,
        real,
        view=args.view,
        max_chars=args.max_chars,
        max_notes=args.max_notes,
        folds=args.folds,
        n_bootstrap=args.bootstrap,
        holdout=args.holdout,
        run_threshold=args.run_threshold,
        seed=args.seed,
    )
    report["warnings"] = problems
    if evaluation:
        utility_start = time.perf_counter()
        report["utility"] = utility(
            real,
            evaluation,
            synthetic,
            topup=args.topup,
            view=args.view,
            seeds=args.seeds,
            max_chars=args.max_chars,
            n_bootstrap=args.bootstrap,
        )
        report["seconds"]["utility"] = round(time.perf_counter() - utility_start, 2)
    report["seconds"]["total"] = round(time.perf_counter() - start, 2)
    write_report(args.out, report, plots, inputs=inputs, overwrite=args.overwrite)
    headline = {
        "out": str(args.out),
        "auc": report["fidelity"]["auc"],
        "auc_ci": report["fidelity"]["auc_ci"],
        "dcr_median": report["privacy"]["dcr"]["synthetic"]["median"],
        "dcr_holdout_median": report["privacy"]["dcr"]["holdout"]["median"],
        "seconds": report["seconds"]["total"],
    }
    print(
        json.dumps(headline, ensure_ascii=False)
        if args.json
        else summary_table(report) + f"\nwritten: {args.out}/report.md, report.json, {', '.join(PLOTS)}"
    )
    return 0
