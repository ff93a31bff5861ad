"""The trained model's card: base model, data, hyperparameters and intended use, so the weights are never anonymous."""

from __future__ import annotations

import os
import re
from pathlib import Path

from medsyn_hf.io import atomic_path

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
HYPERPARAMETERS = (
    "learning_rate", "lr_scheduler_type", "warmup_steps", "num_train_epochs", "max_steps",
    "per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "packing",
    "completion_only_loss", "train_sampling_strategy", "optim", "weight_decay", "bf16", "activation_checkpointing", "seed",
)
LORA = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_modules_to_save")

TEMPLATE = """
# {name}

A note writer for **medsyn_hf**: `{base}` fine-tuned ({method}) with TRL's `SFTTrainer` on the Russian medical
instruction dataset, following MedSyn (Kumichev et al., 2024): prompts are a system message and a request (ICD-10
code, symptoms, demographics), completions the note or answer.{loss}

## Training data

| dataset | config | weight | rows |
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
"""


def _metadata_id(value: str | None) -> str | None:
    """Hub ids go into the card's metadata; local paths only into the text."""
    return value if value and HUB_ID.match(value) and not os.path.exists(value) else None


def write_model_card(output_dir, script_args, training_args, model_args, rows: dict, metrics: dict, command: str) -> Path:
    """Write README.md into `output_dir`; `rows` maps (dataset, config, weight) to the rows used."""
    from huggingface_hub import ModelCard, ModelCardData

    base = model_args.model_name_or_path
    datasets = sorted({_metadata_id(d) for d, _, _ in rows} - {None})
    data = ModelCardData(
        base_model=_metadata_id(base),
        datasets=datasets or None,
        language=["ru"],
        library_name="peft" if model_args.use_peft else "transformers",
        pipeline_tag="text-generation",
        tags=["medsyn", "sft", "trl", "medical", "synthetic-data"],
    )
    params = {k: getattr(training_args, k) for k in HYPERPARAMETERS}
    params["world_size"] = training_args.world_size
    if model_args.use_peft:
        params.update({k: getattr(model_args, k) for k in LORA})
    body = TEMPLATE.format(
        name=Path(output_dir).resolve().name,
        base=base,
        method="LoRA" if model_args.use_peft else "full fine-tuning",
        loss=" Loss on completions only: the model learns to answer prompts, not to reproduce them."
        if training_args.completion_only_loss is not False else "",
        data_rows="\n".join(f"| `{d}` | {c or '-'} | {w if w is not None else 1.0} | {n} |" for (d, c, w), n in rows.items()),
        param_rows="\n".join(f"| {k} | `{v}` |" for k, v in params.items()),
        results="## Results\n\n" + "\n".join(f"- {k}: {v}" for k, v in sorted(metrics.items())) + "\n" if metrics else "",
        command=command,
    )
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = Path(output_dir) / "README.md"
    with atomic_path(path) as tmp:
        card.save(tmp)
    return path
