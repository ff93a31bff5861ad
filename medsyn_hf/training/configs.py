"""The SFT recipe's arguments: TRL's dataclasses, extended the way open-r1 does (a weighted dataset mixture)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import trl

from medsyn_hf.errors import MedsynError


@dataclass
class DatasetConfig:
    """One dataset config in the mixture; `id` defaults to `dataset_name`, so one folder can feed every entry."""

    id: str | None = None
    config: str | None = None
    split: str = "train"
    columns: list[str] | None = None
    weight: float | None = None


@dataclass
class DatasetMixtureConfig:
    datasets: list[DatasetConfig]
    seed: int = 0
    test_split_size: float | None = None


def _build(cls, values: Any, where: str):
    """Dataclass from a YAML mapping, refusing unknown keys (a typo must not be silently ignored)."""
    if not isinstance(values, dict):
        raise MedsynError(f"{where} must be a mapping, got {values!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MedsynError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(known)}")
    return cls(**values)


@dataclass
class ScriptArguments(trl.ScriptArguments):
    """
    Args:
        dataset_mixture (`dict`, *optional*): configs of the instruction dataset to mix, with weights. A weight is
            the share of that config's rows used (after shuffling with `seed`); above 1 the rows are repeated.

            dataset_mixture:
              datasets:
                - {config: note_writing, weight: 1.0}            # id defaults to dataset_name
                - {id: other/dataset, config: all, weight: 0.5, columns: [prompt, completion]}
              seed: 0
              test_split_size: 0.02
    """

    dataset_mixture: dict[str, Any] | None = field(
        default=None,
        metadata={"help": "Configs of the dataset to mix, with weights (see the class docstring). YAML only."},
    )

    def __post_init__(self):
        if self.dataset_name is None and self.dataset_mixture is None:
            raise MedsynError("no dataset: set `dataset_name` (a local folder or Hub id) or `dataset_mixture`")
        if self.dataset_mixture is None:
            return
        mixture = _build(DatasetMixtureConfig, self.dataset_mixture, "dataset_mixture")
        if not mixture.datasets:
            raise MedsynError("dataset_mixture.datasets is empty")
        mixture.datasets = [_build(DatasetConfig, d, "dataset_mixture.datasets[]") for d in mixture.datasets]
        for d in mixture.datasets:
            d.id = d.id or self.dataset_name
            if d.id is None:
                raise MedsynError(f"dataset_mixture entry {d.config!r} has no `id` and `dataset_name` is not set")
            if d.weight is not None and d.weight <= 0:
                raise MedsynError(f"dataset_mixture weight must be > 0, got {d.weight} for {d.id}:{d.config}")
        self.dataset_mixture = mixture


@dataclass
class SFTConfig(trl.SFTConfig):
    save_merged_model: bool = field(
        default=False,
        metadata={"help": "With LoRA, also save the base model with the adapter merged in, to `output_dir/merged`."},
    )
