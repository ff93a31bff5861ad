"""The `medsyn` command. Each subcommand lives next to the code it runs and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys

from medsyn_hf.errors import MedsynError

# Modules exposing ``add_cli(subparsers)``; heavy imports (torch, transformers, gradio) stay inside their handlers.
COMMANDS = (
    "medsyn_hf.kg.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medsyn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except MedsynError as err:
        print(f"medsyn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("medsyn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
