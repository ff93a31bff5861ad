"""The trained model's card: base model, data, hyperparameters and intended use, so the weights are never anonymous.

It follows what TRL's `generate_model_card` and PEFT's `create_or_update_model_card` write (we replace their card, so
we carry their metadata): `library_name`, `model_name`, `base_model`, tags `generated_from_trainer`, `trl`, `sft` and,
for an adapter, `lora`, `transformers` and `base_model:adapter:<base>`; the framework versions with PEFT's own line
(`- PEFT x.y`, so a later PEFT save recognises it instead of appending another) and TRL's citation. Local paths stay
out of the card, metadata and text, as TRL keeps them out of the metadata (a folder on the training machine means
nothing to a reader): a local base model or dataset appears by its name (`medsyn-tiny` for the packaged writer).
Beyond TRL's card: a quick start (load, the chat template's prompt, generate), the base model's licence, the MedSyn
citation, and the recipe YAML saved beside the weights for the Reproduce command.
"""

from __future__ import annotations

import enum
import re
import shlex
from importlib.metadata import version
from pathlib import Path

from medsyn_hf.io import atomic_path
from medsyn_hf.prompts import render_messages
from medsyn_hf.provenance import LICENSE_STORY, MEDSYN_CITATION, TOOLKIT_CITATION, is_local_path, public_name
from medsyn_hf.tiny_model import packaged_names
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

RECIPE = "recipe.yaml"  # the --config YAML, saved beside the weights: the card's Reproduce command names it
# Base models' licences (their Hub ids, lower-cased) as the Hub names them; first match wins. A local base carries its
# own card's licence (the packaged writer: provenance.WRITER_LICENSE); an unknown Hub base gets none (its card says).
BASE_LICENSES = (
    (r"llama-?2", "llama2"),
    (r"llama-?3\.3", "llama3.3"),
    (r"llama-?3\.2", "llama3.2"),
    (r"llama-?3\.1", "llama3.1"),
    (r"llama-?3", "llama3"),
    (r"qwen2\.5-(3b|72b)", None),  # the Qwen research / Qwen licences: not Apache-2.0
    (r"qwen", "apache-2.0"),
    (r"mistral", "apache-2.0"),
)
# The quick start's example request: a note from symptoms and a patient (the Space's first prior, in words).
QUICK_START_PRIOR = {
    "code": "J06.9",
    "code_name_ru": "Острая инфекция верхних дыхательных путей неуточненная",
    "symptoms": ["боль в горле", "насморк", "кашель"],
    "sex": "female",
    "age": 34,
    "location": "city",
    "marital": "married",
    "smoking": False,
}
QUICK_START_TEMPLATE = "anamnesis_patient"

TEMPLATE = """
# {name}

A note writer for **medsyn_hf**: `{base}` fine-tuned ({method}) with TRL's `SFTTrainer` on the Russian medical
instruction dataset, following MedSyn (Kumichev et al., 2024): prompts are a system message and a request (ICD-10
code, symptoms, demographics), completions the note or answer.{loss}

## Quick start

```python
{quick_start}
```

The chat template turns these messages into this prompt (the model writes the note after it):

```text
{prompt}
```

Use `medsyn generate --config ... --model_name_or_path {model_id}` for many notes from sampled priors (medsyn_hf).

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

## Licence

{license_line}

{license_story}

## Reproduce

From a medsyn_hf checkout, with the training data built (`medsyn ift build`) and `{recipe}` from this repository:

```bash
{command}
```

### Framework versions

{versions}

## Citations

MedSyn (the method), medsyn_hf (the toolkit) and TRL (the trainer):

```bibtex
{citation}
```
"""


def base_license(base: str | None) -> str | None:
    """The base model's Hub licence id: a local folder's card's (the packaged writer's), a Hub id's by BASE_LICENSES,
    else None."""
    if base and is_local_path(base):
        card = Path(base) / "README.md"
        if card.is_file():
            from huggingface_hub import ModelCard

            return ModelCard.load(card).data.license
        return None
    for pattern, license in BASE_LICENSES:
        if base and re.search(pattern, base.lower()):
            return license
    return None


def shown(value):
    """A model, dataset or file as the card shows it: a Hub id, or a name (``medsyn-tiny``), never a path."""
    return public_name(value, packaged_names())


