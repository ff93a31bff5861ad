"""Pretrain the packaged writer `medsyn-tiny` (`medsyn tiny-model --pretrain`): a small LLaMA learns Russian medical
text from the repository's own sources and, in the same run, the note-writing task, so that it writes notes that
mention the symptoms it is prompted with.

A plain seeded torch loop, not the Trainer: on 2 CPU cores the model is small enough that the Trainer's per-step
overhead and dataset plumbing would cost a noticeable share of the hour. Two kinds of batch are mixed from the start
(``task_share`` of the steps are task batches):

* language modelling on packed blocks of MedSyn GPT notes, RuMedTop3 *train* complaints, ICD-10 names, the Wikipedia
  disease descriptions and every instruction task but note writing (decontaminated against RuMedTop3 dev as
  `medsyn ift build --decontaminate` does);
* note writing: the instruction dataset's `note_writing` rows (our prompt templates rendered from a GPT note's code,
  symptoms and patient -> that note), loss on the note only;
* complaint writing (``complaint_share`` of the task batches, a later stage): the `complaint_writing` rows (the
  ``complaints`` template rendered from a RuMedTop3 *train* complaint's own prior -> that complaint), loss on the
  complaint only. ``complaint_val_rows`` train complaints are held out of everything the run trains on (these rows,
  the LM blocks, the other instruction tasks, the style exemplars) for the complaint validation loss and for
  benchmarks/tiny_writer_complaints.py, which chooses the stage's settings on them.

RuMedTop3 dev is read only to drop overlapping text, never trained on. A few hundred note-writing rows (and every
example made from the same notes) are held out for the validation loss in the card.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shlex
import time
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.provenance import LICENSE_STORY, MEDSYN_CITATION, TOOLKIT_CITATION, WRITER_LICENSE, public_name
from medsyn_hf.tiny_model import DEFAULT_SOURCES, resolve_model
from medsyn_hf.training.complaint_split import split_complaints
from medsyn_hf.validate import check_range

# The random-init shape with tied embeddings (~5.2M parameters, ~10 MB in bf16): on this CPU (~150-300 tokens/s
# for a 6-layer variant under load) the hour buys well under 2M tokens, so more steps beat more depth.
WRITER_SHAPE = dict(
    hidden_size=256,
    intermediate_size=688,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=1024,
    tie_word_embeddings=True,
)
DEV = Path("rumedtop3") / "dev_v1.jsonl"
ICD_NAMES = Path("icd10_ru") / "mkb10_nsi_v2.27.csv"
NOTE_TASK = "note_writing"
COMPLAINT_TASK = "complaint_writing"
IGNORE = -100


@dataclass
class PretrainConfig:
    steps: int = 2000
    batch_size: int = 16
    seq_len: int = 512
    lr: float = 2e-3
    warmup: int = 100
    task_share: float = 0.6
    vocab_size: int = 8000
    seed: int = 0
    limit: int | None = None  # rows per source: the scaled-down build of the tests
    val_rows: int = 64
    log_every: int = 50
    save_every: int = 250
    stop_after: int | None = None  # end (and write the model) after this many of the schedule's `steps`
    complaints_line: bool = False  # note targets open with «Жалобы: <the prompted symptoms>.»
    copy_weight: float = 1.0  # loss weight of note tokens copied from the prompt's own words (symptoms, patient)
    init: str | None = None  # continue from this writer folder (its tokenizer and weights): a second stage
    complaint_share: float = 0.0  # share of the task batches that are complaint writing
    complaint_val_rows: int = 0  # train complaints held out of the whole run (complaint validation)
    bf16: bool = False  # bf16 autocast measured no faster than float32 on this CPU (140 vs 140 tokens/s)
    threads: int = 2

    def check(self) -> None:
        from medsyn_hf.tiny_model import MAX_VOCAB, MIN_VOCAB

        check_range("--steps", self.steps, 1, 1_000_000)
        check_range("--stop-after", self.stop_after, 1, self.steps)
        check_range("--batch-size", self.batch_size, 1, 4096)
        check_range("--seq-len", self.seq_len, 16, WRITER_SHAPE["max_position_embeddings"])
        check_range("--lr", self.lr, 0, 1, low_open=True)
        check_range("--warmup", self.warmup, 0)
        check_range("--task-share", self.task_share, 0, 1)
        check_range("--vocab-size", self.vocab_size, MIN_VOCAB, MAX_VOCAB)
        check_range("--limit", self.limit, 1)
        check_range("--val-rows", self.val_rows, 1)
        check_range("--log-every", self.log_every, 1)
        check_range("--save-every", self.save_every, 1)
        check_range("--threads", self.threads, 1, 256)
        check_range("--copy-weight", self.copy_weight, 0, 100, low_open=True)
        check_range("--complaint-share", self.complaint_share, 0, 1)
        check_range("--complaint-val-rows", self.complaint_val_rows, 0)
        self.init = resolve_model(self.init)  # a packaged writer's name (medsyn-tiny) means its folder
        if self.init is not None and not (Path(self.init) / "config.json").is_file():
            raise MedsynError(f"--init: {self.init} is not a model folder (no config.json); give a writer folder")


# -- data -----------------------------------------------------------------------------------------------------------
def _chat_text(tokenizer, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False)


def with_complaints_line(example: dict, symptoms: list[str]) -> dict:
    """The note-writing example whose note opens with the usual «Жалобы: ...» line naming the prompted symptoms
    (unless the GPT note already opens with its complaints)."""
    note = example["completion"][-1]["content"]
    if note.lstrip().lower().startswith("жалобы"):
        return example
    line = f"Жалобы: {', '.join(symptoms)}."
    return {**example, "completion": [{**example["completion"][-1], "content": f"{line}\n\n{note}"}]}


@dataclass
class Mix:
    """What a run trains and validates on; no RuMedTop3 dev text."""

    texts: dict  # LM texts per source
    report: dict  # the instruction builder's removal counts per task
    notes: list  # note-writing train rows
    held: list  # held-out note-writing rows
    complaints: list  # complaint-writing train rows (RuMedTop3 train minus the held-out complaints)
    complaints_held: list  # complaint-writing rows of the held-out complaints


def load_mix(
    sources: Path,
    limit: int | None,
    seed: int,
    val_rows: int,
    complaints_line: bool = False,
    complaint_val_rows: int = 0,
) -> Mix:
    """The run's data; ``complaint_val_rows`` train complaints are held out of all of it but ``complaints_held``."""
    from medsyn_hf.ift.build import WIKI, clean_examples, load_sources
    from medsyn_hf.ift.tasks import complaint_writing
    from medsyn_hf.kg import load_graph
    from medsyn_hf.kg.sources import csv_rows, jsonl_records, read_icd_tree
    from medsyn_hf.priors.style import style_pool
    from medsyn_hf.tiny_model import COMPLAINTS, NOTES

    data = load_sources(sources)
    if limit:
        data = {k: v[:limit] if isinstance(v, list) else v for k, v in data.items()}
    kept, held_complaints = split_complaints(data["complaints"], complaint_val_rows)
    data["complaints"] = kept
    held_texts = {c["text"].strip() for c in held_complaints}
    dev = [sources / DEV] if (sources / DEV).is_file() else []
    examples, report = clean_examples(data, dev, seed, limit)
    notes = examples.pop(NOTE_TASK)
    complaint_rows = examples.pop(COMPLAINT_TASK)  # a task of its own, never in the LM blocks
    pool = style_pool([c["code"] for c in kept], [c["text"] for c in kept])
    complaints_held = list(complaint_writing(held_complaints, load_graph(), seed, pool))
    if complaints_line:
        symptoms = {n["response"].strip(): [s.strip() for s in n["symptoms"] if s.strip()] for n in data["notes"]}
        notes = [with_complaints_line(ex, symptoms[ex["doc"]]) for ex in notes]
    # The held-out notes do not move with --seed, so a later stage run with another seed (new batches, new prompt
    # renderings) still validates on notes that no stage trained on.
    ranked = sorted(notes, key=lambda ex: hashlib.sha256(f"0|{ex['doc']}".encode()).hexdigest())
    held, train = ranked[:val_rows], ranked[val_rows:]
    held_docs = {ex["doc"] for ex in held}
    gpt = [r["response"].strip() for r in islice(jsonl_records(sources / NOTES, {"response": str}), limit)]
    complaints = [r["symptoms"] for r in islice(jsonl_records(sources / COMPLAINTS, {"symptoms": str}), limit)]
    icd = [f"{r['code']} {r['name']}" for r in islice(read_icd_tree(sources / ICD_NAMES), limit)]
    wiki = [
        f"{row['Index']}. {row['Симптомы']}"
        for _, row in islice(csv_rows(sources / WIKI, ["Index", "Симптомы"]), limit)
    ]
    texts = {
        "medsyn_gpt_notes": [t for t in gpt if t not in held_docs],
        "rumedtop3_train_complaints": [t for t in complaints if t.strip() not in held_texts],
        "icd10_names": icd,
        "wiki_disease_descriptions": wiki,
        "instruction_tasks": [ex for exs in examples.values() for ex in exs if ex["doc"] not in held_docs],
    }
    return Mix(texts, report, train, held, complaint_rows, complaints_held)


