"""`medsyn sft`: the SFT recipe (`recipes/sft.py`) as a subcommand; every argument goes to TRL's parser."""

from __future__ import annotations

from medsyn_hf.recipe_args import add_trl_parser


def _run(args) -> None:
    # training.sft imports TRL's trainer, transformers and torch (seconds): loaded by `medsyn sft` only, not by every
    # `medsyn --help`
    from medsyn_hf.training.sft import main, parse_args

    main(*parse_args(args.args), argv=args.args)


def add_cli(subparsers) -> None:
    p = add_trl_parser(
        subparsers, "sft", "supervised fine-tuning: medsyn sft --config recipes/tiny/sft/config.yaml [--key value ...]"
    )
    p.set_defaults(func=_run)
