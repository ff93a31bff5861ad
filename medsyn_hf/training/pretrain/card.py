"""The packaged writer's model card (``writer_card``) and the command that reproduces the run (``card_command``)."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict

from medsyn_hf.provenance import LICENSE_STORY, MEDSYN_CITATION, TOOLKIT_CITATION, WRITER_LICENSE, public_name
from medsyn_hf.tiny_model import DEFAULT_SOURCES
from medsyn_hf.training.pretrain.config import PretrainConfig
from medsyn_hf.training.pretrain.data import COMPLAINT_TASK, NOTE_TASK


def writer_card(
    cfg: PretrainConfig,
    counts: dict,
    report: dict,
    curve: list[dict],
    tps: float,
    command: str,
    n_params: int,
    final: bool,
    stage: int = 1,
) -> str:
    """The writer's model card: what it learnt from (``counts``: the mix, ``report``: the instruction builder's
    removals), how (``cfg``, ``command``) and how the losses went (``curve``, ``tps``); ``final`` False: a partial
    checkpoint's card; ``stage`` > 1: a further stage, continued from ``cfg.init``."""
    header = "\n".join(
        [
            "---",
            "library_name: transformers",
            f"license: {WRITER_LICENSE}",
            "language:",
            "- ru",
            "pipeline_tag: text-generation",
            "tags:",
            "- medical",
            "- clinical-notes",
            "- russian",
            "- llama",
            "- medsyn",
            "- synthetic-data",
            "---",
            "",
        ]
    )
    mix = "\n".join(f"| {name} | {c['rows']:,} | {c['tokens']:,} |" for name, c in counts.items())
    complaints = COMPLAINT_TASK in counts
    table = "\n".join(
        f"| {r['step']} | {r['lr']:g} | {_fmt(r['lm_loss'])} | {_fmt(r['task_loss'])} | {_fmt(r['val_loss'])} | "
        + (f"{_fmt(r.get('complaint_loss'))} | {_fmt(r.get('complaint_val_loss'))} | " if complaints else "")
        + f"{r['tokens']:,} |"
        for r in curve
    )
    columns = "| step | lr | LM loss | task loss | held-out loss | " + (
        "complaint loss | held-out complaint loss | " if complaints else ""
    )
    columns += "tokens seen |\n|---:|---:|---:|---:|---:|" + ("---:|---:|" if complaints else "") + "---:|"
    stage_text = (
        f"""

**Complaint writing:** {cfg.complaint_share:.0%} of the task batches write a real RuMedTop3 *train* complaint from
the `complaints` template (rendered from the complaint's own prior: its category, the MKG symptoms it voices, a sampled
patient and, in half of the prompts, 1-3 real complaints of other categories as style exemplars; loss on the complaint
only, the copy weight on the prompted words, never on the exemplars' words), mixed with note-writing batches so that
the notes templates keep what they learnt. {cfg.complaint_val_rows} train complaints are held out of everything
this run trains on (complaint rows, LM blocks, the other instruction tasks, style exemplars); the
{counts[COMPLAINT_TASK]["held_out_rows"]} of them that voice an MKG symptom give the held-out complaint loss and the
validation priors of `benchmarks/tiny_writer_complaints.py`, on which the settings were chosen."""
        if complaints
        else ""
    )
    removed = {  # of the tasks this run trains on (a stage without complaint batches never sees complaint_writing)
        t: {k: v for k, v in r.items() if k in ("exact_duplicates", "near_duplicates", "contaminated")}
        for t, r in report.items()
        if t != COMPLAINT_TASK or complaints
    }
    stopped = f" (schedule of {cfg.steps}, stopped after {cfg.stop_after})" if cfg.stop_after else ""
    status = "" if final else f"\n**Partial checkpoint** (step {curve[-1]['step'] if curve else 0} of {cfg.steps}).\n"
    if cfg.init:
        status += (
            f"\n**Stage {stage}**: continued from the stage-{stage - 1} writer with the settings below; the earlier "
            "stages' cards and loss curves are kept here as `README_stage<n>.md` and `loss_curve_stage<n>.json`.\n"
        )
    return f"""{header}
# medsyn-tiny: a {n_params / 1e6:.1f}M-parameter Russian clinical-note writer
{status}
The CPU default writer of medsyn_hf (`medsyn_hf.tiny_model.WRITER_NAME`): a LLaMA-architecture model with a byte-level
BPE tokenizer ({cfg.vocab_size} tokens, trained on the GPT notes and RuMedTop3 train complaints), pretrained from
random init on the repository's own text and, mixed in from the first step, on the note-writing task (prompt rendered
from a note's ICD-10 code, symptoms and patient -> the MedSyn GPT note; loss on the note only), so that it writes a
note mentioning the prompted symptoms. It is a stand-in that shows the method on a laptop, not a clinical model:
its notes are fluent-looking but medically unreliable.

**Held out:** never trained on RuMedTop3 dev or any evaluation split (dev is read only to drop overlapping
instruction examples, as `medsyn ift build --decontaminate` does); {counts[NOTE_TASK]["held_out_rows"]}
note-writing rows (and every example made from their notes) are held out for the validation loss.{stage_text}

## Data mix

| source | rows | tokens |
|---|---:|---:|
{mix}

Task batches: {cfg.task_share:.0%} of the steps; the rest are packed {cfg.seq_len}-token blocks of the other sources.
Instruction examples removed before training (duplicates, RuMedTop3-dev overlap): `{json.dumps(removed)}`.

## Training

- command: `{command}`
- steps {cfg.stop_after or cfg.steps}{stopped}, batch {cfg.batch_size} x {cfg.seq_len} tokens,
  AdamW (0.9, 0.95, wd 0.1), peak lr {cfg.lr:g},
  {cfg.warmup} warm-up steps then cosine to lr/10, grad clip 1.0, seed {cfg.seed}, bf16 autocast: {cfg.bf16},
  {cfg.threads} CPU threads; loss weight {cfg.copy_weight:g} on note tokens that repeat the prompt's own words
  (symptoms, patient; not the templates' fixed wording); note targets open with «Жалобы: <the prompted symptoms>.»
  (a GPT note that does not already open with its complaints gets that line first): {cfg.complaints_line}
- throughput: {tps:,.0f} tokens/s (non-padding tokens, on this machine's CPU)
- weights: bf16 safetensors

## Loss curve

Mean training loss over each logging window (LM blocks / note-writing batches / complaint-writing batches, if any) and
the note-only (complaint-only) loss on the held-out rows (`loss_curve.json`; `loss_curve.png`).

{columns}
{table}

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from medsyn_hf.tiny_model import WRITER_DIR

tok = AutoTokenizer.from_pretrained(WRITER_DIR)
model = AutoModelForCausalLM.from_pretrained(WRITER_DIR)
```

In configs, `model_name_or_path: medsyn-tiny` names this model (`medsyn_hf.tiny_model.resolve_model`).

## Licence

{LICENSE_STORY}

## Citation

```bibtex
{MEDSYN_CITATION}
{TOOLKIT_CITATION}```
"""


def _fmt(x) -> str:
    return "" if x is None else f"{x:.3f}"


def _flags(cfg: PretrainConfig) -> list[str]:
    """Every setting as its `medsyn tiny-model --pretrain` flag: the card's command reproduces the run (the writer
    it continues, ``--init``, by its folder's name: no path of the machine that trained it)."""
    flags = []
    for name, value in asdict(cfg).items():
        if name in ("bf16", "complaints_line"):
            flags += ["--" + name.replace("_", "-")] if value else []
        elif name in ("complaint_share", "complaint_val_rows") and not value:
            continue  # the complaint stage's settings, off (as in every earlier stage's command)
        elif value is not None:
            flags += ["--" + name.replace("_", "-"), str(public_name(value) if name == "init" else value)]
    return flags


def card_command(out, sources, cfg: PretrainConfig) -> str:
    """The card's command: the output and the writer it continues by their names, the repository's data/sources as
    such, another sources folder by its name; the checkpoint folder (which does not change the writer) left out."""
    shown = ["--out", public_name(str(out)), "--sources", public_name(str(sources), {DEFAULT_SOURCES: "data/sources"})]
    return shlex.join(["medsyn", "tiny-model", "--pretrain", *shown, *_flags(cfg)])
