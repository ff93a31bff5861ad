"""The `medsyn` command. Each subcommand lives next to the code it runs and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys

from medsyn_hf.errors import MedsynError

# Modules exposing ``add_cli(subparsers)``; heavy imports (torch, transformers, gradio) stay inside their handlers.
COMMANDS = (
    "medsyn_hf.kg.cli",
    "medsyn_hf.priors",
    "medsyn_hf.tiny_model",
    "medsyn_hf.training.cli",
    "medsyn_hf.generation.cli",
    "medsyn_hf.ift.cli",
    "medsyn_hf.evaluation.cli",
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
    except BrokenPipeError:  # `medsyn ... | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
