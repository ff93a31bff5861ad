"""The backend interface: one class per way of turning chat prompts into notes (in the spirit of distilabel's
``LLM``). A backend declares

- ``name``: what ``backend:`` in a generate or judge config selects (``register_backend`` adds it to the registry);
- ``Config``: a dataclass of its own settings. The built-in backends' sections are part of ``GenerationArguments``
  (flat YAML keys, command-line flags); another backend's fields are given as ``backend_args: {field: value}``;
- ``run_id_fields``: the ``Config`` fields that change a reply (they enter the run id and the request cache key;
  throughput settings stay out, so a crashed run can be resumed with other ones), and ``model_identity`` for what
  besides the weights' fingerprint identifies the model;
- ``generate(messages_list, keys, on_batch=None) -> [Completion]``: one completion per prompt, in order. ``keys`` are
  the per-row sampling keys (`row_key`): the same key must give the same reply where the backend can promise it.
  ``on_batch({position: Completion})`` is called as completions finish, so the caller caches them at once.

Why the interface: the run folder, the request cache, resume and data parallelism (`run.py`) and the judge work the
same for every backend; a new one is one class.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, NamedTuple

from medsyn_hf.errors import MedsynError


class Completion(NamedTuple):
    text: str
    prompt_tokens: int
    completion_tokens: int  # generated tokens, the end-of-sequence token included
    finish_reason: str  # "stop" (end of sequence) or "length" (max_new_tokens reached)


def row_key(seed: int, prior_seed: int) -> int:
    """The 31-bit sampling key of one row: a function of the run seed and the prior's own seed only."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{prior_seed}".encode(), digest_size=4).digest(), "little") >> 1


class RequestsFailed(MedsynError):
    """Some requests still failed after their retries; the others finished (and were passed to ``on_batch``)."""

    def __init__(self, failed: dict[int, str], total: int):
        self.failed = failed  # position in messages_list -> one-line reason
        first = failed[min(failed)]
        super().__init__(f"{len(failed)} of {total} requests failed after their retries (first: {first})")


OnBatch = Callable[[dict[int, Completion]], None]


class Backend:
    """Base class of the generation backends: stores the arguments and builds its ``Config`` from them."""

    name: ClassVar[str]

    @dataclass
    class Config:
        """No settings of its own."""

    run_id_fields: ClassVar[tuple[str, ...] | None] = None  # None: every Config field

    def __init__(self, gen_args, model_args, device="cpu", model_and_tokenizer=None):
        self.gen_args, self.model_args, self.device = gen_args, model_args, device
        self.config = self.make_config(gen_args)

    @classmethod
    def make_config(cls, gen_args):
        """Its ``Config`` from the generation arguments: a field of the same name, else ``backend_args``."""
        names = [f.name for f in fields(cls.Config)]
        given = dict(getattr(gen_args, "backend_args", None) or {})
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise MedsynError(
                f"backend_args: {', '.join(unknown)} not a setting of backend {cls.name!r}; allowed: "
                f"{', '.join(names) or 'none'}"
            )
        values = {n: getattr(gen_args, n) for n in names if hasattr(gen_args, n)}
        return cls.Config(**{**values, **given})

    @classmethod
    def check(cls, gen_args, model_args) -> None:
        """Every setting valid before anything is written (the default: its Config builds)."""
        cls.make_config(gen_args)

    @classmethod
    def identity(cls, gen_args, model_args) -> tuple[dict, dict]:
        """(sampling fields, model fields) this backend adds to the run id."""
        config = cls.make_config(gen_args)
        names = cls.run_id_fields if cls.run_id_fields is not None else [f.name for f in fields(cls.Config)]
        return {n: getattr(config, n) for n in names}, cls.model_identity(gen_args, model_args)

    @classmethod
    def model_identity(cls, gen_args, model_args) -> dict:
        return {}

    @classmethod
    def prompts_per_call(cls, gen_args, device) -> int | None:
        """At least how many prompts the run passes to one ``generate`` call (whole shards, so the backend can batch
        across them); None: one shard's missing prompts at a time. A backend that returns a number is passed every
        prompt of the call and ``needed=`` the positions without a cached reply; it completes at least those (None
        for a position it skipped), so its batches can stay the same however the run was interrupted."""
        return None

    def generate(self, messages_list: list, keys: list[int], on_batch: OnBatch | None = None) -> list[Completion]:
        raise NotImplementedError
