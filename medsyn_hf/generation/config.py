"""The generation recipe's arguments: TRL's `ScriptArguments` and `ModelConfig`, extended, plus the sampling knobs.

Only what changes the notes goes into the run id (`run.run_config`): the throughput knobs (batch size, concurrency,
cache, compilation, number of processes) do not, so a crashed run can be resumed with a smaller batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trl

from medsyn_hf.errors import MedsynError
from medsyn_hf.validate import check_range

BACKENDS = ("transformers", "openai")
MAX_NEW_TOKENS = 32_768  # also bounded by the model's context once it is known (`run.check_model`)
MAX_SEED = 2**32 - 1


@dataclass
class GenerateScriptArguments(trl.ScriptArguments):
    """
    Args:
        dataset_name (`str`, *optional*): priors to generate from: a folder written by `medsyn priors`, a `.parquet`
            file or a Hub dataset with PRIORS_FEATURES. Unset: `num_priors` priors are sampled from the packaged MKG.
    """

    num_priors: int = field(default=300, metadata={"help": "Priors to sample when `dataset_name` is not set."})
    priors_mode: str = field(default="plan", metadata={"help": "plan: per-code counts ∝ code weights; random: i.i.d."})
    priors_level: str = field(default="code", metadata={"help": "code or category (see `medsyn priors --help`)."})
    codes: list[str] | None = field(default=None, metadata={"help": "Restrict sampled priors to these codes/subtrees."})
    example_p: float = field(default=0.5, metadata={"help": "Probability of an example-conditioned prompt."})
    # Symptom policy of the sampled priors (medsyn_hf.priors_symptoms); None: its defaults (MedSyn's when compatible)
    priors_temperature: float | None = field(default=None, metadata={"help": "Softmax temperature of the symptoms."})
    priors_top_k: int | None = field(default=None, metadata={"help": "Keep each code's k best symptoms; 0: all."})
    priors_min_weight: float | None = field(default=None, metadata={"help": "Drop symptoms scored below this."})
    priors_source_weights: dict[str, float] | None = field(
        default=None, metadata={"help": "Per-source multipliers of the MKG weights, e.g. {hsdn: 0.25}. YAML only."}
    )
    priors_inherit: float | None = field(
        default=None, metadata={"help": "A subcode also draws its category's symptoms at this share of their score."}
    )
    priors_symptom_lists: str | None = field(
        default=None, metadata={"help": "JSON/YAML file of per-code symptom lists replacing the MKG's."})
    priors_medsyn_compatible: bool = field(default=False, metadata={"help": "MedSyn's symptom draw (T=10, all)."})
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
        default=False, metadata={"help": "Write runs into an existing non-empty `output_dir` that `medsyn generate` "
                                         "did not write. Without it such a folder is refused."}
    )

    def __post_init__(self):
        from medsyn_hf.generation.notes import filter_config
        from medsyn_hf.priors import LEVELS, MAX_PRIORS, MODES  # num_priors: as `medsyn priors --n`

        check_range("shard_size", self.shard_size, 1, 1_000_000)
        check_range("num_priors", self.num_priors, 1, MAX_PRIORS)
        check_range("example_p", self.example_p, 0, 1)
        if self.dataset_name is not None and not self.dataset_name.strip():
            raise MedsynError("dataset_name: '' is empty; give a priors folder, .parquet file or Hub id, or unset it "
                              "to sample num_priors priors")
        if not str(self.output_dir or "").strip():
            raise MedsynError("output_dir: empty; name the folder the runs go to")
        if self.priors_mode not in MODES:
            raise MedsynError(f"priors_mode: {self.priors_mode!r} is not one of {', '.join(MODES)}")
        if self.priors_level not in LEVELS:
            raise MedsynError(f"priors_level: {self.priors_level!r} is not one of {', '.join(LEVELS)}")
        filter_config(self.filters)  # typed and in range before any work


@dataclass
class GenerationArguments:
    """Sampling (part of the run id) and throughput (not part of it)."""

    backend: str = field(default="transformers", metadata={"help": f"One of {', '.join(BACKENDS)}."})
    seed: int = field(default=0, metadata={"help": "Seeds the priors and every row's sampling noise."})
    max_new_tokens: int = field(default=512, metadata={"help": "Longest note, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "0: greedy."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling; 1.0: off."})
    top_k: int = field(default=50, metadata={"help": "transformers: 0 is off (transformers' default is 50 too)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "transformers: 1.0 is off."})
    extra_body: dict[str, Any] | None = field(
        default=None, metadata={"help": "openai: extra request fields, e.g. {top_k: 50} for vLLM or TGI. YAML only."}
    )
    batch_size: int = field(default=64, metadata={"help": "transformers: prompts per `generate` call."})
    cache_implementation: str | None = field(
        default=None, metadata={"help": "transformers: KV cache; unset: 'static' (+ torch.compile) on CUDA, dynamic on CPU."}
    )
    base_url: str | None = field(
        default=None, metadata={"help": "openai: server root, e.g. http://localhost:8000/v1 (vLLM, TGI, transformers serve)."}
    )
    served_model_name: str | None = field(
        default=None, metadata={"help": "openai: `model` of the requests; unset: model_name_or_path."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key (optional)."}
    )
    concurrency: int = field(default=16, metadata={"help": "openai: requests in flight (the server batches them)."})
    request_timeout: float = field(default=600.0, metadata={"help": "openai: seconds per request."})

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise MedsynError(f"unknown backend {self.backend!r}; choose from {', '.join(BACKENDS)}")
        if self.backend == "openai" and not self.base_url:
            raise MedsynError("backend 'openai' needs base_url (e.g. http://localhost:8000/v1)")
        check_range("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)
        check_range("batch_size", self.batch_size, 1)
        check_range("concurrency", self.concurrency, 1)
        check_range("seed", self.seed, 0, MAX_SEED)
        check_range("temperature", self.temperature, 0)
        check_range("top_p", self.top_p, 0, 1, low_open=True)
        check_range("top_k", self.top_k, 0)
        check_range("repetition_penalty", self.repetition_penalty, 0, low_open=True)
        check_range("request_timeout", self.request_timeout, 0, low_open=True)


@dataclass
class GenerationModelConfig(trl.ModelConfig):
    adapter_name_or_path: str | None = field(
        default=None, metadata={"help": "A LoRA adapter (path or Hub id) to apply to the model, merged before generation."}
    )

    def __post_init__(self):
        from medsyn_hf.training.configs import check_model_args

        check_model_args(self)  # whether the model exists is checked where it is loaded (a server may hold it)
        if self.adapter_name_or_path is not None and not self.adapter_name_or_path.strip():
            raise MedsynError("adapter_name_or_path: '' is empty; give an adapter folder or Hub id, or unset it")
        super().__post_init__()
