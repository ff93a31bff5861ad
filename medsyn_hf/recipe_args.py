"""Argument parsing shared by the TRL-style recipe commands (`medsyn generate`, `medsyn sft`, `medsyn eval judge`):
a subcommand whose arguments all go to a ``TrlParser``, and a YAML config + flags read into its dataclasses with every
mistake as one ``MedsynError`` line.

It lives outside every stage so that no command imports another stage's CLI: generation and judging used to import it
from ``training.sft`` and with it TRL's trainer stack.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.textfile import check_file, read_yaml
from medsyn_hf.validate import coerce_config


def add_trl_parser(subparsers, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand whose arguments all go to a TrlParser: `--config YAML`, overrides and `--help` pass untouched
    (prefix_chars="+" keeps argparse from claiming them); the handler finds them in `args.args`."""
    p = subparsers.add_parser(name, help=help, add_help=False, prefix_chars="+")
    p.add_argument("args", nargs=argparse.REMAINDER, help="TRL arguments: --config YAML, overrides, --help")
    return p


def hide_options(parser, names) -> list[str]:
    """Keep options that do not apply to the command out of its ``--help`` (TRL's debug flags, fields of TRL's
    dataclasses the command never reads). They stay accepted, as TRL's own scripts accept them, so one YAML config
    can still serve several commands. Returns the names the parser lacks (a TRL release that dropped a field: the
    tests require none, a user's run is not stopped by it)."""
    actions = {action.dest: action for action in parser._actions}
    for name in names:
        if name in actions:
            actions[name].help = argparse.SUPPRESS
    return sorted(set(names) - set(actions))


def _usage_error(message: str):
    raise MedsynError(message)


def parse_args(argv: list[str], parser):
    """``parser`` (a ``trl.TrlParser``) on ``argv``, with a bad config (unknown key, missing or non-UTF-8 file, wrong
    type, bad value) or a bad flag as one `MedsynError` line.

    The YAML values are converted to their fields' types here (``medsyn_hf.validate.coerce_config``): TrlParser
    hands them to argparse as defaults, which argparse neither converts nor checks."""
    parser.error = _usage_error  # argparse's usage + message, as one line
    argv = list(argv)
    if "--config" in argv:
        at = argv.index("--config")
        if at + 1 >= len(argv) or not argv[at + 1].strip():
            raise MedsynError("--config: name a YAML config file")
        path = Path(argv[at + 1])
        config = read_yaml(check_file(path, "config file"), "config file")
        if not isinstance(config, dict):
            raise MedsynError(f"{path} must be a YAML mapping of argument: value")
        known = {action.dest for action in parser._actions} | {"env"}
        unknown = sorted(set(map(str, config)) - known)
        if unknown:
            raise MedsynError(f"unknown key(s) in {path}: {', '.join(unknown)} (see `{parser.prog} --help`)")
        env = config.pop("env", None) or {}
        if not isinstance(env, dict):
            raise MedsynError(f"{path}: env must be a mapping of variable: value")
        config = coerce_config(config, parser.dataclass_types, where=f"{path}: ")
        os.environ.update({str(k): str(v) for k, v in env.items()})
        parser.set_defaults_with_config(**config)
        argv = argv[:at] + argv[at + 2 :]
    try:
        return parser.parse_args_and_config(argv)
    except (ValueError, TypeError) as err:
        raise MedsynError(first_line(err)) from err
