"""A run's notes: its shards joined with their priors, scored by `medsyn_hf.filters`, in MedSyn-synthetic's columns
plus ours (NOTES_FEATURES). Written to ``<run>/notes.parquet`` for `medsyn publish`.

MedSyn scored ``symptoms_recall`` and ``anamnesis_precision`` with BERTScore (recall of the note against the symptom
list, precision against the example note, ``scripts/filtering``). No BERT model can be downloaded here, so both are
lexical: ``symptoms_recall`` is the filters' lemma-based symptom recall, ``anamnesis_precision`` the share of the
note's distinct lemmas that also occur in the example note (null without an example).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from pathlib import Path

from medsyn_hf import schemas
from medsyn_hf.errors import MedsynError
from medsyn_hf.filters import FilterConfig, apply_filters
from medsyn_hf.io import atomic_path
from medsyn_hf.normalize import note_lemmas
from medsyn_hf.prompts import get_template

# Template field -> the kind of prior it puts into the prompt (MedSyn's `prior` column: "type of prior data").
_PRIOR_KINDS = (
    ("symptoms", "symptoms"),
    ("patient", "patient"),
    ("code_name_ru", "diagnosis"),
    ("example", "example"),
)


def anamnesis_precision(note: str, example: str | None) -> float | None:
    if not example:
        return None
    mine = note_lemmas(note)
    return len(mine & note_lemmas(example)) / len(mine) if mine else 0.0


def prior_kind(template: str) -> str:
    used = get_template(template).fields
    return "+".join(kind for field, kind in _PRIOR_KINDS if field in used)


def filter_config(thresholds: dict | None):
    allowed = sorted(f.name for f in fields(FilterConfig))
    unknown = sorted(set(thresholds or {}) - set(allowed))
    if unknown:
        raise MedsynError(f"unknown filter threshold(s) {unknown}; allowed: {allowed}")
    return FilterConfig(**(thresholds or {}))


def read_shards(run_dir: Path, n: int):
    """All shard rows sorted by idx; every prior must have exactly one note."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p) for p in sorted((run_dir / "shards").glob("shard-*.parquet"))]
    if not tables:
        raise MedsynError(f"{run_dir}: no shards yet (run `medsyn generate` first)")
    table = pa.concat_tables(tables)
    table = table.sort_by("idx")
    if table["idx"].to_pylist() != list(range(n)):
        raise MedsynError(
            f"{run_dir}: shards hold {table.num_rows} notes for {n} priors; rerun generation to finish it"
        )
    return table


def build_notes(run_dir: str | Path, priors, generation_model: str, thresholds: dict | None = None, reference=None):
    """Join, score and write ``notes.parquet`` (replaced atomically); returns the notes as a Dataset. ``reference``
    (``filters.Reference``: the real notes and a plan's need) turns on the selection filters."""
    run_dir = Path(run_dir)
    shards = read_shards(run_dir, len(priors))
    joined = priors.rename_column("seed", "prior_seed")
    for name in shards.column_names:  # idx, seed, prompt_tokens, completion_tokens, finish_reason, response
        joined = joined.add_column(name, shards[name].to_pylist())
    scored = apply_filters(
        joined,
        filter_config(thresholds),
        text_column="response",
        symptoms_column="symptoms",
        example_column="example",
        code_column="code",
        reference=reference,
    )
    kinds = {t: prior_kind(t) for t in set(scored["template"])}

    def to_notes(batch):
        return {
            "ICD-10": batch["code"],
            "generation_model": [generation_model] * len(batch["code"]),
            "prior": [kinds[t] for t in batch["template"]],
            "prompt": [m[-1]["content"] for m in batch["messages"]],
            "anamnesis": batch["example"],
            "example": [e is not None for e in batch["example"]],
            "symptoms_recall": batch["symptom_recall"],
            "anamnesis_precision": [anamnesis_precision(r, e) for r, e in zip(batch["response"], batch["example"])],
        }

    notes = scored.map(to_notes, batched=True, remove_columns=["code", "example", "symptom_recall"], desc="Notes")
    features = schemas.NOTES_FEATURES  # read now: a filter registered after import adds its columns
    notes = notes.select_columns(list(features)).cast(features)
    with atomic_path(run_dir / "notes.parquet") as tmp:
        notes.to_parquet(str(tmp))
    return notes


def plan_kept(plan, notes) -> dict:
    """The plan against what the run kept: per code of the plan its real notes, need (K − n), planned priors,
    generated and kept notes; in total the need, the kept notes that count towards it (at most the need per code)
    and the planned codes left short of their need."""
    generated = Counter(notes["ICD-10"])
    kept = Counter(code for code, keep in zip(notes["ICD-10"], notes["keep"]) if keep)
    rows = [{**row, "generated": generated[row["code"]], "kept": kept[row["code"]]} for row in plan.codes]
    planned = [row for row in rows if row["status"] == "planned"]
    return {
        "fill_to": plan.fill_to,
        "fill_over": plan.fill_over,
        "need": sum(row["need"] for row in planned),
        "kept_towards_need": sum(min(row["kept"], row["need"]) for row in planned),
        "short_codes": sum(row["kept"] < row["need"] for row in planned),
        "codes": rows,
    }


def load_notes(run_dir: str | Path):
    """``notes.parquet`` of a finished run, as a Dataset with NOTES_FEATURES."""
    import datasets

    path = Path(run_dir) / "notes.parquet"
    if not path.is_file():
        raise MedsynError(f"{run_dir}: no notes.parquet (not a finished `medsyn generate` run folder)")
    try:  # the footer first: a truncated file or other columns fail here, before datasets logs anything
        import pyarrow.parquet as pq

        meta = pq.read_metadata(path)
    except Exception as err:  # pyarrow raises OSError or ArrowInvalid, depending on the damage
        raise MedsynError(
            f"{path}: not a readable parquet file ({type(err).__name__}); rerun `medsyn generate` to rebuild it"
        ) from None
    features = schemas.NOTES_FEATURES  # read now: a filter registered after import adds its columns
    missing = sorted(set(features) - set(meta.schema.to_arrow_schema().names))
    if missing:
        raise MedsynError(
            f"{path}: not the notes schema (missing {', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}); rerun `medsyn generate` to rebuild it"
        )
    if not meta.num_rows:
        raise MedsynError(f"{path}: no notes; rerun `medsyn generate`")
    return datasets.Dataset.from_parquet(str(path), features=features)
