"""The `medsyn` command's surface: `--json` on every command, help that shows only the options a command reads, and
help texts that describe the current models."""

import argparse
import dataclasses
import importlib
import json
import re
import subprocess
import sys

import pytest
import trl
from conftest import REPO

from medsyn_hf.cli import COMMANDS, build_parser
from medsyn_hf.cli import main as medsyn
from medsyn_hf.generation.config import UNUSED_MODEL_FIELDS, UNUSED_SCRIPT_FIELDS

# TRL-parsed commands whose arguments argparse never sees (add_trl_parser): how each takes --json.
TRL_COMMANDS = {
    "generate": "handled by the subcommand: `--json` is taken out before TRL parses the rest",
    "eval judge": "JudgeArguments.json",
    "sft": None,  # training writes a model folder and logs as it goes; nothing to print as one line
}


def leaves(parser, prefix=()):
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield " ".join(prefix), parser
        return
    for name, sub in subparsers[0].choices.items():
        yield from leaves(sub, (*prefix, name))


def test_every_command_takes_json():
    commands = dict(leaves(build_parser()))
    assert set(TRL_COMMANDS) <= set(commands)
    missing = [
        name
        for name, parser in commands.items()
        if name not in TRL_COMMANDS and "--json" not in {o for a in parser._actions for o in a.option_strings}
    ]
    assert missing == []
    from medsyn_hf.evaluation.judge.cli import make_parser

    assert "--json" in {o for a in make_parser()._actions for o in a.option_strings}


def test_the_command_table_names_the_module_registering_each_command():
    """`medsyn COMMAND` imports only the module cli.COMMANDS names for it: that module must register exactly the
    commands the table gives it, and the full parser lists them in the table's order."""
    for module in dict.fromkeys(COMMANDS.values()):
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).add_cli(sub)
        assert list(sub.choices) == [c for c, m in COMMANDS.items() if m == module], module
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(top.choices) == list(COMMANDS)


def test_a_command_imports_only_its_own_stage():
    """`medsyn kg stats` loads the graph code, not the generation, training, evaluation or Space code (nor TRL and
    datasets): each command pays only for its own imports."""
    code = (
        "import sys; from medsyn_hf.cli import main; assert main(['kg', 'stats', '--json']) == 0; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('medsyn_hf.', 'trl', 'datasets')))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = loaded.stdout.split("\n")[-2].split()
    assert "medsyn_hf.kg.cli" in modules
    stages = ("generation", "training", "evaluation", "assess", "priors", "space", "ift", "filters")
    assert [m for m in modules if m.split(".")[1] in stages or not m.startswith("medsyn_hf")] == []


def test_kg_show_json_is_the_code_its_path_and_symptoms(kg, capsys):
    assert medsyn(["kg", "show", "j06", "--json", "--limit", "3"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["code"] == "J06" and shown["name_ru"] == kg.code("J06")["name_ru"]
    assert [p["code"] for p in shown["path"]] == kg.path("J06")
    symptoms = kg.symptoms("J06")
    assert shown["n_symptoms"] == len(symptoms)
    assert [(s["name"], s["weight"]) for s in shown["symptoms"]] == [(s.name, s.weight) for s in symptoms[:3]]


def help_text(argv, capsys) -> str:
    """A TRL-parsed command's --help: TrlParser exits itself, past `medsyn`'s own handling."""
    with pytest.raises(SystemExit) as exit_:
        medsyn(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def shown_options(parser) -> set[str]:
    return {a.dest for a in parser._actions if a.help != argparse.SUPPRESS and a.option_strings}


def source_text(*parts) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for part in parts for p in sorted((REPO / part).rglob("*.py")))


def reads(name: str, text: str) -> bool:
    return re.search(rf"\.{name}\b|[\"']{name}[\"']", text) is not None


@pytest.mark.parametrize("command", ["generate", "eval judge"])
def test_generation_help_shows_only_the_trl_fields_generation_reads(command, capsys):
    """Every field TRL's ScriptArguments / ModelConfig add that the help shows is read by the generation code; the
    hidden ones are read nowhere there (medsyn_hf/generation/config.py lists them)."""
    from medsyn_hf.evaluation.judge.cli import make_parser as judge_parser
    from medsyn_hf.generation.cli import make_parser as generate_parser

    parser = generate_parser() if command == "generate" else judge_parser()
    trl_fields = {f.name for cls in (trl.ScriptArguments, trl.ModelConfig) for f in dataclasses.fields(cls)}
    code = source_text("medsyn_hf/generation", "medsyn_hf/evaluation").replace(
        (REPO / "medsyn_hf/generation/config.py").read_text(encoding="utf-8"), ""
    )
    shown = shown_options(parser) & trl_fields
    assert shown and [name for name in sorted(shown) if not reads(name, code)] == []
    hidden = set(UNUSED_SCRIPT_FIELDS + UNUSED_MODEL_FIELDS) & {a.dest for a in parser._actions}
    assert hidden and [name for name in sorted(hidden) if reads(name, code)] == []

    text = help_text([*command.split(), "--help"], capsys)
    assert "--ignore_bias_buffers" not in text and "--lora_r" not in text and "--load_in_4bit" not in text
    assert "--model_name_or_path" in text and "--temperature" in text


def test_sft_help_hides_debug_and_deprecated_flags(capsys):
    from medsyn_hf.training.sft import HIDDEN, make_parser

    parser = make_parser()
    for action in parser._actions:
        if action.help != argparse.SUPPRESS:
            assert not re.match(r"(Deprecated|Debug argument|Removed)", action.help or ""), action.dest
    text = help_text(["sft", "--help"], capsys)
    for name in HIDDEN:
        assert f"--{name} " not in text and f"--{name}\n" not in text
    assert "--learning_rate" in text and "--lora_r" in text  # what SFT does read stays


def test_every_hidden_option_exists():
    """A hidden name the parser lacks (a field TRL dropped) is reported, and none of ours is stale."""
    from medsyn_hf.evaluation.judge.cli import make_parser as judge_parser
    from medsyn_hf.generation.cli import make_parser as generate_parser
    from medsyn_hf.recipe_args import hide_options
    from medsyn_hf.training.sft import HIDDEN
    from medsyn_hf.training.sft import make_parser as sft_parser

    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--kept")
    assert hide_options(parser, ["gone", "kept"]) == ["gone"] and parser._actions[-1].help == argparse.SUPPRESS
    for make, names in (
        (generate_parser, UNUSED_SCRIPT_FIELDS + UNUSED_MODEL_FIELDS),
        (judge_parser, UNUSED_MODEL_FIELDS),
        (sft_parser, HIDDEN),
    ):
        assert hide_options(make(), names) == []


def test_help_texts_name_the_packaged_writer(capsys):
    assert medsyn(["--help"]) == 0
    top = capsys.readouterr().out
    assert "registers itself" not in top  # the module docstring is for developers
    line = re.search(r"tiny-model\s+(.*?)\n\s{4}\w", top, re.S).group(1)
    assert "random-init" in line and "demo's and recipes/tiny's model is the packaged writer medsyn-tiny" in " ".join(
        line.split()
    )
    assert medsyn(["tiny-model", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the packaged pretrained writer `medsyn-tiny`" in text and "the model of the demo" in text
