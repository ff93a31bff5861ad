"""The generation recipe's arguments: TRL's `ScriptArguments` and `ModelConfig`, extended, plus the sampling knobs.

Only what changes the notes goes into the run id (`run.run_config`): the throughput knobs (batch size, concurrency,
cache, compilation, decoding path, threads, number of processes) do not, so a crashed run can be resumed with a
smaller batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trl

from medsyn_hf.errors import MedsynError
from medsyn_hf.generation.backends.inference_client import InferenceClientConfig
from medsyn_hf.generation.backends.transformers import TransformersConfig
from medsyn_hf.priors.plan import PlanOptions, check_options
from medsyn_hf.priors.policy import config_arguments
from medsyn_hf.validate import check_model_args, check_range

# Fields of TRL's dataclasses that generation (and `medsyn eval judge`, which takes the same model arguments) never
# reads: TRL's debug flag, the test split and streaming of a training dataset, LoRA training and bitsandbytes loading.
# Hidden from --help and left out of a published recipe; still accepted, as in TRL's own scripts.
UNUSED_SCRIPT_FIELDS = ("dataset_test_split", "dataset_streaming", "ignore_bias_buffers")
UNUSED_MODEL_FIELDS = (
    "use_peft",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "lora_target_parameters",
    "lora_modules_to_save",
    "lora_task_type",
    "use_rslora",
    "use_dora",
    "load_in_8bit",
    "load_in_4bit",
    "bnb_4bit_quant_type",
    "use_bnb_nested_quant",
    "bnb_4bit_quant_storage",
)
MAX_NEW_TOKENS = 32_768  # also bounded by the model's context once it is known (`run.check_model`)
MAX_SEED = 2**32 - 1


@dataclass
class GenerateScriptArguments(trl.ScriptArguments, config_arguments(), PlanOptions):
    """The priors' options (`priors_mode`, `codes`, `example_p`, `priors_temperature`, ...) come from
    ``medsyn_hf.priors.policy`` (declared once, with `medsyn priors`' flags), the plan's (`real_dataset`, `fill_to`,
    `fill_over`, `real_text_column`, ...) from ``medsyn_hf.priors.plan`` (with `medsyn plan`'s flags).

    Args:
        dataset_name (`str`, *optional*): priors to generate from: a folder written by `medsyn priors` or
            `medsyn plan` (whose plan.json the run then carries), a `.parquet` file or a Hub dataset with
            PRIORS_FEATURES. Unset: priors are planned by deficit when `fill_to` is set (from `real_dataset`), else
            `num_priors` are sampled from the packaged MKG.
        real_dataset (`str`, *optional*): the user's real notes. With `fill_to`: what the plan counts. Always: what
            the selection filters (realism, label consistency, the privacy guard, the plan's per-code quota)
            compare the notes with; unset, a plan's own real notes are used, and without either those filters are
            off.
    """

    num_priors: int = field(default=300, metadata={"help": "Priors to sample when `dataset_name` is not set."})
    output_dir: str = field(
        default="runs/generate", metadata={"help": "Runs go to output_dir/<run id>; output_dir/latest links the last."}
    )
    shard_size: int = field(
        default=256, metadata={"help": "Priors per parquet shard: the unit of resume and of data parallelism."}
    )
    filters: dict[str, Any] | None = field(
        default=None, metadata={"help": "Filter thresholds (see medsyn_hf.filters); YAML only. Unset: its defaults."}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Write runs into an existing non-empty `output_dir` that `medsyn generate` "
            "did not write. Without it such a folder is refused."
        },
    )

    def __post_init__(self):
        from medsyn_hf.generation.notes import filter_config
        from medsyn_hf.priors import LEVELS, MAX_PRIORS, MODES  # num_priors: as `medsyn priors --n`
        from medsyn_hf.priors.sample import MAX_STYLE_EXAMPLES

        check_range("shard_size", self.shard_size, 1, 1_000_000)
        check_range("num_priors", self.num_priors, 1, MAX_PRIORS)
        check_range("example_p", self.example_p, 0, 1)
        check_range("priors_style_examples", self.priors_style_examples, 0, MAX_STYLE_EXAMPLES)
        if self.dataset_name is not None and not self.dataset_name.strip():
            raise MedsynError(
                "dataset_name: '' is empty; give a priors folder, .parquet file or Hub id, or unset it "
                "to sample num_priors priors"
            )
        if not str(self.output_dir or "").strip():
            raise MedsynError("output_dir: empty; name the folder the runs go to")
        if self.priors_mode not in MODES:
            raise MedsynError(f"priors_mode: {self.priors_mode!r} is not one of {', '.join(MODES)}")
        if self.priors_level not in LEVELS:
            raise MedsynError(f"priors_level: {self.priors_level!r} is not one of {', '.join(LEVELS)}")
        check_options(self.fill_to, self.fill_over)
        if self.fill_to is not None and self.dataset_name is not None:
            raise MedsynError(
                "fill_to plans the priors and dataset_name gives them: set one (a `medsyn plan` folder as "
                "dataset_name brings its plan)"
            )
        if self.fill_to is not None and self.real_dataset is None:
            raise MedsynError("fill_to: a plan counts the real notes per code; set real_dataset too")
        filter_config(self.filters)  # typed and in range before any work


@dataclass
class SamplingArguments:
    """What every backend reads: its name and the sampling settings (all part of the run id)."""

    backend: str = field(
        default="transformers",
        metadata={
            "help": "transformers (in process) or openai (InferenceClient: an OpenAI-compatible server, an Inference "
            "Endpoint or Provider), or a backend registered with medsyn_hf.generation.backends.register_backend."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seeds the priors and every row's sampling noise."})
    max_new_tokens: int = field(default=512, metadata={"help": "Longest note, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "0: greedy."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling; 1.0: off."})


@dataclass
class GenerationArguments(InferenceClientConfig, TransformersConfig, SamplingArguments):
    """The common sampling settings, then each built-in backend's section (its ``Config``, inherited; only the chosen
    backend's is used and checked); another backend's settings go in ``backend_args``."""

    backend_args: dict[str, Any] | None = field(
        default=None, metadata={"help": "Settings of a registered backend's own Config (not a built-in's). YAML only."}
    )

    def __post_init__(self):
        from medsyn_hf.generation.backends import get_backend

        check_range("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)
        check_range("seed", self.seed, 0, MAX_SEED)
        check_range("temperature", self.temperature, 0)
        check_range("top_p", self.top_p, 0, 1, low_open=True)
        get_backend(self.backend).make_config(self)  # the chosen backend's section is valid


@dataclass
class GenerationModelConfig(trl.ModelConfig):
    adapter_name_or_path: str | None = field(
        default=None,
        metadata={"help": "A LoRA adapter (path or Hub id) to apply to the model, merged before generation."},
    )

    def __post_init__(self):
        from medsyn_hf.tiny_model import resolve_model

        self.model_name_or_path = resolve_model(self.model_name_or_path)  # `medsyn-tiny`: the packaged writer
        check_model_args(self)  # whether the model exists is checked where it is loaded (a server may hold it)
        if self.adapter_name_or_path is not None and not self.adapter_name_or_path.strip():
            raise MedsynError("adapter_name_or_path: '' is empty; give an adapter folder or Hub id, or unset it")
        super().__post_init__()
