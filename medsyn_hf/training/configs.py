"""The SFT recipe's arguments: TRL's dataclasses, so that one YAML config runs under `trl sft` and `medsyn sft`.

The dataset is TRL's: `dataset_name` (+ `dataset_config`), or a mixture in `trl.DatasetMixtureConfig`'s keys
(`datasets`, `streaming`, `test_split_size`), which `ScriptArguments` inherits rather than copies. TRL refuses any
key it does not know (inside a `datasets` entry it is a TypeError, at the top level `trl sft` hands it to
`accelerate launch`, which rejects it), so there is no room for an extension of the mixture: shares are TRL's
`fraction`, and subsampling or repeating a source is `datasets`' split syntax (`split: train[:5%]`,
`split: train+train`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

import trl
from trl.scripts.utils import DatasetConfig

from medsyn_hf.errors import MedsynError
from medsyn_hf.tiny_model import resolve_model
from medsyn_hf.validate import check_model_args, check_model_path, check_range

MAX_SEED = 2**32 - 1  # numpy's seed range (set_seed seeds numpy)
MIXTURE_MOVED = (
    "dataset_mixture: replaced by TRL's mixture keys: top-level `datasets: [{path, name, split, columns, "
    "fraction}]` and `test_split_size` (weights: `fraction`, or a split such as train[:5%] / "
    'train+train); see README, "Fine-tuning (SFT)"'
)


def _entry(values: Any, where: str) -> DatasetConfig:
    """One `datasets` entry, refusing unknown keys in one line (TRL's dataclass raises a TypeError)."""
    if isinstance(values, DatasetConfig):
        return values
    if not isinstance(values, dict):
        raise MedsynError(f"{where} must be a mapping, got {values!r}")
    known = {f.name for f in fields(DatasetConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MedsynError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(known)}")
    if not str(values.get("path") or "").strip():
        raise MedsynError(f"{where}: no `path`; give a dataset folder or Hub id")
    return DatasetConfig(**values)


@dataclass
class ScriptArguments(trl.ScriptArguments, trl.DatasetMixtureConfig):
    """TRL's script arguments and its dataset mixture, checked.

    datasets:                                       # TRL's DatasetMixtureConfig; `dataset_name` is then unused
      - {path: outputs/ift, name: note_writing}
      - {path: outputs/ift, name: complaint_to_icd, split: "train[:50%]"}
    test_split_size: 0.01                           # split off with the training seed
    """

    dataset_mixture: dict | str | None = field(
        default=None,
        metadata={"help": "Removed. " + MIXTURE_MOVED.replace("%", "%%")},  # argparse formats help with %
    )

    def __post_init__(self):
        if self.dataset_mixture is not None:
            raise MedsynError(MIXTURE_MOVED)
        if self.dataset_name is not None and not self.dataset_name.strip():
            raise MedsynError(
                "dataset_name: '' is empty; give a dataset folder or Hub id (or unset it and list `datasets`)"
            )
        if self.dataset_name is None and not self.datasets:
            raise MedsynError("no dataset: set `dataset_name` (a local folder or Hub id) or `datasets`")
        self.datasets = [_entry(d, f"datasets[{i}]") for i, d in enumerate(self.datasets or [])]
        fractions = [d.fraction for d in self.datasets]
        if any(f is not None for f in fractions) and None in fractions:
            raise MedsynError("datasets: `fraction` must be set for every entry or for none")
        for d in self.datasets:
            check_range(f"fraction of {d.path}:{d.name}", d.fraction, 0, low_open=True)
        check_range("test_split_size", self.test_split_size, 0, low_open=True)
        if self.streaming and self.test_split_size is not None:
            raise MedsynError("test_split_size: a streamed mixture cannot be split; set streaming: false or drop it")
        super().__post_init__()


@dataclass
class SFTConfig(trl.SFTConfig):
    save_merged_model: bool = field(
        default=False,
        metadata={"help": "With LoRA, also save the base model with the adapter merged in, to `output_dir/merged`."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train into an existing non-empty `output_dir` that `medsyn sft` did not write (its files "
            "may be replaced). Without it such a folder is refused."
        },
    )

    def __post_init__(self):
        """Ranges first: a zero batch or `max_steps: -5` would otherwise fail deep in the Trainer, or train nothing."""
        if not str(self.output_dir or "").strip():
            raise MedsynError("output_dir: empty; name the folder the model is saved to")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            check_range(name, getattr(self, name), 1)
        if self.max_steps != -1:
            check_range("max_steps", self.max_steps, 1, allowed="-1 (train num_train_epochs) or an integer >= 1")
        else:
            check_range("num_train_epochs", self.num_train_epochs, 0, low_open=True)
        check_range("max_length", self.max_length, 1)
        check_range("learning_rate", self.learning_rate, 0)
        check_range("warmup_steps", self.warmup_steps, 0)
        check_range("logging_steps", self.logging_steps, 0, low_open=True)
        check_range("save_steps", self.save_steps, 0, low_open=True)
        check_range("save_total_limit", self.save_total_limit, 1)
        check_range("dataloader_num_workers", self.dataloader_num_workers, 0)
        check_range("seed", self.seed, 0, MAX_SEED)
        if self.activation_checkpointing is None:  # TRL's default sits on the deprecated name: resolve it quietly
            self.activation_checkpointing = self.gradient_checkpointing
        super().__post_init__()


@dataclass
class ModelConfig(trl.ModelConfig):
    """TRL's model arguments, with the model required and LoRA's shape in range. `medsyn-tiny` names the packaged
    writer; a local model becomes an absolute path, which an adapter records as its `base_model_name_or_path` (a
    relative one would only resolve from the folder training ran in)."""

    def __post_init__(self):
        self.model_name_or_path = resolve_model(self.model_name_or_path)
        check_model_args(self)
        check_model_path("model_name_or_path", self.model_name_or_path)  # SFT loads it here, whatever the config
        if os.path.exists(self.model_name_or_path):
            self.model_name_or_path = os.path.abspath(self.model_name_or_path)
        super().__post_init__()
