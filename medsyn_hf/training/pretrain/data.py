"""The data mix of a pretraining run (``load_mix``) and its encoding for the loop (``encode_mix``): LM texts per
source, note-writing and complaint-writing rows, and the held-out rows of the validation losses. No RuMedTop3 dev text:
dev is read only to drop overlapping instruction examples."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from medsyn_hf.ift.build import WIKI, clean_examples, load_sources
from medsyn_hf.ift.tasks import complaint_writing
from medsyn_hf.kg import load_graph
from medsyn_hf.kg.sources import csv_rows, jsonl_records, read_icd_tree
from medsyn_hf.priors.from_notes import TEMPLATE as COMPLAINTS_TEMPLATE
from medsyn_hf.priors.style import style_pool
from medsyn_hf.prompts import TEMPLATES
from medsyn_hf.tiny_model import COMPLAINTS, NOTES
from medsyn_hf.training.complaint_split import split_complaints

DEV = Path("rumedtop3") / "dev_v1.jsonl"
ICD_NAMES = Path("icd10_ru") / "mkb10_nsi_v2.27.csv"
NOTE_TASK = "note_writing"
COMPLAINT_TASK = "complaint_writing"


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
    import torch  # torch: only when a run encodes its data, not for `medsyn tiny-model` without --pretrain

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
    chosen = [TEMPLATES[n] for n in names]
    texts = [t.system for t in chosen] + [lit for t in chosen for lit, _ in t.parts if lit]
    texts += [part for t in chosen for part in t.style if part]
    chat = tokenizer.apply_chat_template([{"role": "user", "content": ""}], add_generation_prompt=True, tokenize=False)
    return {i for ids in tokenizer([*texts, chat], add_special_tokens=False)["input_ids"] for i in ids}
