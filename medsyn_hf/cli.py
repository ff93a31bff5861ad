"""The `medsyn` command. Each subcommand lives next to the code it runs and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from medsyn_hf import __version__
from medsyn_hf.errors import MedsynError

# Each command and the module that registers it (``add_cli(subparsers)``), in the order `medsyn --help` lists them.
# Named, not imported: `medsyn COMMAND` imports only its own module, so no command pays for the others' imports
# (datasets, networkx, TRL: about a second each); `medsyn --help` imports them all. tests/test_cli_help.py checks that
# each module registers exactly the commands named here.
COMMANDS = {
    "kg": "medsyn_hf.kg.cli",
    "priors": "medsyn_hf.priors.cli",
    "plan": "medsyn_hf.priors.cli",
    "priors-resources": "medsyn_hf.priors.cli",
    "tiny-model": "medsyn_hf.training.pretrain.cli",
    "sft": "medsyn_hf.training.cli",
    "generate": "medsyn_hf.generation.cli",
    "publish": "medsyn_hf.generation.cli",
    "ift": "medsyn_hf.ift.cli",
    "eval": "medsyn_hf.evaluation.cli",
    "assess": "medsyn_hf.assess.cli",
    "env": "medsyn_hf.env",
}


DESCRIPTION = (
    "Synthetic Russian clinical notes grounded in a Medical Knowledge Graph (MedSyn, 2024): kg -> priors -> "
    "(ift build -> sft) -> generate -> publish -> eval. `medsyn COMMAND --help` for each; read-only commands "
    "print one JSON line with --json."
)


class OneLineParser(argparse.ArgumentParser):
    """A usage error (missing flag, wrong type, out of range) is one line on stderr and exit code 2, like any other
    bad input; subcommand parsers inherit the class."""

    def error(self, message: str):
        tool, *sub = self.prog.split()  # "medsyn: error: priors: ...", like every other error line
        self.exit(2, f"{tool}: error: {' '.join([*sub, ''])[:-1] + ': ' if sub else ''}{message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `medsyn` parser with every command, with only the commands of the module registering ``command``, or with
    none for `--version`."""
    parser = OneLineParser(prog="medsyn", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"medsyn_hf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for name in modules if command != "--version" else ():
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv[0] if argv else None).parse_args(argv)
    except SystemExit as exit_:  # a usage error (already printed) or --help
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.func(args) or 0
    except MedsynError as err:
        if os.environ.get("RANK", "0") == "0":  # under `accelerate launch` every process fails alike: say it once
            print(f"medsyn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("medsyn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `medsyn ... | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
