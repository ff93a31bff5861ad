"""Generation backends: a registry of `Backend` classes by name (``backend:`` in a generate or judge config).

Built in: ``transformers`` (in process, batched, exact per-row sampling) and ``openai`` (`huggingface_hub`'s
InferenceClient: any OpenAI-compatible server — vLLM, TGI, ``transformers serve`` — an Inference Endpoint or an
Inference Provider). Another backend is one `Backend` subclass passed to `register_backend` (see
CONTRIBUTING.md, "Extending").

``make_backend(gen_args, model_args)`` and ``row_key`` are what the generation run, the judge and the demo Space
call: the Space's note for a seed is `medsyn generate`'s.
"""

from __future__ import annotations

from medsyn_hf.errors import MedsynError
from medsyn_hf.generation.backends.base import Backend, Completion, RequestsFailed, row_key
from medsyn_hf.generation.backends.inference_client import InferenceClientBackend
from medsyn_hf.generation.backends.transformers import TransformersBackend, adapter_base, is_model_folder, load_model

__all__ = [
    "Backend",
    "Completion",
    "RequestsFailed",
    "adapter_base",
    "backend_names",
    "get_backend",
    "is_model_folder",
    "load_model",
    "make_backend",
    "register_backend",
    "row_key",
    "unregister_backend",
]

_REGISTRY: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Add a backend class under its ``name`` (usable as a class decorator); a name is registered once."""
    if not (isinstance(cls, type) and issubclass(cls, Backend)) or not getattr(cls, "name", None):
        raise MedsynError(f"{cls!r} is not a Backend subclass with a name")
    if _REGISTRY.get(cls.name, cls) is not cls:
        raise MedsynError(f"backend {cls.name!r} is already registered ({_REGISTRY[cls.name].__qualname__})")
    _REGISTRY[cls.name] = cls
    return cls


def unregister_backend(name: str) -> None:
    """Remove a backend added with `register_backend` (the built-in ones stay)."""
    if name in (TransformersBackend.name, InferenceClientBackend.name):
        raise MedsynError(f"backend {name!r} is built in; it cannot be removed")
    _REGISTRY.pop(name, None)


def backend_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get_backend(name: str) -> type[Backend]:
    if name not in _REGISTRY:
        raise MedsynError(f"unknown backend {name!r}; choose from {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def make_backend(gen_args, model_args, device="cpu", model_and_tokenizer=None) -> Backend:
    """The backend ``gen_args.backend`` names, ready to ``generate``; ``model_and_tokenizer`` (transformers): an
    already loaded pair (`load_model`) instead of loading ``model_args``' model."""
    return get_backend(gen_args.backend)(gen_args, model_args, device=device, model_and_tokenizer=model_and_tokenizer)


register_backend(TransformersBackend)
register_backend(InferenceClientBackend)
