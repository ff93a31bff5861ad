"""Checks of user-given values at the edges (YAML configs, command-line flags), so a wrong type or an out-of-range
number is one line naming the field, the value and what is allowed, before any work is done.

YAML values reach TRL's parser as argparse *defaults*, which argparse never converts nor checks against
``choices``: ``seed: 1.5`` or ``dtype: int4`` would otherwise travel deep into training or generation.
:func:`coerce_config` applies the dataclass field types to them the way argparse applies them to flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import math
import re
import types
import typing
from typing import Any

from medsyn_hf.errors import MedsynError

_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}
# The shape of a Hub repo id, `name` or `owner/name` (huggingface_hub's characters; `repo_id_arg` checks the rest):
# what tells a Hub id from a local path that does not exist. Use it with fullmatch.
HUB_ID = re.compile(r"(?:[\w.-]+/)?[\w.-]+")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(tp: Any) -> str:
    """What a type annotation allows, in words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if tp is type(None):
        return "null"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    if tp is list or origin is list:
        return f"a list of {describe(args[0])}s" if args else "a list"
    if tp is dict or origin is dict:
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    pass


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (strings converted as argparse would), or :class:`_Mismatch`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _Mismatch
        alternatives = [a for a in args if a is not type(None)]
        for exact in (True, False):  # a value that already has one of the types keeps it: "8" stays a str in int|str
            for alternative in alternatives:
                if exact and not _is_exactly(value, alternative):
                    continue
                try:
                    return _coerce(value, alternative)
                except _Mismatch:
                    pass
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _Mismatch
    if tp is int:
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is float:
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise _Mismatch from None
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value) if isinstance(value, float) else value
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin is typing.Literal:
        if value in args:
            return value
        raise _Mismatch
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str) and value in {str(m.value) for m in tp}:
            return value
        raise _Mismatch
    if tp is list or origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, str) and args and args[0] is str:  # `codes: K29`, `lora_target_modules: all-linear`
            value = [value]
        if not isinstance(value, list):
            raise _Mismatch
        return [_coerce(item, args[0]) for item in value] if args else value
    if tp is dict or origin is dict:
        if isinstance(value, dict):
            return value
        raise _Mismatch
    return value  # a type we do not know how to check (e.g. a config object): left to its own class


def _is_exactly(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        return isinstance(value, (origin, str))
    return isinstance(origin, type) and isinstance(value, origin)


def coerce(name: str, value: Any, tp: Any, choices=None) -> Any:
    """``value`` of the field ``name`` converted to ``tp``; a mismatch or a value outside ``choices`` is one
    :class:`MedsynError` line."""
    try:
        value = _coerce(value, tp)
    except _Mismatch:
        raise MedsynError(f"{name}: {_show(value)} is not {describe(tp)}") from None
    if choices and value is not None and value not in choices:
        raise MedsynError(f"{name}: {_show(value)} is not one of {', '.join(map(str, choices))}")
    return value


def field_types(classes) -> dict[str, tuple[Any, dataclasses.Field]]:
    """Field name -> (resolved type, field) over dataclasses (the first class naming a field wins, as in
    HfArgumentParser)."""
    types_: dict[str, tuple[Any, dataclasses.Field]] = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init and f.name not in types_:
                types_[f.name] = (hints.get(f.name, Any), f)
    return types_


def coerce_config(values: dict, classes, where: str = "") -> dict:
    """A YAML config mapping with every value converted to its field's type; unknown names are left alone."""
    known = field_types(classes)
    return {
        name: coerce(f"{where}{name}", value, *(known[name][0], known[name][1].metadata.get("choices")))
        if name in known
        else value
        for name, value in values.items()
    }


def check_fields(instance, where: str = "") -> None:
    """Convert and check every field of a dataclass instance in place (for configs built from YAML mappings)."""
    for name, (tp, f) in field_types([type(instance)]).items():
        setattr(instance, name, coerce(f"{where}{name}", getattr(instance, name), tp, f.metadata.get("choices")))


# -- ranges ---------------------------------------------------------------------------------------------------------
def check_range(name: str, value, low=None, high=None, *, low_open: bool = False, allowed: str | None = None) -> None:
    """``low <= value <= high`` (``low < value`` with ``low_open``); else one line naming the field."""
    if value is None:
        return
    bad = (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high)
    if bad:
        if allowed is None:
            parts = [f"> {low}" if low_open else f">= {low}"] if low is not None else []
            parts += [f"<= {high}"] if high is not None else []
            allowed = " and ".join(parts)
        raise MedsynError(f"{name}: {_show(value)} is out of range; allowed: {allowed}")


def _bounds(kind: str, low, high) -> str:
    parts = [*([f">= {low}"] if low is not None else []), *([f"<= {high}"] if high is not None else [])]
    return " ".join([kind, " and ".join(parts)]).strip()


def int_arg(low: int | None = None, high: int | None = None):
    """An argparse ``type`` for an integer flag within [low, high]; argparse names the flag in its one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: {_bounds('an integer', low, high)}")
        return value

    parse.__name__ = "integer"
    return parse


def float_arg(low: float | None = None, high: float | None = None):
    """An argparse ``type`` for a finite number flag within [low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: {_bounds('a number', low, high)}")
        return value

    parse.__name__ = "number"
    return parse


def repo_id_arg(text: str) -> str:
    """An argparse ``type`` for a Hub repo id (``name`` or ``owner/name``), checked as huggingface_hub does."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Hub repo id ({str(err).splitlines()[0]})") from None
    return text


repo_id_arg.__name__ = "repo id"


def is_hub_id(name: str) -> bool:
    """Is ``name`` a Hub repo id (HUB_ID's shape, and valid as huggingface_hub checks it) and not a local path?"""
    import os

    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not (isinstance(name, str) and HUB_ID.fullmatch(name)) or os.path.lexists(name):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


# -- models ---------------------------------------------------------------------------------------------------------
def check_model_path(field_name: str, name: str | None) -> None:
    """A model or adapter that is neither an existing folder nor shaped like a Hub id cannot be found anywhere."""
    import os

    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if name is None or os.path.exists(name):
        return
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise MedsynError(f"{field_name}: {name!r} not found (no such folder, and not a Hub id)") from None


def check_model_args(args) -> None:
    """The model named, a valid dtype (YAML skips argparse's choices), LoRA's shape in range."""
    if not str(args.model_name_or_path or "").strip():
        raise MedsynError("model_name_or_path: not set; give a model folder or a Hub id")
    dtypes = next(f.metadata.get("choices") for f in dataclasses.fields(args) if f.name == "dtype")
    if args.dtype is not None and dtypes and args.dtype not in dtypes:
        raise MedsynError(f"dtype: {args.dtype!r} is not one of {', '.join(dtypes)}")
    check_range("lora_r", args.lora_r, 1)
    check_range("lora_alpha", args.lora_alpha, 1)
    check_range("lora_dropout", args.lora_dropout, 0, 1)