def encode_mix(tokenizer, mix: Mix, seq_len: int, seed: int, complaints: bool = False):
    """Packed LM blocks (tensor [n, seq_len]), task rows per kind (``note``, ``note_val``, ``complaint``,
    ``complaint_val``: (prompt ids, completion ids, copied flags); the complaint rows only if ``complaints``) and
    per-source token counts."""
    import torch

    from medsyn_hf.priors.from_notes import TEMPLATE as COMPLAINTS_TEMPLATE
    from medsyn_hf.prompts import TEMPLATES

    eos = tokenizer.eos_token_id
    stream, counts = [], {}
    for name, items in mix.texts.items():
        strings = [
            _chat_text(tokenizer, ex["prompt"] + ex["completion"]) if isinstance(ex, dict) else ex for ex in items
        ]
        ids = tokenizer(strings, add_special_tokens=False)["input_ids"] if strings else []
        counts[name] = {"rows": len(strings), "tokens": sum(map(len, ids))}
        stream.extend(ids)
    random.Random(seed).shuffle(stream)
    flat = [t for ids in stream for t in (*ids, eos)]
    n = len(flat) // seq_len
    blocks = torch.tensor(flat[: n * seq_len], dtype=torch.long).view(n, seq_len)

    def rows(examples, fixed: set[int]):
        chats = [
            tokenizer.apply_chat_template(ex["prompt"], add_generation_prompt=True, tokenize=False) for ex in examples
        ]
        prompts = tokenizer(chats, add_special_tokens=False)["input_ids"] if chats else []
        notes = tokenizer([ex["completion"][-1]["content"] for ex in examples], add_special_tokens=False)["input_ids"]
        out = []
        for ex, p, c in zip(examples, prompts, notes):
            c = (c + [eos])[: max(0, seq_len - len(p))]
            own = set(p) - fixed  # the prompt's own words: its symptoms, patient, diagnosis
            if ex.get("style_examples"):  # real notes shown for their style: not words to repeat
                own -= {
                    i for ids in tokenizer(ex["style_examples"], add_special_tokens=False)["input_ids"] for i in ids
                }
            if c:  # a prompt filling the whole window teaches nothing
                out.append((p, c, [t in own for t in c]))
        return out

    note_fixed = template_tokens(tokenizer, [n for n in TEMPLATES if n != COMPLAINTS_TEMPLATE])
    complaint_fixed = template_tokens(tokenizer, [COMPLAINTS_TEMPLATE])
    encoded = {
        "note": rows(mix.notes, note_fixed),
        "note_val": rows(mix.held, note_fixed),
        # sorted by length: a complaint batch is a run of neighbours (little padding), the validation too
        "complaint": sorted(rows(mix.complaints, complaint_fixed), key=_length) if complaints else [],
        "complaint_val": sorted(rows(mix.complaints_held, complaint_fixed), key=_length) if complaints else [],
    }
    for task, kind in ((NOTE_TASK, "note"), (COMPLAINT_TASK, "complaint")):
        train = encoded[kind]
        if kind == "complaint" and not complaints:
            continue
        counts[task] = {
            "rows": len(train),
            "tokens": sum(len(p) + len(c) for p, c, _ in train),
            "held_out_rows": len(encoded[kind + "_val"]),
            "copied_token_share": round(
                sum(map(sum, (w for _, _, w in train))) / max(1, sum(len(c) for _, c, _ in train)), 4
            ),
        }
    return blocks, encoded, counts


