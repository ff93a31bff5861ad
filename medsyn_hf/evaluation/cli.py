"""`medsyn eval icd|prompt-following|report|judge`: what synthetic notes are worth, to a classifier and against their
prompts, how realistic, diverse and private they are, and what an LLM judge scores them."""

from __future__ import annotations

import importlib

EVALUATIONS = (
    "medsyn_hf.evaluation.icd.cli",  # `eval icd` and its --choose-on-train
    "medsyn_hf.evaluation.prompt_following",
    "medsyn_hf.evaluation.report.cli",
    "medsyn_hf.evaluation.judge.cli",
)


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate synthetic notes", description=__doc__)
    evaluations = parser.add_subparsers(dest="eval_command", required=True, metavar="EVALUATION")
    for name in EVALUATIONS:
        importlib.import_module(name).add_cli(evaluations)
