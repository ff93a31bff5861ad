"""The Generate tab's models: the choices under the data folders, the default model, and loading (once per folder).

The default model is, in order: ``--model``; the model a deployed Space bundles (``Config.bundled``); `make demo`'s
trained model (``runs/demo/sft``); the packaged pretrained writer (``medsyn_hf.tiny_model.WRITER_DIR``); and, only
where none exists (a source tree whose writer was never trained), a random-init tiny model built into the cache.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.generation.backends import adapter_base, is_model_folder
from medsyn_hf.generation.backends import load_model as backend_load_model
from medsyn_hf.generation.config import GenerationModelConfig
from medsyn_hf.space.config import Config, inside, public, walk
from medsyn_hf.tiny_model import WRITER_DIR
from medsyn_hf.tiny_model import build as build_tiny_model
from medsyn_hf.validate import is_hub_id

log = logging.getLogger("medsyn.space")

DEFAULT_MODEL = "default"
DEMO_MODEL = Path("runs/demo/sft")  # `make demo`'s trained model, relative to the working folder
_BUILD = threading.Lock()


def default_model(config: Config) -> Path:
    if config.model:
        return config.model
    for folder in (config.bundled, DEMO_MODEL, WRITER_DIR):
        if folder is not None and is_model_folder(folder):
            return folder.resolve()
    return tiny_model(config.cache / "tiny-model")


def tiny_model(path: Path) -> Path:
    """The random-init tiny model, built once (notes are gibberish, but every stage of the pipeline runs)."""
    with _BUILD:
        if not (path / "config.json").is_file():
            log.warning("no packaged writer in %s; building a random-init tiny model into %s", WRITER_DIR, path)
            build_tiny_model(path)
    return path


def resolve_model(config: Config, choice: str) -> Path:
    if not choice or choice == DEFAULT_MODEL:
        return default_model(config)
    path = Path(choice).expanduser().resolve()
    if path != config.model:
        path = inside(choice, config.data_dirs)
    if not is_model_folder(path):
        raise MedsynError(f"{choice}: not a model folder (a model with its tokenizer, or a LoRA adapter)")
    return path


def loadable(config: Config, choice: str) -> tuple[str, str | None]:
    """(model folder, base model) as the loader gets them. A LoRA adapter's base is None for a full model, a Hub id
    (found only where the Hub or its cache is reachable), or a local folder resolved here, symlinks followed. An
    adapter picked from the data folders may only build on a model under them or on the default model: its
    adapter_config.json could name any folder of the server. The default model's own base is the operator's choice."""
    path = resolve_model(config, choice)
    base = adapter_base(path)
    if base is None or is_hub_id(base):
        return str(path), base
    resolved = Path(base).expanduser().resolve()
    trusted = not choice or choice == DEFAULT_MODEL or path == config.model
    if not (trusted or resolved == config.model or any(resolved.is_relative_to(r) for r in config.data_dirs)):
        raise MedsynError(
            f"{choice}: the adapter's base model (base_model_name_or_path in adapter_config.json) lies "
            "outside the configured data folders"
        )
    if not is_model_folder(resolved):
        raise MedsynError(f"{choice}: the adapter's base model is not a model folder")
    return str(path), str(resolved)


def model_args(path: str, base: str | None):
    """The generation recipe's model arguments for a (model folder, base) pair: an adapter is merged into its base."""
    if base is None:
        return GenerationModelConfig(model_name_or_path=path)
    return GenerationModelConfig(model_name_or_path=base, adapter_name_or_path=path)


@functools.lru_cache(maxsize=2)
def load_model(path: str, base: str | None):
    """(model, tokenizer) by the generation backends' loader, once per folder, kept for the next request."""
    import torch

    log.info("loading model %s", path)
    return backend_load_model(model_args(path, base), "cuda" if torch.cuda.is_available() else "cpu")


def model_choices(config: Config) -> list[str]:
    """Model folders under the data folders, by public name (the default model is listed once, as "default")."""
    found = {
        p.parent
        for root in config.data_dirs
        for name in ("tokenizer_config.json", "adapter_config.json")
        for p in walk(root, name)
        if is_model_folder(p.parent)
    }
    return [DEFAULT_MODEL, *sorted(public(p, config.data_dirs) for p in found if p.resolve() != config.model)]