def _length(row: tuple) -> int:
    return len(row[0]) + len(row[1])


def template_tokens(tokenizer, names) -> set[int]:
    """Token ids of the named prompt templates' fixed text (system, user and style-block wording): what every
    prompt of them says."""
    from medsyn_hf.prompts import TEMPLATES

    chosen = [TEMPLATES[n] for n in names]
    texts = [t.system for t in chosen] + [lit for t in chosen for lit, _ in t.parts if lit]
    texts += [part for t in chosen for part in t.style if part]
    chat = tokenizer.apply_chat_template([{"role": "user", "content": ""}], add_generation_prompt=True, tokenize=False)
    return {i for ids in tokenizer([*texts, chat], add_special_tokens=False)["input_ids"] for i in ids}


def task_batch(rows: list, pad: int, copy_weight: float = 1.0):
    """Right-padded input ids, attention mask, labels (-100 on the prompt and the padding) and per-token loss
    weights (``copy_weight`` on note tokens that are the prompt's own words, 1 elsewhere on the note)."""
    import torch

    width = max(len(p) + len(c) for p, c, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    weights = torch.zeros((len(rows), width))
    for i, (p, c, copied) in enumerate(rows):
        seq = p + c
        ids[i, : len(seq)] = torch.tensor(seq)
        labels[i, len(p) : len(seq)] = torch.tensor(c)
        mask[i, : len(seq)] = 1
        weights[i, len(p) : len(seq)] = 1 + (copy_weight - 1) * torch.tensor(copied, dtype=torch.float)
    return ids, mask, labels, weights


# -- model and loop -------------------------------------------------------------------------------------------------
def writer_model(tokenizer, seed: int):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    ids = dict(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), **WRITER_SHAPE, **ids))
    model.generation_config = GenerationConfig(**ids)
    return model


