"""`medsyn generate` (the recipe `recipes/generate.py`; every argument goes to TRL's parser) and `medsyn publish`."""

from __future__ import annotations

import json

from trl import TrlParser

from medsyn_hf.generation.config import (
    UNUSED_MODEL_FIELDS,
    UNUSED_SCRIPT_FIELDS,
    GenerateScriptArguments,
    GenerationArguments,
    GenerationModelConfig,
)
from medsyn_hf.generation.publish import publish
from medsyn_hf.generation.run import main
from medsyn_hf.provenance import CORPUS_LICENSE
from medsyn_hf.recipe_args import add_trl_parser, hide_options, parse_args
from medsyn_hf.validate import repo_id_arg


def make_parser():
    parser = TrlParser((GenerateScriptArguments, GenerationArguments, GenerationModelConfig), prog="medsyn generate")
    hide_options(parser, UNUSED_SCRIPT_FIELDS + UNUSED_MODEL_FIELDS)
    return parser


def _generate(args) -> None:
    argv = [a for a in args.args if a != "--json"]
    report = main(*parse_args(argv, make_parser()))
    if "run_dir" in report and "notes" in report:  # the main process
        print(
            json.dumps(report)
            if "--json" in args.args
            else f"{report['notes']} notes ({report['kept']} kept by the filters) in {report['run_dir']}\n"
            + (
                f"plan (fill to {report['plan']['fill_to']}): {report['plan']['kept_towards_need']:,} kept notes "
                f"towards a need of {report['plan']['need']:,}; {report['plan']['short_codes']} codes short of "
                "theirs (per code: the published card)\n"
                if "plan" in report
                else ""
            )
            + f"publish them: medsyn publish {report['run_dir']} --out REPO_DIR"
        )


def _publish(args) -> None:
    report = publish(
        args.run_dir,
        args.out,
        repo_id=args.repo_id,
        private=args.private or None,
        license=args.license,
        overwrite=args.overwrite,
        report=args.report,
    )
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"{report['notes']} notes ({report['splits'].get('train', 0)} kept) over {report['codes']} codes -> "
        f"{report['out']}\nload it: datasets.load_dataset({report['out']!r}, split='train')"
    )
    if "url" in report:
        print(f"pushed: {report['url']}")


def add_cli(subparsers) -> None:
    g = add_trl_parser(
        subparsers,
        "generate",
        "generate notes: medsyn generate --config recipes/tiny/generate/config.yaml [--key value ...] [--json]",
    )
    g.set_defaults(func=_generate)

    p = subparsers.add_parser("publish", help="a finished generation run -> Hub dataset folder (and the Hub)")
    p.add_argument("run_dir", help="run folder of `medsyn generate` (e.g. runs/generate/latest)")
    p.add_argument(
        "--out",
        required=True,
        help="dataset folder to write (replaced atomically; an existing one only "
        "if `medsyn publish` wrote it, or with --overwrite)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing folder `medsyn publish` did not write"
    )
    p.add_argument(
        "--repo-id",
        type=repo_id_arg,
        help="also upload to this Hub dataset repo (token from HF_TOKEN or `hf auth login`)",
    )
    p.add_argument("--report", help="a `medsyn eval report` folder: its summary table and plots go into the card")
    p.add_argument("--private", action="store_true", help="create the Hub repo private")
    p.add_argument(
        "--license",
        default=CORPUS_LICENSE,
        help="Hub license id of the dataset (default: %(default)s, as the packaged writer's; the card explains why)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=_publish)
