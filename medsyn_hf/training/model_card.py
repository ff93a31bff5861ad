"""The trained model's card: base model, data, hyperparameters and intended use, so the weights are never anonymous.

It follows what TRL's `generate_model_card` and PEFT's `create_or_update_model_card` write (we replace their card, so
we carry their metadata): `library_name`, `model_name`, `base_model`, tags `generated_from_trainer`, `trl`, `sft` and,
for an adapter, `lora`, `transformers` and `base_model:adapter:<base>`; the framework versions with PEFT's own line
(`- PEFT x.y`, so a later PEFT save recognises it instead of appending another) and TRL's citation. Local paths stay
out of the metadata, as TRL keeps them (a Hub tag naming a folder on the training machine means nothing).
"""

from __future__ import annotations

import enum
from importlib.metadata import version
from pathlib import Path

from medsyn_hf.io import atomic_path
from medsyn_hf.validate import is_hub_id

HYPERPARAMETERS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "packing",
    "completion_only_loss",
    "train_sampling_strategy",
    "optim",
    "weight_decay",
    "bf16",
    "activation_checkpointing",
    "seed",
)
LORA = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_modules_to_save")
TAGS = ("generated_from_trainer", "trl", "sft", "medsyn", "medical", "synthetic-data")
FRAMEWORKS = (
    ("TRL", "trl"),
    ("Transformers", "transformers"),
    ("Pytorch", "torch"),
    ("Datasets", "datasets"),
    ("Tokenizers", "tokenizers"),
)
TRL_CITATION = """@software{vonwerra2020trl,
  title   = {{TRL: Transformers Reinforcement Learning}},
  author  = {von Werra, Leandro and Belkada, Younes and Tunstall, Lewis and Beeching, Edward and Thrush, Tristan and Lambert, Nathan and Huang, Shengyi and Rasul, Kashif and Gallouédec, Quentin},
  license = {Apache-2.0},
  url     = {https://github.com/huggingface/trl},
  year    = {2020}
}"""  # noqa: E501  (TRL's own entry, verbatim)

TEMPLATE = """
# {name}

A note writer for **medsyn_hf**: `{base}` fine-tuned ({method}) with TRL's `SFTTrainer` on the Russian medical
instruction dataset, following MedSyn (Kumichev et al., 2024): prompts are a system message and a request (ICD-10
code, symptoms, demographics), completions the note or answer.{loss}

## Training data

| dataset | config | split | fraction |
|---|---|---|---|
{data_rows}

## Training hyperparameters

| parameter | value |
|---|---|
{param_rows}

{results}
## Intended use and limitations

For research: generating **synthetic** Russian clinical notes (anamneses) from an ICD-10 code and symptoms, to augment
training data for clinical NLP such as ICD-code prediction. Not for diagnosis, treatment or any clinical decision, and
not a source of medical facts: notes are plausible-sounding text and can be wrong, and may echo phrasing of the
training data above (see its dataset card for provenance and licenses).

## Reproduce

```bash
{command}
```

### Framework versions

{versions}

## Citations

Cite TRL as:

```bibtex
{citation}
```
"""


def _metadata_id(value: str | None) -> str | None:
    """Hub ids go into the card's metadata; local paths only into the text."""
    return value if value and is_hub_id(value) else None


def _shown(value):
    """Enums as their values (`cosine`, not `SchedulerType.COSINE`)."""
    return value.value if isinstance(value, enum.Enum) else value


def hyperparameters(training_args, model_args) -> dict:
    """The parameters the card lists: `max_steps` when it governs the length of training, else `num_train_epochs`."""
    skip = "num_train_epochs" if training_args.max_steps > 0 else "max_steps"
    params = {k: _shown(getattr(training_args, k)) for k in HYPERPARAMETERS if k != skip}
    params["world_size"] = training_args.world_size
    if model_args.use_peft:
        params.update({k: getattr(model_args, k) for k in LORA})
    return params


def framework_versions(peft: bool) -> str:
    lines = [f"- PEFT {version('peft')}"] if peft else []  # PEFT's spelling: its card update looks for this line
    return "\n".join(lines + [f"- {name}: {version(package)}" for name, package in FRAMEWORKS])


def write_model_card(
    output_dir, script_args, training_args, model_args, sources: list[tuple], metrics: dict, command: str
) -> Path:
    """Write README.md into `output_dir`; `sources` are the (dataset, config, split, fraction) trained on."""
    from huggingface_hub import ModelCard, ModelCardData

    base = model_args.model_name_or_path
    base_id = _metadata_id(base)
    tags = list(TAGS)
    if model_args.use_peft:
        tags += ["lora", "transformers", *([f"base_model:adapter:{base_id}"] if base_id else [])]
    name = training_args.hub_model_id.split("/")[-1] if training_args.hub_model_id else Path(output_dir).resolve().name
    data = ModelCardData(
        base_model=base_id,
        datasets=sorted({_metadata_id(d) for d, *_ in sources} - {None}) or None,
        language=["ru"],
        library_name="peft" if model_args.use_peft else "transformers",
        model_name=name,
        pipeline_tag="text-generation",
        tags=tags,
    )
    body = TEMPLATE.format(
        name=name,
        base=base,
        method="LoRA" if model_args.use_peft else "full fine-tuning",
        loss=" Loss on completions only: the model learns to answer prompts, not to reproduce them."
        if training_args.completion_only_loss is not False
        else "",
        data_rows="\n".join(
            f"| `{d}` | {c or '-'} | {s or '-'} | {f if f is not None else '-'} |" for d, c, s, f in sources
        ),
        param_rows="\n".join(f"| {k} | `{v}` |" for k, v in hyperparameters(training_args, model_args).items()),
        results="## Results\n\n" + "".join(f"- {k}: {v}\n" for k, v in sorted(metrics.items())) if metrics else "",
        command=command,
        versions=framework_versions(model_args.use_peft),
        citation=TRL_CITATION,
    )
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = Path(output_dir) / "README.md"
    with atomic_path(path) as tmp:
        card.save(tmp)
    return path
