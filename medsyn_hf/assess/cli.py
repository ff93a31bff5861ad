"""`medsyn assess prepare|score`: build a blind real-vs-synthetic assessment set, and score the annotators' answers.

Between the two, annotators answer in the demo Space: `python spaces/medsyn-demo/app.py --assess DIR`.
"""

from __future__ import annotations

import argparse
import json

from medsyn_hf.assess import prepare, score
from medsyn_hf.text_views import MAX_CHARS, VIEWS


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "assess", help="blind human assessment of real vs synthetic notes", description=__doc__
    )
    sub = parser.add_subparsers(dest="assess_command", required=True, metavar="STEP")

    p = sub.add_parser(
        "prepare",
        help="a blind, balanced, shuffled assessment set and its key",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=prepare.__doc__,
    )
    p.add_argument(
        "--real",
        required=True,
        help="real notes: RuMedTop3 train JSON lines, MedSyn GPT notes, or any notes file/folder/Hub id",
    )
    p.add_argument(
        "--synthetic",
        required=True,
        help="synthetic notes: a published notes folder (`medsyn publish`), a run folder, or any dataset",
    )
    p.add_argument("--n", type=int, required=True, help="number of items (even: half real, half synthetic)")
    p.add_argument("--out", required=True, help="assessment folder to write (items, key/, answers/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--view", choices=VIEWS, default="complaint", help="the text shown for both sides (medsyn_hf/text_views.py)"
    )
    p.add_argument("--max-chars", type=int, default=MAX_CHARS, help="cap of the view in characters (0: none)")
    p.add_argument(
        "--length-tolerance",
        type=float,
        default=0.3,
        help="a pair's two texts differ in length by at most this share of the longer one",
    )
    for side in ("real", "synthetic"):
        p.add_argument(f"--{side}-split", help=f"split of the {side} dataset (default: train or the only one)")
        p.add_argument(f"--{side}-text-column", help="default: the first of response, text, symptoms (a string)")
        p.add_argument(f"--{side}-code-column", help="default: the first of ICD-10, icd10, code")
    p.add_argument(
        "--trust-synthetic",
        action="store_true",
        help="take --synthetic as synthetic although it has none of the generated-notes columns (generation_model, "
        "prompt, messages) that a `medsyn generate` run or `medsyn publish` folder has",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder, answers included")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.set_defaults(func=_prepare)

    s = sub.add_parser(
        "score",
        help="accuracy, real-vs-synthetic scores and agreement -> report.md/json",
        description=score.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("folder", help="the assessment folder (with answers/)")
    s.add_argument("--out", required=True, help="report folder to write (report.md, report.json)")
    s.add_argument("--overwrite", action="store_true")
    s.add_argument("--json", action="store_true", help="print the report as one JSON line")
    s.set_defaults(func=_score)


def _prepare(args) -> int:
    summary = prepare.prepare(
        args.real,
        args.synthetic,
        args.n,
        args.out,
        seed=args.seed,
        view=args.view,
        max_chars=args.max_chars,
        tolerance=args.length_tolerance,
        real_split=args.real_split,
        synthetic_split=args.synthetic_split,
        real_text_column=args.real_text_column,
        real_code_column=args.real_code_column,
        synthetic_text_column=args.synthetic_text_column,
        synthetic_code_column=args.synthetic_code_column,
        overwrite=args.overwrite,
        trust_synthetic=args.trust_synthetic,
    )
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(
            f"{summary['items']} items ({summary['pairs']} real/synthetic pairs, {summary['same_code_pairs']} of "
            f"them with the same code; {summary['codes']} codes, {summary['view']} view) -> {summary['out']}"
        )
    return 0


def _score(args) -> int:
    report = score.write_report(args.folder, args.out, overwrite=args.overwrite)
    print(json.dumps(report, ensure_ascii=False) if args.json else score.render_markdown(report))
    return 0
