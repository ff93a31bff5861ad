"""The ordered registry of filters and the config it makes: ``REGISTRY`` (the built-in filters, then any a user
``register``s), ``FilterConfig`` (one field per threshold of a registered filter, the YAML ``filters:`` keys) and the
column and reason tables the notes schema and the dataset card read.

The built-in filters' thresholds are written out as FilterConfig's fields (tests/test_filters.py checks them against
the filters' declarations), so editors and type checkers find ``config.max_copy_ratio``. ``register`` and
``unregister`` change the registry at run time: a registered filter's thresholds become FilterConfig fields and its
columns part of the notes schema (``medsyn_hf.schemas.use_filters``); FilterConfig is changed in place, so every
module's reference to it sees the new fields, and it is the written-out class again once only the built-in filters
are registered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters.base import NoteFilter, NoteTransform, SetFilter, Threshold, _Filter
from medsyn_hf.filters.builtin import BUILTIN
from medsyn_hf.filters.builtin.copying import Copying
from medsyn_hf.filters.builtin.duplicates import NearDuplicates
from medsyn_hf.filters.builtin.judge_score import JudgeScore
from medsyn_hf.filters.builtin.label_consistency import LabelConsistency
from medsyn_hf.filters.builtin.language import Language
from medsyn_hf.filters.builtin.length import Length
from medsyn_hf.filters.builtin.patient_consistency import PatientConsistency
from medsyn_hf.filters.builtin.pii_scrub import PiiScrub
from medsyn_hf.filters.builtin.plan_quota import PlanQuota
from medsyn_hf.filters.builtin.real_copy import RealCopy
from medsyn_hf.filters.builtin.realism import Realism
from medsyn_hf.filters.builtin.symptom_recall import SymptomRecall
from medsyn_hf.schemas import FILTER_COLUMNS_DOC, FILTER_FEATURES, use_filters
from medsyn_hf.validate import check_fields, check_range

# The registry, in order: the order of the added columns, of the reasons in `filter_reason`, of FilterConfig's fields.
REGISTRY: dict[str, _Filter] = {f.name: f() for f in BUILTIN}


@dataclass
class FilterConfig:
    """Thresholds of ``apply_filters``: one field per threshold of a registered filter, in registry order (the default
    and help are the filter's ``Threshold``), the YAML ``filters:`` keys. Fields carry ``help`` so
    TrlParser/HfArgumentParser can expose them as flags."""

    min_symptom_recall: float = SymptomRecall.thresholds["min_symptom_recall"].field()
    symptom_match_share: float = SymptomRecall.thresholds["symptom_match_share"].field()
    max_copy_ratio: float = Copying.thresholds["max_copy_ratio"].field()
    copy_ngram: int = Copying.thresholds["copy_ngram"].field()
    min_words: int = Length.thresholds["min_words"].field()
    max_words: int = Length.thresholds["max_words"].field()
    min_cyrillic_share: float = Language.thresholds["min_cyrillic_share"].field()
    scrub_pii: bool = PiiScrub.thresholds["scrub_pii"].field()
    max_age_gap: int | None = PatientConsistency.thresholds["max_age_gap"].field()
    check_sex: bool = PatientConsistency.thresholds["check_sex"].field()
    real_run_limit: int | None = RealCopy.thresholds["real_run_limit"].field()
    label_top_k: int | None = LabelConsistency.thresholds["label_top_k"].field()
    selection_view: str = LabelConsistency.thresholds["selection_view"].field()
    min_realism: float | None = Realism.thresholds["min_realism"].field()
    realism_folds: int = Realism.thresholds["realism_folds"].field()
    dedup_threshold: float = NearDuplicates.thresholds["dedup_threshold"].field()
    min_judge_score: float | None = JudgeScore.thresholds["min_judge_score"].field()
    keep_best: bool = PlanQuota.thresholds["keep_best"].field()

    def __post_init__(self):
        """Thresholds arrive from YAML (`filters: {...}`): typed and in their filter's range, one line otherwise."""
        check_fields(self, "filters.")
        for name, spec in thresholds().items():
            check_range(f"filters.{name}", getattr(self, name), spec.low, spec.high)
            if spec.choices and getattr(self, name) not in spec.choices:
                raise MedsynError(
                    f"filters.{name}: {getattr(self, name)!r} is not one of {', '.join(map(str, spec.choices))}"
                )


# What the written-out class is made of, to restore it when the registry is back to the built-in filters.
_CONFIG_ATTRS = ("__init__", "__repr__", "__eq__", "__match_args__", "__dataclass_fields__", "__annotations__")
_WRITTEN_OUT = {attr: FilterConfig.__dict__[attr] for attr in _CONFIG_ATTRS}


def thresholds() -> dict[str, Threshold]:
    """FilterConfig field -> its Threshold, over the registered filters in order."""
    return {name: spec for f in REGISTRY.values() for name, spec in f.thresholds.items()}


def filter_columns() -> dict[str, tuple[Any, str]]:
    """Column -> (feature, meaning) of every registered filter, in registry order."""
    return {column: spec for f in REGISTRY.values() for column, spec in f.columns.items()}


def filter_reasons() -> dict[str, str]:
    """``filter_reason`` value -> when a note gets it, in registry order."""
    return {reason: doc for f in REGISTRY.values() for reason, doc in f.reasons.items()}


def verdict_columns() -> dict[str, tuple[Any, str]]:
    """The columns ``apply_filters`` adds after every filter's: its verdict (``filter_reason`` lists the reasons)."""
    return {c: (FILTER_FEATURES[c], FILTER_COLUMNS_DOC[c]) for c in ("keep", "filter_reason")}


def _sync() -> None:
    """FilterConfig's fields and the notes schema after the registry changed: the registered filters' thresholds and
    columns, in registry order."""
    specs = thresholds()
    for f in dataclasses.fields(FilterConfig):
        delattr(FilterConfig, f.name)
    if list(specs) == list(_WRITTEN_OUT["__dataclass_fields__"]):
        made = _WRITTEN_OUT
    else:  # a dataclass made with those fields hands over its generated methods and field table
        namespace = {"__post_init__": FilterConfig.__post_init__}
        fields = [(name, spec.kind or type(spec.default), spec.field()) for name, spec in specs.items()]
        rebuilt = dataclasses.make_dataclass("FilterConfig", fields, namespace=namespace)
        made = {attr: getattr(rebuilt, attr) for attr in _CONFIG_ATTRS}
    for attr, value in made.items():
        setattr(FilterConfig, attr, value)
    for name, spec in specs.items():
        setattr(FilterConfig, name, spec.default)
    use_filters(filter_columns(), list(filter_reasons()))


def register(cls: type[_Filter]) -> type[_Filter]:
    """Add a filter class to the end of the registry (usable as a decorator); its thresholds join ``FilterConfig``,
    its columns the notes schema.

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
        "threshold": set(thresholds()),
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
    _sync()
    return cls


def unregister(name: str) -> None:
    """Remove a registered filter (its columns, reasons and thresholds go with it)."""
    if name not in REGISTRY:
        raise MedsynError(f"unregister: no filter {name!r}; registered: {', '.join(REGISTRY)}")
    del REGISTRY[name]
    _sync()
