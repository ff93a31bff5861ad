"""The priors' options are declared once (medsyn_hf.priors.policy): `medsyn priors` flags, the generate config's keys
and `sample_priors`' keyword arguments all come from `PriorsPolicy`, and each route gives the same priors."""

import dataclasses
import typing

import pyarrow.parquet as pq

from medsyn_hf.cli import build_parser
from medsyn_hf.cli import main as medsyn
from medsyn_hf.priors import sample_priors
from medsyn_hf.priors.policy import CONFIG_KEYS, PriorsArguments, PriorsPolicy, from_config, from_flags

FIELDS = [f.name for f in dataclasses.fields(PriorsPolicy)]


def test_every_field_is_a_flag_with_its_default():
    args = build_parser().parse_args(["priors", "--n", "3", "--out", "x"])
    assert from_flags(args) == {f.name: f.default for f in dataclasses.fields(PriorsPolicy)}
    args = build_parser().parse_args(
        [
            "priors",
            "--n",
            "3",
            "--out",
            "x",
            "--mode",
            "random",
            "--codes",
            "J06",
            "K29",
            "--source-weights",
            "hsdn=0.5",
            "--templates",
            "short=2",
            "anamnesis",
            "--medsyn-compatible",
            "--top-k",
            "7",
            "--inherit",
            "0.5",
        ]
    )
    options = from_flags(args)
    assert list(options) == FIELDS
    assert (options["mode"], options["codes"], options["source_weights"], options["templates"]) == (
        "random",
        ["J06", "K29"],
        {"hsdn": 0.5},
        {"short": 2.0, "anamnesis": 1.0},
    )
    assert (options["medsyn_compatible"], options["top_k"], options["inherit"]) == (True, 7, 0.5)


def test_the_cli_writes_what_sample_priors_draws(kg, tmp_path, capsys):
    flags = ["--mode", "random", "--codes", "J06", "K29", "--temperature", "2", "--templates", "short", "--seed", "4"]
    assert medsyn(["priors", "--n", "40", "--out", str(tmp_path / "p.parquet"), *flags]) == 0
    capsys.readouterr()
    expected = sample_priors(
        kg, 40, seed=4, mode="random", codes=["J06", "K29"], temperature=2.0, templates={"short": 1.0}
    )
    assert pq.read_table(tmp_path / "p.parquet").equals(expected.data.table)


# The two config fields whose type is narrower than the policy's (PriorsArguments' docstring says why).
NARROWER_IN_CONFIGS = {"symptom_lists": str | None, "templates": dict[str, float] | None}


def test_the_config_fields_written_out_are_the_policys():
    """PriorsArguments repeats the policy's fields so that editors find `script_args.priors_mode`: its names (in
    CONFIG_KEYS' order), types, defaults and help are the policy's, so the two cannot drift apart."""
    policy = {f.name: f for f in dataclasses.fields(PriorsPolicy)}
    written = dataclasses.fields(PriorsArguments)
    # the declared annotations (HfArgumentParser rewrites a field's `type` in place once it has parsed the class)
    policy_types, written_types = typing.get_type_hints(PriorsPolicy), typing.get_type_hints(PriorsArguments)
    assert [f.name for f in written] == list(CONFIG_KEYS.values())
    for (name, key), f in zip(CONFIG_KEYS.items(), written):
        assert written_types[key] == NARROWER_IN_CONFIGS.get(name, policy_types[name]), key
        assert f.default == policy[name].default, key
        assert f.metadata["help"] == policy[name].metadata["help"], key
    assert set(NARROWER_IN_CONFIGS) < set(CONFIG_KEYS)


def test_the_generate_config_offers_the_fields_under_their_keys(kg):
    from medsyn_hf.generation.config import GenerateScriptArguments

    config_fields = {f.name: f for f in dataclasses.fields(GenerateScriptArguments)}
    for name, key in CONFIG_KEYS.items():
        policy_field = next(f for f in dataclasses.fields(PriorsPolicy) if f.name == name)
        assert config_fields[key].default == policy_field.default, key
        assert config_fields[key].metadata["help"] == policy_field.metadata["help"], key
    config = GenerateScriptArguments(priors_mode="random", codes=["J06"], example_p=0.0, priors_temperature=2.0)
    options = from_config(config)
    assert (options["mode"], options["codes"], options["example_p"], options["temperature"]) == (
        "random",
        ["J06"],
        0.0,
        2.0,
    )
    drawn = sample_priors(kg, 20, seed=1, **options)
    assert drawn.data.table.equals(
        sample_priors(kg, 20, seed=1, mode="random", codes=["J06"], example_p=0.0, temperature=2.0).data.table
    )
    assert all(code.startswith("J06") for code in drawn["code"])


def test_both_spellings_of_a_policy_flag_work_in_both_commands():
    """`medsyn priors --example_p` as `medsyn generate --example_p`, and `--example-p` in both (docs/guide.md)."""
    from medsyn_hf.generation.cli import make_parser

    for spelling in ("--example-p", "--example_p"):
        args = build_parser().parse_args(["priors", "--n", "3", "--out", "x", spelling, "0.25", "--min_symptoms", "3"])
        assert (from_flags(args)["example_p"], from_flags(args)["min_symptoms"]) == (0.25, 3)
        script_args, *_ = make_parser().parse_args_into_dataclasses(
            [spelling, "0.25", "--model_name_or_path", "medsyn-tiny"]
        )
        assert from_config(script_args)["example_p"] == 0.25
