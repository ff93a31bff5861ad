"""The SFT recipe's arguments: TRL's dataclasses, extended the way open-r1 does (a weighted dataset mixture)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import trl

from medsyn_hf.errors import MedsynError
from medsyn_hf.validate import check_range

MAX_SEED = 2**32 - 1  # numpy's seed range (set_seed seeds numpy)


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
        if self.dataset_name is not None and not self.dataset_name.strip():
            raise MedsynError("dataset_name: '' is empty; give a dataset folder or Hub id (or unset it and use "
                              "dataset_mixture with ids)")
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
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Train into an existing non-empty `output_dir` that `medsyn sft` did not write (its files "
                          "may be replaced). Without it such a folder is refused."},
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
    """TRL's model arguments, with the model required and LoRA's shape in range."""

    def __post_init__(self):
        check_model_args(self)
        check_model_path("model_name_or_path", self.model_name_or_path)  # SFT loads it here, whatever the config
        super().__post_init__()


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
    dtypes = next(f.metadata.get("choices") for f in fields(args) if f.name == "dtype")
    if args.dtype is not None and dtypes and args.dtype not in dtypes:
        raise MedsynError(f"dtype: {args.dtype!r} is not one of {', '.join(dtypes)}")
    check_range("lora_r", args.lora_r, 1)
    check_range("lora_alpha", args.lora_alpha, 1)
    check_range("lora_dropout", args.lora_dropout, 0, 1)
