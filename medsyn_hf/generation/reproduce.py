"""What a published notes dataset carries so that it can be made again (as distilabel pushes ``pipeline.yaml`` and
DataDreamer its step config): the run's arguments without paths of the machine that ran it (``config.json``), the
same as a `medsyn generate` recipe (``generate.yaml``), the small input files the run read (``inputs/``), and the
commands that re-run it from a copy of the dataset repository.

A model becomes its Hub id, or a name: a packaged writer's folder its name (``medsyn-tiny``,
``medsyn-tiny-complaints``), another local folder its own name (flagged in ``local``: it has to be put on the Hub,
or given, to re-run). TRL fields that generation never reads and the settings of backends the run did not use are
left out.
"""

from __future__ import annotations

import shlex
from dataclasses import fields
from pathlib import Path

from medsyn_hf import __version__
from medsyn_hf.errors import MedsynError
from medsyn_hf.generation.backends import get_backend
from medsyn_hf.generation.config import (
    UNUSED_MODEL_FIELDS,
    UNUSED_SCRIPT_FIELDS,
    GenerateScriptArguments,
    SamplingArguments,
)
from medsyn_hf.provenance import is_local_path, public_name
from medsyn_hf.tiny_model import PACKAGED_WRITERS, packaged_names

CONFIG = "config.json"  # the run's arguments, grouped as the recipe's dataclasses
RECIPE = "generate.yaml"  # the same arguments as one `medsyn generate --config` file
INPUTS = "inputs"  # input files the run read (a symptom-list YAML, a priors file), copied
MAX_INPUT_BYTES = 10 << 20  # larger input files are named, not copied
OUTPUT_DIR = GenerateScriptArguments.output_dir  # where the re-run writes (its default), relative to the copy
MODEL_FIELDS = ("model_name_or_path", "adapter_name_or_path")
# The user's real notes (planning and selection read them): named, never copied into a dataset that is published.
PRIVATE_INPUTS = ("real_dataset",)


def _generation_args(args: dict) -> dict:
    """The common sampling settings and those of the backend the run used (all of them for a backend this process
    does not know: a user's registered one)."""
    try:
        own = {f.name for f in fields(get_backend(args.get("backend", "transformers")).Config)}
    except MedsynError:
        return dict(args)
    kept = own | {f.name for f in fields(SamplingArguments)}
    return {k: v for k, v in args.items() if k in kept or (k == "backend_args" and v)}


def _inputs(args: dict, files: dict[str, bytes], skip: dict) -> dict:
    """``args`` with every small local input file copied into ``files`` (under inputs/) and named by its copy; the
    ``skip`` keys take the given names instead."""
    out = {}
    for key, value in args.items():
        if key in skip:
            out[key] = skip[key]
            continue
        path = Path(value) if is_local_path(value) else None
        if path is not None and path.is_file() and path.stat().st_size <= MAX_INPUT_BYTES:
            name = f"{INPUTS}/{path.name}"
            files[name] = path.read_bytes()
            value = name
        out[key] = value
    return out


def run_recipe(config: dict, out_name: str, publish_flags: list[str] = ()) -> tuple[dict, dict[str, bytes]]:
    """(the dataset's ``config.json``, the files it ships: ``generate.yaml`` and ``inputs/*``) for a run's
    ``config.json``; ``out_name`` is the folder the re-run's ``medsyn publish`` writes."""
    import json

    import yaml

    files: dict[str, bytes] = {}
    script = {k: v for k, v in config["script_args"].items() if k not in UNUSED_SCRIPT_FIELDS}
    private = {k: public_name(script[k]) for k in PRIVATE_INPUTS if is_local_path(script.get(k))}
    script = _inputs({**script, "output_dir": OUTPUT_DIR, "overwrite_output_dir": False}, files, skip=private)
    generation = _inputs(_generation_args(config.get("generation_args") or {}), files, {})  # older runs lack them
    named = packaged_names()
    model = {k: v for k, v in config["model_args"].items() if k not in UNUSED_MODEL_FIELDS}
    local = [
        k for k in MODEL_FIELDS if is_local_path(model.get(k)) and public_name(model[k], named) not in PACKAGED_WRITERS
    ]
    if is_local_path(script.get("dataset_name")):  # a priors folder: too big to copy, named
        local.append("dataset_name")
    local += list(private)
    model = {k: public_name(v, named) for k, v in model.items()}
    script["dataset_name"] = public_name(script.get("dataset_name"))
    command = [
        f"medsyn generate --config {RECIPE}",
        shlex.join(["medsyn", "publish", f"{OUTPUT_DIR}/latest", "--out", out_name, *publish_flags]),
    ]
    published = {
        "medsyn_hf_version": __version__,
        "run_id": config["run_id"],
        "command": command,
        "local": local,
        "script_args": script,
        "generation_args": generation,
        "model_args": model,
    }
    header = "".join(
        f"# {line}\n"
        for line in (
            f"The generation recipe of this dataset: run {config['run_id']} of medsyn_hf {__version__}.",
            f"Written by `medsyn publish`; {CONFIG} holds the same arguments, grouped.",
            "Re-run it from a copy of this repository:",
            *(f"  {c}" for c in command),
        )
    )
    recipe = {**script, **generation, **model}
    files[RECIPE] = (header + yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False)).encode()
    files[CONFIG] = (json.dumps(published, ensure_ascii=False, indent=2) + "\n").encode()
    return published, files
