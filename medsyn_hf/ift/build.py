"""Build the instruction dataset: generate every task, remove duplicates and evaluation overlap, optionally hold
out whole ICD-10 categories, and write a Hub-layout folder with its card (one config per task plus ``all``)."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from itertools import islice
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.ift import tasks as T
from medsyn_hf.ift.decontaminate import NGRAM, build_index, contaminated, read_eval_texts
from medsyn_hf.priors.style import style_pool

DEFAULT_SOURCES = Path("data/sources")
WIKI = "medsyn_kg/wiki_disease_ru.csv"
UNION_CONFIG = "all"
COMMAND = "medsyn ift build"
CARD_TEMPLATE = "ift"
MIN_EXAMPLES = 40_000  # the bar for a full build; reported in the card, not enforced


def load_sources(sources: str | os.PathLike) -> dict:
    """GPT notes (usable ones), RuMedTop3 *train* complaints and the Wikipedia paragraphs; dev is never read here."""
    from medsyn_hf.kg.sources import GPT_NOTES, RUMEDTOP3_TRAIN, csv_rows, jsonl_records, read_rumedtop3_train

    sources = Path(sources)
    notes = [
        {**r, "key": hashlib.sha1(r["response"].encode()).hexdigest()[:16]}
        for r in jsonl_records(sources / GPT_NOTES, {"icd10": str, "symptoms": list, "response": str})
    ]
    wiki = [
        {"name": row["Index"], "code": row["МКБ_10"], "text": row["Симптомы"]}
        for _, row in csv_rows(sources / WIKI, ["Index", "Симптомы", "МКБ_10"])
    ]
    usable = [n for n in notes if T.usable_note(n)]
    return {
        "notes": usable,
        "unusable_notes": len(notes) - len(usable),
        "complaints": read_rumedtop3_train(sources / RUMEDTOP3_TRAIN),
        "wiki": wiki,
    }


def generate(data: dict, kg, seed: int, limit: int | None = None, index=None) -> dict[str, list[dict]]:
    """Raw examples per task, in source order (``limit``: at most that many per task, for quick builds). With a
    decontamination ``index``, complaints overlapping the evaluation data are never shown as style exemplars (the
    prompt showing one would be dropped whole)."""
    shown = [c for c in data["complaints"] if not (index and contaminated(c["text"], index))]
    generators = {
        "note_writing": T.note_writing(data["notes"], kg, seed),
        "complaint_to_icd": T.complaint_to_icd(data["complaints"], kg, seed),
        "code_to_symptoms": T.code_to_symptoms(kg, seed),
        "symptoms_to_diagnosis": T.symptoms_to_diagnosis(kg, seed),
        "disease_description": T.disease_description(data["wiki"], kg, seed),
        "note_continuation": T.note_continuation(data["notes"], kg, seed),
        "complaint_writing": T.complaint_writing(
            data["complaints"], kg, seed, style_pool([c["code"] for c in shown], [c["text"] for c in shown])
        ),
    }
    return {task: list(islice(generators[task], limit)) for task in T.TASKS}


def drop_exact_duplicates(examples: list[dict]) -> list[dict]:
    """Same user message and answer, ignoring case and punctuation."""
    from medsyn_hf.normalize import words

    seen, kept = set(), []
    for ex in examples:
        key = (" ".join(words(ex["prompt"][-1]["content"])), " ".join(words(ex["completion"][-1]["content"])))
        if key not in seen:
            seen.add(key)
            kept.append(ex)
    return kept


def drop_near_duplicates(by_task: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Near-duplicate source texts (``doc``) are dropped with every example made from them, in whichever task (a
    note feeds both note tasks, so it is judged once)."""
    from medsyn_hf.filters import deduplicate

    docs = list(dict.fromkeys(ex["doc"] for examples in by_task.values() for ex in examples))
    keep = dict(zip(docs, deduplicate(docs)))
    return {task: [ex for ex in examples if keep[ex["doc"]]] for task, examples in by_task.items()}


def example_text(ex: dict) -> str:
    return "\n".join(m["content"] for m in (*ex["prompt"], *ex["completion"]))


def choose_holdout(examples: list[dict], categories=(), fraction: float = 0.0, seed: int = 0) -> list[str]:
    """Whole 3-character categories for validation: the given ones, or a seeded draw of categories adding up to at
    most ``fraction`` of the examples."""
    sizes: dict[str, int] = {}
    for ex in examples:
        if ex["icd10"]:
            sizes[ex["icd10"][:3]] = sizes.get(ex["icd10"][:3], 0) + 1
    if categories:
        unknown = sorted(set(categories) - set(sizes))
        if unknown:
            raise MedsynError(f"hold-out categories {', '.join(unknown)} have no examples")
        return sorted(set(categories))
    if not 0 <= fraction < 1:
        raise MedsynError(f"hold-out fraction must be in [0, 1), got {fraction}")
    budget, chosen = fraction * len(examples), []
    for cat in sorted(sizes, key=lambda c: hashlib.sha256(f"{seed}|{c}".encode()).hexdigest()):
        if sizes[cat] <= budget:
            chosen.append(cat)
            budget -= sizes[cat]
    return sorted(chosen)


def _row(ex: dict) -> dict:
    payload = json.dumps([ex["task"], ex["prompt"], ex["completion"]], ensure_ascii=False, sort_keys=True)
    return {
        "id": hashlib.sha1(payload.encode()).hexdigest()[:16],
        "task": ex["task"],
        "prompt": ex["prompt"],
        "completion": ex["completion"],
        "source": ex["source"],
        "icd10": ex["icd10"],
    }


def _length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {"mean": 0, "median": 0, "p95": 0, "max": 0}
    ordered = sorted(lengths)
    return {
        "mean": round(statistics.fmean(ordered), 1),
        "median": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
    }


