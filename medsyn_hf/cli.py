"""The `medsyn` command. Each subcommand lives next to the code it runs and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from medsyn_hf.errors import MedsynError

# Modules exposing ``add_cli(subparsers)``; heavy imports (torch, transformers, gradio) stay inside their handlers.
COMMANDS = (
    "medsyn_hf.kg.cli",
    "medsyn_hf.priors.cli",
    "medsyn_hf.training.pretrain.cli",
    "medsyn_hf.training.cli",
    "medsyn_hf.generation.cli",
    "medsyn_hf.ift.cli",
    "medsyn_hf.evaluation.cli",
    "medsyn_hf.assess.cli",
    "medsyn_hf.env",
)


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


def build_parser() -> argparse.ArgumentParser:
    from medsyn_hf import __version__

    parser = OneLineParser(prog="medsyn", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"medsyn_hf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
