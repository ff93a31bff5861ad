"""The options of a priors sample, declared once: ``sample_priors``' keyword arguments, the `medsyn priors` flags
and the generate config's ``priors_*`` keys are all made from the fields of ``PriorsPolicy`` (names, types, defaults,
help).

No ``from __future__ import annotations`` here: the generate config's parser (TRL's ``HfArgumentParser``) reads the
field types of the dataclass made from these fields, so they must be real types, not strings.
"""

import argparse
from dataclasses import dataclass, field, fields, make_dataclass

from medsyn_hf.errors import MedsynError
from medsyn_hf.priors.pool import LEVELS
from medsyn_hf.priors.symptoms import DEFAULTS, MEDSYN, parse_source_weights
from medsyn_hf.prompts import DEFAULT_MIX, EXAMPLE_TEMPLATES, TEMPLATE_NAMES

MODES = ("plan", "random")
_OTHER_TEMPLATES = [t for t in TEMPLATE_NAMES if t not in EXAMPLE_TEMPLATES and t not in DEFAULT_MIX]


def parse_templates(items) -> dict | None:
    """``["short", "full=2"]`` (the CLI's NAME[=WEIGHT] form) -> {template: weight}; None when not given."""
    if not items:
        return None
    weights = {}
    for item in items:
        name, _, weight = item.partition("=")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise MedsynError(f"template weight must be a number: {item!r}") from None
    return weights


def _option(default, help: str, **cli):
    """A policy field: its help, and how the command line spells it (``cli``: argparse keywords, ``parse`` to turn
    the flag's strings into the field's value)."""
    return field(default=default, metadata={"help": help, "cli": cli})


@dataclass(frozen=True)
class PriorsPolicy:
    """What a sample of priors draws (see ``medsyn_hf.priors`` for the sampling each option steers)."""

    mode: str = _option("plan", "plan: per-code counts ∝ code weights; random: i.i.d. draws", choices=MODES)
    codes: list[str] | None = _option(
        None, "restrict to these codes, subtrees (K29, K20-K31, XI) or prefixes (K2)", nargs="+"
    )
    level: str = _option(
        "code",
        "code: every code with symptoms of its own; category: 3-character categories (default: code)",
        choices=LEVELS,
    )
    min_symptoms: int = _option(2, "fewest symptoms per prior; codes with fewer are not sampled (default: 2)")
    max_symptoms: int = _option(5, "most symptoms per prior (default: 5)")
    temperature: float | None = _option(
        None,
        f"softmax temperature over the symptoms' scores (default: {DEFAULTS['temperature']}; "
        f"--medsyn-compatible: {MEDSYN['temperature']})",
    )
    top_k: int | None = _option(
        None, f"keep each code's k best-scored symptoms, 0: all (default: {DEFAULTS['top_k']})"
    )
    min_weight: float | None = _option(
        None, f"drop symptoms scored below this; a code keeps --min-symptoms (default: {DEFAULTS['min_weight']})"
    )
    source_weights: dict[str, float] | None = _option(
        None,
        "multiply each MKG source's 0-10 weight, unlisted sources 1 (default: "
        + " ".join(f"{k}={v}" for k, v in DEFAULTS["source_weights"].items())
        + ")",
        nargs="+",
        metavar="SOURCE=X",
        parse=parse_source_weights,
    )
    inherit: float | None = _option(
        None,
        f"a subcode also draws its category's own symptoms at this share of their score, 0: off "
        f"(default: {DEFAULTS['inherit']})",
    )
    symptom_lists: str | dict | None = _option(
        None,
        "JSON/YAML {code: [symptom, ...]} or {code: {symptom: weight}} replacing those codes' lists",
        metavar="FILE",
    )
    medsyn_compatible: bool = _option(
        False,
        "MedSyn's symptom draw (all MKG symptoms, softmax(weight / 10)); explicit options still apply",
        action="store_true",
    )
    min_age: int = _option(18, "youngest patient (default: 18)")
    example_p: float = _option(
        0.5, "probability of an example-conditioned prompt when the category has notes (default: 0.5)"
    )
    templates: dict[str, float] | list[str] | None = _option(
        None,
        f"example-free template mix (default: {', '.join(DEFAULT_MIX)} equally; also {', '.join(_OTHER_TEMPLATES)})",
        nargs="+",
        metavar="NAME[=WEIGHT]",
        parse=parse_templates,
    )
    style_examples: int = _option(
        0,
        "real notes of other categories shown per prior as style exemplars by templates that show them "
        "(complaints): the user's real notes in a plan or a generate config with real_dataset, else the packaged "
        "RuMedTop3 train notes; never a note of the prior's own category (default: 0)",
    )
    example_offset: int = _option(
        1, "added to N_exmp in the code weights; MedSyn's 0 drops codes without notes (default: 1)"
    )


def add_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One ``--kebab-case`` flag per policy field but ``skip``, typed by the field (`medsyn priors`, `medsyn plan`)."""
    for f in fields(PriorsPolicy):
        if f.name in skip:
            continue
        cli = {k: v for k, v in f.metadata["cli"].items() if k != "parse"}
        if "action" not in cli and "nargs" not in cli:
            cli["type"] = next(t for t in (bool, int, float, str) if t in getattr(f.type, "__args__", (f.type,)))
        parser.add_argument("--" + f.name.replace("_", "-"), default=f.default, help=f.metadata["help"], **cli)


def from_flags(args: argparse.Namespace) -> dict:
    """``sample_priors`` keyword arguments from the flags ``add_flags`` declared."""
    options = {}
    for f in fields(PriorsPolicy):
        if not hasattr(args, f.name):  # a flag the command skipped
            continue
        parse = f.metadata["cli"].get("parse")
        value = getattr(args, f.name)
        options[f.name] = parse(value) if parse else value
    return options


# The generate config's keys of the policy fields it offers (`codes` and `example_p` predate the `priors_` prefix;
# the prefix keeps e.g. the symptoms' `temperature` apart from the sampling temperature of the notes).
CONFIG_KEYS = {
    "mode": "priors_mode",
    "level": "priors_level",
    "codes": "codes",
    "example_p": "example_p",
    "temperature": "priors_temperature",
    "top_k": "priors_top_k",
    "min_weight": "priors_min_weight",
    "source_weights": "priors_source_weights",
    "inherit": "priors_inherit",
    "symptom_lists": "priors_symptom_lists",
    "medsyn_compatible": "priors_medsyn_compatible",
    "templates": "priors_templates",
    "style_examples": "priors_style_examples",
}
_CONFIG_TYPES = {  # a file in a config, a dict only through the Python API; a config's mix is {name: weight}
    "symptom_lists": str | None,
    "templates": dict[str, float] | None,
}


def config_arguments() -> type:
    """A dataclass of the policy fields a config offers, under their CONFIG_KEYS, for a config to inherit from."""
    by_name = {f.name: f for f in fields(PriorsPolicy)}
    return make_dataclass(
        "PriorsArguments",
        [
            (
                key,
                _CONFIG_TYPES.get(name, by_name[name].type),
                field(default=by_name[name].default, metadata={"help": by_name[name].metadata["help"]}),
            )
            for name, key in CONFIG_KEYS.items()
        ],
    )


def from_config(config) -> dict:
    """``sample_priors`` keyword arguments from a config made with ``config_arguments``."""
    return {name: getattr(config, key) for name, key in CONFIG_KEYS.items()}