def lr_at(step: int, cfg: PretrainConfig) -> float:
    """Linear warm-up, then cosine to a tenth of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _loss(model, ids, mask, labels, bf16: bool, weights=None):
    """Mean next-token loss over the labelled tokens, weighted per token when ``weights`` is given."""
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        if weights is None:
            return model(input_ids=ids, attention_mask=mask, labels=labels).loss
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    target, w = labels[:, 1:], weights[:, 1:]
    per_token = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2), target, ignore_index=IGNORE, reduction="none"
    )
    return (per_token * w).sum() / w.sum()


def val_loss(model, val: list, pad: int, bf16: bool, batch: int = 16) -> float:
    import torch

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(val), batch):
            rows = val[i : i + batch]
            tokens = sum(len(c) for _, c, _ in rows)
            total += _loss(model, *task_batch(rows, pad)[:3], bf16).item() * tokens
            n += tokens
    model.train()
    return total / max(1, n)


def save(model, tokenizer, folder: Path, card: str, curve: list[dict]) -> None:
    import torch

    tokenizer.save_pretrained(folder)
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    model.to(torch.float32)
    (folder / "README.md").write_text(card, encoding="utf-8")
    (folder / "loss_curve.json").write_text(json.dumps(curve, indent=1) + "\n", encoding="utf-8")
    _plot(curve, folder / "loss_curve.png")


def _plot(curve: list[dict], path: Path) -> None:
    """A small PNG of the losses when matplotlib is installed (it is optional: the card carries the table)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    for key, label in (
        ("lm_loss", "LM blocks"),
        ("task_loss", "note writing"),
        ("val_loss", "held-out notes"),
        ("complaint_loss", "complaint writing"),
        ("complaint_val_loss", "held-out complaints"),
    ):
        points = [(r["step"], r[key]) for r in curve if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def train(tokenizer, blocks, rows: dict, cfg: PretrainConfig, on_checkpoint=None, log=print):
    """The seeded loop over ``encode_mix``'s blocks and task rows; returns (model, loss curve, tokens/s).
    ``on_checkpoint(model, curve, tps)`` every ``save_every`` steps."""
    import torch

    torch.set_num_threads(cfg.threads)
    if cfg.init:
        from transformers import AutoModelForCausalLM

        torch.manual_seed(cfg.seed)
        model = AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
    else:
        model = writer_model(tokenizer, cfg.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
    rng = random.Random(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    pad = tokenizer.pad_token_id
    task, val, complaints = rows["note"], rows["note_val"], rows["complaint"]
    complaint_share = cfg.complaint_share if complaints else 0.0
    windows = ("lm", "task", "complaint")
    curve, window = [], {k: [] for k in windows}
    tokens, start = 0, time.perf_counter()
    for step in range(cfg.stop_after or cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        kind = "task" if ((task or complaints) and rng.random() < cfg.task_share) or not len(blocks) else "lm"
        if kind == "task" and complaint_share and (not task or rng.random() < complaint_share):
            kind = "complaint"  # (no draw at all without complaint batches: earlier stages' runs stay the same)
        weights = None
        if kind == "complaint":  # a run of neighbours in length order: complaints vary 10x, so padding would not
            first = rng.randrange(1 - cfg.batch_size, len(complaints))  # (each row in as many runs as any other)
            run = complaints[max(0, first) : first + cfg.batch_size]
            ids, mask, labels, weights = task_batch(run, pad, cfg.copy_weight)
        elif kind == "task":
            ids, mask, labels, weights = task_batch(
                rng.sample(task, min(cfg.batch_size, len(task))), pad, cfg.copy_weight
            )
        else:
            ids = blocks[torch.randint(len(blocks), (cfg.batch_size,), generator=gen)]
            mask, labels = torch.ones_like(ids), ids
        loss = _loss(model, ids, mask, labels, cfg.bf16, weights if cfg.copy_weight != 1 else None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
        window[kind].append(loss.item())
        last = step + 1 == (cfg.stop_after or cfg.steps)
        if (step + 1) % cfg.log_every == 0 or last:
            tps = tokens / (time.perf_counter() - start)
            row = {
                "step": step + 1,
                "lr": round(lr_at(step, cfg), 6),
                "lm_loss": round(sum(window["lm"]) / len(window["lm"]), 4) if window["lm"] else None,
                "task_loss": round(sum(window["task"]) / len(window["task"]), 4) if window["task"] else None,
                "val_loss": round(val_loss(model, val, pad, cfg.bf16), 4) if val else None,
                "tokens": tokens,
                "tokens_per_s": round(tps),
            }
            if complaint_share or rows["complaint_val"]:
                mean = window["complaint"] and round(sum(window["complaint"]) / len(window["complaint"]), 4)
                row["complaint_loss"] = mean or None
                row["complaint_val_loss"] = (
                    round(val_loss(model, rows["complaint_val"], pad, cfg.bf16), 4) if rows["complaint_val"] else None
                )
            curve.append(row)
            window = {k: [] for k in windows}
            log(json.dumps(row))
        if on_checkpoint and (step + 1) % cfg.save_every == 0 and not last:
            on_checkpoint(model, curve, tokens / (time.perf_counter() - start))
    return model, curve, tokens / (time.perf_counter() - start)


# -- card -----------------------------------------------------------------------------------------------------------
def render_card(
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


def pretrain(out, sources, cfg: PretrainConfig, *, overwrite: bool = False, checkpoint_dir=None, log=print) -> Path:
    """Tokenizer + pretraining + card into ``out`` (atomically); partial models into ``checkpoint_dir`` meanwhile."""
    from medsyn_hf.io import check_output, safe_output
    from medsyn_hf.tiny_model import COMMAND, corpus, train_tokenizer

    cfg.check()
    sources = Path(sources)
    # --init is read, never replaced: neither output may be it (even though this command wrote it)
    output = dict(command=COMMAND, inputs=[sources, *([cfg.init] if cfg.init else [])], overwrite=overwrite)
    check_output(out, **output)
    if checkpoint_dir:
        check_output(checkpoint_dir, **{**output, "inputs": [*output["inputs"], out]})
    command = card_command(out, sources, cfg)
    try:
        if cfg.init:  # a second stage keeps the first one's vocabulary
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(cfg.init)
            cfg.vocab_size = len(tokenizer)
        else:
            tokenizer = train_tokenizer(islice(corpus(sources), cfg.limit), cfg.vocab_size)
        mix = load_mix(sources, cfg.limit, cfg.seed, cfg.val_rows, cfg.complaints_line, cfg.complaint_val_rows)
    except (OSError, EOFError, UnicodeDecodeError, ValueError, KeyError) as err:
        raise MedsynError(
            f"{sources}: unreadable tiny-model sources ({type(err).__name__}: {first_line(err)})"
        ) from None
    complaints = cfg.complaint_share > 0 or cfg.complaint_val_rows > 0
    blocks, rows, counts = encode_mix(tokenizer, mix, cfg.seq_len, cfg.seed, complaints)
    log(json.dumps({"lm_blocks": len(blocks), "mix": counts}))

    # this run's stage: one more than the cards the init keeps of its own earlier stages (each stage keeps them all)
    stage = len(list(Path(cfg.init).glob("README_stage*.md"))) + 2 if cfg.init else 1

    def card(model, curve, tps, final):
        n_params = sum(p.numel() for p in model.parameters())
        return render_card(cfg, counts, mix.report, curve, tps, command, n_params, final, stage)

    def checkpoint(model, curve, tps):
        with safe_output(checkpoint_dir, **{**output, "overwrite": True}) as tmp:
            save(model, tokenizer, Path(tmp), card(model, curve, tps, False), curve)

    model, curve, tps = train(tokenizer, blocks, rows, cfg, checkpoint if checkpoint_dir else None, log)
    with safe_output(out, **output) as tmp:
        save(model, tokenizer, Path(tmp), card(model, curve, tps, True), curve)
        if cfg.init:  # the earlier stages' cards and curves: the init's own, then its own stage's as the next
            init = Path(cfg.init)
            earlier = sorted(init.glob("README_stage*.md")) + sorted(init.glob("loss_curve_stage*.json"))
            for path in earlier:
                (Path(tmp) / path.name).write_bytes(path.read_bytes())
            for name, kept in (
                ("README.md", f"README_stage{stage - 1}.md"),
                ("loss_curve.json", f"loss_curve_stage{stage - 1}.json"),
            ):
                if (init / name).is_file():
                    (Path(tmp) / kept).write_bytes((init / name).read_bytes())
    return Path(out)