def token_counter(tokenizer: str | None):
    """Count tokens with a local tokenizer (a folder), or whitespace-separated words without one."""
    if tokenizer is None:
        return "words", lambda texts: [len(t.split()) for t in texts]
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(tokenizer)
    except (OSError, ValueError) as err:
        raise MedsynError(f"{tokenizer}: cannot load tokenizer ({str(err).splitlines()[0]})") from None
    return f"tokens ({Path(tokenizer).name})", lambda texts: [
        len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]
    ]


def clean_examples(data: dict, decontaminate=(), seed: int = 0, limit: int | None = None, ngram: int = NGRAM):
    """Every task's examples from ``load_sources`` data without duplicates and evaluation overlap, in memory, with
    the per-task removal counts (``build_ift`` writes them; ``medsyn tiny-model --pretrain`` trains on them)."""
    from medsyn_hf.kg import load_graph

    index = build_index((t for p in decontaminate for t in read_eval_texts(p)), ngram) if decontaminate else None
    raw = generate(data, load_graph(), seed, limit, index)
    exact = {task: drop_exact_duplicates(examples) for task, examples in raw.items()}
    near = drop_near_duplicates(exact)
    kept = {
        task: [ex for ex in examples if not contaminated(example_text(ex), index)] if index else examples
        for task, examples in near.items()
    }
    report = {
        task: {
            "generated": len(raw[task]),
            "exact_duplicates": len(raw[task]) - len(exact[task]),
            "near_duplicates": len(exact[task]) - len(near[task]),
            "contaminated": len(near[task]) - len(kept[task]),
        }
        for task in T.TASKS
    }
    return kept, report


def build_ift(
    out: str | os.PathLike,
    sources: str | os.PathLike = DEFAULT_SOURCES,
    *,
    decontaminate=(),
    seed: int = 0,
    holdout_categories=(),
    holdout_fraction: float = 0.0,
    limit: int | None = None,
    tokenizer: str | None = None,
    ngram: int = NGRAM,
    repo_id: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Build the dataset folder at ``out``; return the report (per-task counts, removals, hold-out, timing).

    ``out`` is checked before any work (``medsyn_hf.io.check_output``): never the sources, the evaluation files or
    the tokenizer, and an existing folder only if an earlier ``medsyn ift build`` wrote it (or ``overwrite``)."""
    from datasets import Dataset

    from medsyn_hf.card import render_card, size_category
    from medsyn_hf.hub import write_folder
    from medsyn_hf.io import check_output
    from medsyn_hf.schemas import IFT_COLUMNS_DOC, IFT_FEATURES

    inputs = [sources, *decontaminate, *([tokenizer] if tokenizer else [])]
    check_output(out, command=COMMAND, inputs=inputs, overwrite=overwrite)
    start = time.perf_counter()
    data = load_sources(sources)
    kept, report = clean_examples(data, decontaminate, seed, limit, ngram)
    held = set(choose_holdout([ex for exs in kept.values() for ex in exs], holdout_categories, holdout_fraction, seed))
    unit, count = token_counter(tokenizer)
    configs, lengths = {}, {}
    for task, examples in kept.items():
        splits = {
            "train": [ex for ex in examples if ex["icd10"][:3] not in held],
            "validation": [ex for ex in examples if ex["icd10"][:3] in held],
        }
        configs[task] = {
            name: Dataset.from_list([_row(ex) for ex in rows], features=IFT_FEATURES)
            for name, rows in splits.items()
            if rows
        }  # load_dataset cannot read an empty split
        report[task].update({name: len(rows) for name, rows in splits.items()})
        lengths[task] = {
            "prompt": _length_stats(count(["\n".join(m["content"] for m in ex["prompt"]) for ex in examples])),
            "completion": _length_stats(count([ex["completion"][-1]["content"] for ex in examples])),
        }
    total = sum(len(exs) for exs in kept.values())
    holdout_total = sum(r.get("validation", 0) for r in report.values())
    card = render_card(
        CARD_TEMPLATE,
        {
            "license": "cc-by-sa-4.0",
            "language": ["ru"],
            "multilinguality": "monolingual",
            "task_categories": ["text-generation", "question-answering", "text-classification"],
            "size_categories": [size_category(total)],
            "pretty_name": "MedSyn-HF Russian medical instructions",
            "annotations_creators": ["machine-generated", "found"],
            "language_creators": ["found", "machine-generated"],
            "source_datasets": ["original", *(f"extended|{name}" for name in T.SOURCES)],
            "tags": ["medical", "clinical-notes", "icd-10", "instruction-tuning", "sft", "russian"],
        },
        tasks=T.TASKS,
        report=report,
        lengths=lengths,
        length_unit=unit,
        total=total,
        sources=T.SOURCES,
        columns=IFT_COLUMNS_DOC,
        seed=seed,
        ngram=ngram,
        holdout=sorted(held),
        holdout_total=holdout_total,
        repo_id=repo_id or Path(out).name,
        decontaminated_against=[Path(p).name for p in decontaminate],
        union_config=UNION_CONFIG,
        unusable_notes=data["unusable_notes"],
        limit=limit,
        min_examples=MIN_EXAMPLES,
    )
    write_folder(
        out,
        configs,
        card,
        union_config=UNION_CONFIG,
        default_config=UNION_CONFIG,
        command=COMMAND,
        inputs=inputs,
        overwrite=overwrite,
    )
    return {
        "out": str(out),
        "examples": total,
        "tasks": report,
        "validation_categories": sorted(held),
        "decontaminated_against": [str(p) for p in decontaminate],
        "unusable_notes": data["unusable_notes"],
        "seconds": round(time.perf_counter() - start, 1),
    }
