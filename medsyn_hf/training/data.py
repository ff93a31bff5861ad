"""Load the instruction dataset the way `trl sft` does: `dataset_name` (+ `dataset_config`), or TRL's dataset mixture
read by TRL's own `get_dataset`, so one config trains on the same rows under `trl sft` and `medsyn sft`.

Two differences, both about failing and repeating: a source that cannot be loaded is one `MedsynError` line, and the
mixture's test split is drawn with the training seed (TRL's is unseeded, so a resumed run would train on other rows).
"""

from __future__ import annotations

import contextlib
import logging
import os

import trl
from datasets import DatasetDict

from medsyn_hf.data import read_dataset
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.training.configs import ScriptArguments

logger = logging.getLogger(__name__)


def _mixture(args: ScriptArguments):
    """TRL's concatenated mixture (shares by `fraction`, `columns` picked), not yet split."""
    try:
        return trl.get_dataset(trl.DatasetMixtureConfig(datasets=args.datasets, streaming=args.streaming))["train"]
    except Exception as err:  # datasets raises many types; name the source that fails, as the one loader does
        for i, d in enumerate(args.datasets):
            if d.data_files is None and d.data_dir is None:
                with _naming(f"datasets[{i}].path", d.path):
                    read_dataset(d.path, d.name)
        raise MedsynError(f"cannot load the `datasets` mixture: {first_line(err)}") from err


@contextlib.contextmanager
def _naming(key: str, source: str):
    """A dataset that cannot be read names the recipe key that points at it; a missing folder, how to make it."""
    try:
        yield
    except MedsynError as err:
        build = f"build it (`medsyn ift build --out {source}`) or " if not os.path.exists(source) else ""
        flag = " (`--dataset_name DIR` on the command line)" if key == "dataset_name" else ""
        raise MedsynError(f"{key}: {err}; {build}set `{key}` to the dataset{flag}") from None


def get_dataset(args: ScriptArguments, seed: int = 0) -> tuple[DatasetDict, list[tuple]]:
    """The splits, and the sources as (dataset, config, split, fraction) for the model card; `seed` draws the
    mixture's test split."""
    if not args.datasets:
        with _naming("dataset_name", args.dataset_name):
            data = read_dataset(args.dataset_name, args.dataset_config)
        data = data if isinstance(data, DatasetDict) else DatasetDict({"train": data})
        return data, [(args.dataset_name, args.dataset_config, args.dataset_train_split, None)]

    sources = [(d.path, d.name, d.split, d.fraction) for d in args.datasets]
    combined = _mixture(args)
    logger.info("mixture of %d sources -> %s rows", len(sources), getattr(combined, "num_rows", "streamed"))
    if args.test_split_size is None:
        return DatasetDict({"train": combined}), sources
    return combined.train_test_split(test_size=args.test_split_size, seed=seed), sources
