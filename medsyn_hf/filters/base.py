"""The filter interface and its ordered registry: what a filter is, and the one list everything else reads.

A filter is one small class (datatrove's ``BaseFilter`` is the model): its ``name``, the ``columns`` it adds (each with
its ``datasets`` feature and a one-line meaning), its ``thresholds`` (``FilterConfig`` fields, YAML ``filters:`` keys),
a batched ``score`` and a per-note ``reject`` that names the ``reasons`` a note fails. ``apply_filters`` runs the
registered filters in order; the notes schema (``medsyn_hf.schemas.FILTER_FEATURES``), ``FilterConfig`` and the dataset
card's filter table are all read from ``REGISTRY``, so a new filter is one class plus ``register``.

Three kinds, one per stage of ``apply_filters``:

- ``NoteTransform`` rewrites the note text before anything is measured (PII scrubbing);
- ``NoteFilter`` scores each note on its own;
- ``SetFilter`` scores the notes that passed every ``NoteFilter`` as a whole (near-duplicate removal), so a failing
  note never knocks out its good near-twin.

Selection filters compare the notes with the user's real notes (``Reference``: the generate config's
``real_dataset``, and a plan's need per code): realism, label consistency, shared runs with a real note, and the
per-code quota. Without a reference they give null scores and reject nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from datasets import Value

from medsyn_hf.errors import MedsynError
from medsyn_hf.validate import check_fields, check_range


@dataclass(frozen=True)
class Threshold:
    """One threshold of a filter: a ``FilterConfig`` field (a YAML ``filters:`` key) with its default and ``help``.

    ``low``/``high`` bound the value (checked, naming the field, whenever a ``FilterConfig`` is made, e.g. from YAML);
    ``kind``, the field's type, defaults to the default's (give it for a None default: ``kind=float | None``);
    ``choices`` lists the values a text field may take."""

    default: Any
    help: str
    low: Any = None
    high: Any = None
    kind: Any = None
    choices: tuple | None = None

    def __post_init__(self):
        if self.kind is None and self.default is None:
            raise MedsynError("Threshold: a None default needs its kind (e.g. kind=float | None)")


@dataclass(frozen=True)
class Reference:
    """The user's real notes, which the selection filters compare generated notes with: their texts and codes (at
    ``level``: 'category' compares 3-character categories, 'code' the codes as given), and, from a plan, how many
    notes each code still needs (``need``: fill-to K minus its real notes; None: no per-code quota). ``source`` names
    where the notes came from (cards, messages)."""

    texts: list[str]
    codes: list[str]
    level: str = "code"
    need: Mapping[str, int] | None = None
    source: str = ""

    def unit(self, code: str | None) -> str | None:
        """A note's code as the reference counts it (its category at level 'category')."""
        return None if code is None else code[:3] if self.level == "category" else code


@dataclass(frozen=True)
class Notes:
    """One batch of notes as a filter sees it: the texts (already scrubbed for ``NoteFilter``/``SetFilter``), each
    note's prompted symptoms and example note (None without one), every column of the batch by name (e.g.
    ``judge_score``; a ``SetFilter`` also sees the columns of the set filters before it), and for ``SetFilter``s each
    note's ICD-10 code (``codes``, None without a code column) and the real notes to compare with (``reference``,
    None without)."""

    texts: list[str]
    symptoms: list[list[str]]
    examples: list[str | None]
    columns: Mapping[str, list]
    reference: Reference | None = None
    codes: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.texts)


class _Filter:
    """What every kind declares. Subclasses set the class attributes; the first docstring line describes the filter
    in the dataset card."""

    name: ClassVar[str]
    columns: ClassVar[dict[str, tuple[Any, str]]] = {}  # column -> (datasets feature, what it means)
    reasons: ClassVar[dict[str, str]] = {}  # `filter_reason` value -> when a note gets it
    reads: ClassVar[tuple[str, ...]] = ()  # columns it needs besides text, symptoms and example (absent: not applied)
    thresholds: ClassVar[dict[str, Threshold]] = {}  # FilterConfig field -> its Threshold

    @classmethod
    def description(cls) -> str:
        return (cls.__doc__ or cls.name).strip().splitlines()[0]

    def check(self, column_names: list[str], config) -> None:
        """Called once per ``apply_filters`` with the dataset's columns: raise MedsynError or warn about inputs."""


class NoteTransform(_Filter):
    """Rewrites each note's text before the filters measure it; adds its ``columns``, never rejects."""

    def transform(self, notes: Notes, config) -> tuple[list[str], dict[str, list]]:
        """(the new texts, one list per column of ``columns``)."""
        raise NotImplementedError


class NoteFilter(_Filter):
    """Scores each note on its own (batched) and rejects it by its scores."""

    def score(self, notes: Notes, config) -> dict[str, list]:
        """One list per column of ``columns`` (one value per note)."""
        raise NotImplementedError

    def reject(self, note: Mapping, config) -> list[str]:
        """The ``reasons`` this note fails (empty: it passes). ``note`` holds the batch's columns and this filter's
        scores for one note."""
        raise NotImplementedError


