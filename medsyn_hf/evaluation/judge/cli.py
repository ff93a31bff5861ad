"""`medsyn eval judge DATASET --config ...`'s command line: TRL's parser over the judge's, the generation's and the
model's arguments, and what it prints."""

from __future__ import annotations

import json
import logging

from medsyn_hf.evaluation.judge.arguments import COMMAND, JudgeArguments
from medsyn_hf.evaluation.judge.judging import judge
from medsyn_hf.evaluation.judge.prompt import CRITERIA
from medsyn_hf.recipe_args import add_trl_parser, hide_options, parse_args


def make_parser():
    """TRL's parser of the three argument dataclasses (``--config`` YAML, then ``--key value`` overrides)."""
    # TRL is optional (the `train` extra) and heavy, and so is generation.config, which subclasses its ModelConfig:
    # imported when the command runs or prints its help, not whenever `medsyn` starts
    from trl import TrlParser

    from medsyn_hf.generation.config import UNUSED_MODEL_FIELDS, GenerationArguments, GenerationModelConfig

    parser = TrlParser((JudgeArguments, GenerationArguments, GenerationModelConfig), prog=COMMAND)
    hide_options(parser, UNUSED_MODEL_FIELDS)
    return parser


def parse(argv: list[str]):
    """``DATASET --config ... [--key value ...]`` -> (JudgeArguments, GenerationArguments, GenerationModelConfig)."""
    if argv and not argv[0].startswith("-"):
        argv = ["--dataset_name", argv[0], *argv[1:]]
    return parse_args(argv, make_parser())


def _run(args) -> int:
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    judge_args, gen_args, model_args = parse(args.args)
    report = judge(judge_args, gen_args, model_args)
    if judge_args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    means = ", ".join(f"{c} {'–' if v is None else v}" for c, v in report["mean_scores"].items())
    print(
        f"{report['notes']} notes judged: {report['valid']} with valid scores, {report['missing']} without a valid "
        f"reply in {report['max_attempts']} attempts ({report['requests']} requests sent, {report['cached']} "
        f"answered from the cache)\nmean scores: {means}\n-> {report['out']}"
    )
    if "below_min_score" in report:
        print(
            f"{report['below_min_score']} notes below min_score {report['min_score']}: keep false, "
            f"filter_reason 'judge'"
        )
    if "agreement" in report:
        rows = ", ".join(f"{c} rho={report['agreement'][c]['spearman']}" for c in (*CRITERIA, "overall"))
        print(
            f"agreement with {report['agreement']['annotators']} annotator(s) on {report['agreement']['items']} "
            f"items: {rows}"
        )
    return 0


def add_cli(eval_subparsers) -> None:
    p = add_trl_parser(
        eval_subparsers,
        "judge",
        "LLM-judge scores 1-5 per note: medsyn eval judge DATASET --config "
        "recipes/tiny/judge/config.yaml --out DIR [--key value ...]",
    )
    p.set_defaults(func=_run)
