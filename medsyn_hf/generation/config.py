"""The generation recipe's arguments: TRL's `ScriptArguments` and `ModelConfig`, extended, plus the sampling knobs.

Only what changes the notes goes into the run id (`run.run_config`): the throughput knobs (batch size, concurrency,
cache, compilation, number of processes) do not, so a crashed run can be resumed with a smaller batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trl

from medsyn_hf.errors import MedsynError

BACKENDS = ("transformers", "openai")


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
    output_dir: str = field(
        default="runs/generate", metadata={"help": "Runs go to output_dir/<run id>; output_dir/latest links the last."}
    )
    shard_size: int = field(
        default=256, metadata={"help": "Priors per parquet shard: the unit of resume and of data parallelism."}
    )
    filters: dict[str, Any] | None = field(
        default=None, metadata={"help": "Filter thresholds (see medsyn_hf.filters); YAML only. Unset: its defaults."}
    )

    def __post_init__(self):
        if self.shard_size < 1:
            raise MedsynError(f"shard_size must be >= 1, got {self.shard_size}")
        if self.dataset_name is None and self.num_priors < 1:
            raise MedsynError(f"num_priors must be >= 1, got {self.num_priors}")


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
        if self.max_new_tokens < 1 or self.batch_size < 1 or self.concurrency < 1:
            raise MedsynError("max_new_tokens, batch_size and concurrency must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise MedsynError("need temperature >= 0, 0 < top_p <= 1 and top_k >= 0")


@dataclass
class GenerationModelConfig(trl.ModelConfig):
    adapter_name_or_path: str | None = field(
        default=None, metadata={"help": "A LoRA adapter (path or Hub id) to apply to the model, merged before generation."}
    )
