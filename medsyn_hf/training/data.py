"""Load the instruction dataset: one config, or a weighted mixture of configs (open-r1's `get_dataset`)."""

from __future__ import annotations

import logging
from pathlib import Path

from datasets import Dataset, DatasetDict, concatenate_datasets, load_dataset

from medsyn_hf.errors import MedsynError
from medsyn_hf.training.configs import ScriptArguments

logger = logging.getLogger(__name__)


def _load(path: str, config: str | None, split: str | None):
    """`load_dataset` with a one-line error for a missing folder, Hub id, config or split."""
    try:
        return load_dataset(path, config, split=split)
    except Exception as err:  # datasets raises many types (FileNotFoundError, ValueError, DatasetNotFoundError, ...)
        if not Path(path).exists():
            raise MedsynError(
                f"dataset {path!r} is neither a local folder nor a reachable Hub dataset "
                f"(build it with `medsyn ift build --out {path}`)"
            ) from err
        first_line = (str(err).strip() or type(err).__name__).splitlines()[0]
        raise MedsynError(f"cannot load dataset {path!r} (config {config!r}, split {split!r}): {first_line}") from err


def _weighted(ds: Dataset, weight: float, seed: int) -> Dataset:
    """The first `weight * len` rows of a shuffle; a weight above 1 repeats rows (upsampling a small task)."""
    n = len(ds)
    return ds.shuffle(seed=seed).select([i % n for i in range(round(n * weight))])


def get_dataset(args: ScriptArguments) -> tuple[DatasetDict, dict]:
    """The splits, and the rows each (dataset, config, weight) contributed (for the model card)."""
    if args.dataset_mixture is None:
        data = _load(args.dataset_name, args.dataset_config, None)
        data = data if isinstance(data, DatasetDict) else DatasetDict({"train": data})
        train = data.get(args.dataset_train_split)
        return data, {(args.dataset_name, args.dataset_config, None): len(train) if train is not None else 0}

    mixture = args.dataset_mixture
    parts, sources = [], {}
    for d in mixture.datasets:
        ds = _load(d.id, d.config, d.split)
        if d.columns is not None:
            ds = ds.select_columns(d.columns)
        if d.weight is not None:
            ds = _weighted(ds, d.weight, mixture.seed)
        logger.info("mixture: %s (config %s, weight %s) -> %d rows", d.id, d.config, d.weight, len(ds))
        parts.append(ds)
        sources[(d.id, d.config, d.weight)] = len(ds)
    try:
        combined = concatenate_datasets(parts).shuffle(seed=mixture.seed)
    except ValueError as err:
        raise MedsynError(f"dataset_mixture configs have different columns; pick common ones with `columns`: {err}") from err
    if mixture.test_split_size is None:
        return DatasetDict({"train": combined}), sources
    return combined.train_test_split(test_size=mixture.test_split_size, seed=mixture.seed), sources
