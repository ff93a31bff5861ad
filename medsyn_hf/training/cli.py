"""`medsyn sft`: the SFT recipe (`recipes/sft.py`) as a subcommand; every argument goes to TRL's parser."""

from __future__ import annotations

import argparse


def add_trl_parser(subparsers, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand whose arguments all go to a TrlParser: `--config YAML`, overrides and `--help` pass untouched
    (prefix_chars="+" keeps argparse from claiming them); the handler finds them in `args.args`."""
    p = subparsers.add_parser(name, help=help, add_help=False, prefix_chars="+")
    p.add_argument("args", nargs=argparse.REMAINDER, help="TRL arguments: --config YAML, overrides, --help")
    return p


def _run(args) -> None:
    from medsyn_hf.training.sft import main, parse_args

    main(*parse_args(args.args))


def add_cli(subparsers) -> None:
    p = add_trl_parser(subparsers, "sft", "supervised fine-tuning: medsyn sft --config recipes/tiny/sft/config.yaml "
                                         "[--key value ...]")
    p.set_defaults(func=_run)