def save_recipe(output_dir, argv: list[str]) -> list[str]:
    """Copy the ``--config`` YAML of ``argv`` beside the weights as RECIPE (local paths in it named, comments kept);
    returns the arguments of the Reproduce command: ``--config RECIPE``, every local path by its name."""
    import yaml

    argv = list(argv)
    if "--config" in argv[:-1]:
        at = argv.index("--config") + 1
        text = Path(argv[at]).read_text(encoding="utf-8")

        def paths(value):
            if isinstance(value, dict):
                return [p for v in value.values() for p in paths(v)]
            if isinstance(value, list):
                return [p for v in value for p in paths(v)]
            return [value] if is_local_path(value) else []

        for path in sorted(set(paths(yaml.safe_load(text))), key=len, reverse=True):
            text = text.replace(path, str(shown(path)))
        with atomic_path(Path(output_dir) / RECIPE) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        argv[at] = RECIPE
    return [str(shown(a)) if a != RECIPE else a for a in argv]


def quick_start(model_id: str, peft: bool) -> str:
    """Load, prompt with the chat template, generate: the card's quick start."""
    loader = (
        "from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n"
        if peft
        else "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
    )
    messages = render_messages(QUICK_START_PRIOR, QUICK_START_TEMPLATE)
    lines = "\n".join(f"    {message!r}," for message in messages)
    model_class = "AutoPeftModelForCausalLM" if peft else "AutoModelForCausalLM"
    return f"""{loader}
model_id = {model_id!r}  # this repository (or its local folder)
tokenizer = AutoTokenizer.from_pretrained(model_id)
model = {model_class}.from_pretrained(model_id)
messages = [
{lines}
]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
output = model.generate(**inputs, max_new_tokens=300, do_sample=True, temperature=0.8, top_p=0.95)
print(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))"""


def _metadata_id(value: str | None) -> str | None:
    """Hub ids go into the card's metadata; the text shows anything else by its name (`shown`)."""
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
    output_dir,
    script_args,
    training_args,
    model_args,
    sources: list[tuple],
    metrics: dict,
    argv: list[str],
    tokenizer=None,
) -> Path:
    """Write README.md into `output_dir`, and the recipe `argv`'s --config names beside it; `sources` are the
    (dataset, config, split, fraction) trained on, `tokenizer` (the trained model's) renders the quick start's
    prompt."""
    from huggingface_hub import ModelCard, ModelCardData

    base = model_args.model_name_or_path
    base_id = _metadata_id(base)
    license = base_license(base)
    tags = list(TAGS)
    if model_args.use_peft:
        tags += ["lora", "transformers", *([f"base_model:adapter:{base_id}"] if base_id else [])]
    name = training_args.hub_model_id.split("/")[-1] if training_args.hub_model_id else Path(output_dir).resolve().name
    model_id = training_args.hub_model_id or name
    messages = render_messages(QUICK_START_PRIOR, QUICK_START_TEMPLATE)
    data = ModelCardData(
        license=license,
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
        base=shown(base),
        quick_start=quick_start(model_id, model_args.use_peft),
        prompt=tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if tokenizer is not None
        else "(the tokenizer's chat template; see tokenizer_config.json)",
        model_id=model_id,
        method="LoRA" if model_args.use_peft else "full fine-tuning",
        loss=" Loss on completions only: the model learns to answer prompts, not to reproduce them."
        if training_args.completion_only_loss is not False
        else "",
        data_rows="\n".join(
            f"| `{shown(d)}` | {c or '-'} | {s or '-'} | {f if f is not None else '-'} |" for d, c, s, f in sources
        ),
        param_rows="\n".join(f"| {k} | `{v}` |" for k, v in hyperparameters(training_args, model_args).items()),
        results="## Results\n\n" + "".join(f"- {k}: {v}\n" for k, v in sorted(metrics.items())) if metrics else "",
        license_line=f"`{license}`, the licence of the base model `{shown(base)}`."
        if license
        else f"The base model `{shown(base)}`'s licence applies: see its card.",
        license_story=LICENSE_STORY,
        recipe=RECIPE,
        command=shlex.join(["medsyn", "sft", *save_recipe(output_dir, argv)]),
        versions=framework_versions(model_args.use_peft),
        citation="\n".join([MEDSYN_CITATION, TOOLKIT_CITATION, TRL_CITATION]),
    )
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = Path(output_dir) / "README.md"
    with atomic_path(path) as tmp:
        card.save(tmp)
    return path