class SetFilter(_Filter):
    """Scores the notes that passed every ``NoteFilter`` together (``passing``); the others are only given values."""

    def score(self, notes: Notes, passing: list[bool], config) -> dict[str, list]:
        """One list per column of ``columns``, a value for every note (``passing`` or not)."""
        raise NotImplementedError

    def reject(self, note: Mapping, config) -> list[str]:
        """The ``reasons`` a passing note fails, from its scores (``note``: this filter's columns for one note)."""
        raise NotImplementedError


# The registry, in order: the order of the added columns, of the reasons in `filter_reason`, of FilterConfig's fields.
REGISTRY: dict[str, _Filter] = {}


@dataclass
class FilterConfig:
    """Thresholds of ``apply_filters``: one field per registered filter threshold (``register`` adds them), the YAML
    ``filters:`` keys. Fields carry ``help`` so TrlParser/HfArgumentParser can expose them as flags."""

    def __post_init__(self):
        """Thresholds arrive from YAML (`filters: {...}`): typed and in their filter's range, one line otherwise."""
        check_fields(self, "filters.")
        for f in REGISTRY.values():
            for name, spec in f.thresholds.items():
                check_range(f"filters.{name}", getattr(self, name), spec.low, spec.high)
                if spec.choices and getattr(self, name) not in spec.choices:
                    raise MedsynError(
                        f"filters.{name}: {getattr(self, name)!r} is not one of {', '.join(map(str, spec.choices))}"
                    )


def _rebuild_config() -> None:
    """Make FilterConfig's fields the registered filters' thresholds, in registry order. FilterConfig is changed in
    place (a dataclass rebuilt with those fields hands over its generated methods and field table), so every module's
    reference to it sees the new fields."""
    specs = [
        (name, spec.kind or type(spec.default), field(default=spec.default, metadata={"help": spec.help}))
        for filt in REGISTRY.values()
        for name, spec in filt.thresholds.items()
    ]
    namespace = {"__post_init__": FilterConfig.__post_init__}
    rebuilt = dataclasses.make_dataclass("FilterConfig", specs, namespace=namespace)
    for f in dataclasses.fields(FilterConfig):
        delattr(FilterConfig, f.name)
    for attr in ("__init__", "__repr__", "__eq__", "__match_args__", "__dataclass_fields__", "__annotations__"):
        setattr(FilterConfig, attr, getattr(rebuilt, attr))
    for name, _, f in specs:
        setattr(FilterConfig, name, f.default)


def register(cls: type[_Filter]) -> type[_Filter]:
    """Add a filter class to the end of the registry (usable as a decorator); its thresholds join ``FilterConfig``.

    Names, columns, reasons and thresholds must be new: one filter cannot silently replace another's."""
    if not (isinstance(cls, type) and issubclass(cls, (NoteTransform, NoteFilter, SetFilter))):
        raise MedsynError(f"register: {cls!r} is not a NoteFilter, SetFilter or NoteTransform subclass")
    if not getattr(cls, "name", ""):
        raise MedsynError(f"register: {cls.__name__} has no `name`")
    odd = [
        *(c for c, spec in cls.columns.items() if not (isinstance(spec, tuple) and len(spec) == 2)),
        *(t for t, spec in cls.thresholds.items() if not isinstance(spec, Threshold)),
    ]
    if odd:
        raise MedsynError(
            f"register: {cls.__name__}'s {', '.join(odd)}: a column is (feature, meaning), a threshold "
            "a Threshold(default, help)"
        )
    taken = {
        "name": set(REGISTRY),
        "column": set(filter_columns()) | set(verdict_columns()),
        "reason": set(filter_reasons()),
        "threshold": {f.name for f in dataclasses.fields(FilterConfig)},
    }
    for kind, names in (
        ("name", [cls.name]),
        ("column", cls.columns),
        ("reason", cls.reasons),
        ("threshold", cls.thresholds),
    ):
        clash = sorted(set(names) & taken[kind])
        if clash:
            raise MedsynError(f"register: {cls.__name__}'s {kind} {', '.join(clash)} is already registered")
    REGISTRY[cls.name] = cls()
    _rebuild_config()
    return cls


def unregister(name: str) -> None:
    """Remove a registered filter (its columns, reasons and thresholds go with it)."""
    if name not in REGISTRY:
        raise MedsynError(f"unregister: no filter {name!r}; registered: {', '.join(REGISTRY)}")
    del REGISTRY[name]
    _rebuild_config()


def filter_columns() -> dict[str, tuple[Any, str]]:
    """Column -> (feature, meaning) of every registered filter, in registry order."""
    return {column: spec for f in REGISTRY.values() for column, spec in f.columns.items()}


def filter_reasons() -> dict[str, str]:
    """``filter_reason`` value -> when a note gets it, in registry order."""
    return {reason: doc for f in REGISTRY.values() for reason, doc in f.reasons.items()}


def verdict_columns() -> dict[str, tuple[Any, str]]:
    """The columns ``apply_filters`` adds after every filter's: its verdict (``filter_reason`` lists the reasons)."""
    return {
        "keep": (Value("bool"), "passes every filter"),
        "filter_reason": (
            Value("string"),
            "comma-separated reasons the note was dropped for, in filter order ("
            f"{', '.join(filter_reasons())}); empty when kept",
        ),
    }
