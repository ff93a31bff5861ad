"""``apply_filters``: run the registered filters over notes, in registry order, and mark each note ``keep`` or not.

Stages: every ``NoteTransform`` rewrites the text, every ``NoteFilter`` scores it (one batched ``datasets.map``), then
every ``SetFilter`` sees the notes that passed so far. Nothing is removed: ``keep`` and ``filter_reason`` say what the
filters decided.
"""

from __future__ import annotations

from dataclasses import replace

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters.base import NoteFilter, Notes, NoteTransform, Reference, SetFilter
from medsyn_hf.filters.registry import REGISTRY, FilterConfig, filter_columns, verdict_columns
from medsyn_hf.schemas import column_for


def _notes(texts: list[str], columns, symptoms_column: str, example_column: str | None) -> Notes:
    examples = columns[example_column] if example_column else [None] * len(texts)
    return Notes(texts, [s or [] for s in columns[symptoms_column]], list(examples), columns)


def _score_batch(
    batch: dict, config: FilterConfig, text_column: str, symptoms_column: str, example_column: str | None
) -> dict:
    """Transforms, then every NoteFilter's scores and the reasons each note fails (``failed``)."""
    texts = [text or "" for text in batch[text_column]]
    scores: dict[str, list] = {}
    for f in REGISTRY.values():
        if isinstance(f, NoteTransform):
            texts, columns = f.transform(_notes(texts, batch, symptoms_column, example_column), config)
            scores.update(columns)
    notes = _notes(texts, batch, symptoms_column, example_column)
    note_filters = [f for f in REGISTRY.values() if isinstance(f, NoteFilter)]
    for f in note_filters:
        scores.update(f.score(notes, config))
    failed = []
    for i in range(len(texts)):
        note = {**{k: v[i] for k, v in batch.items()}, **{k: v[i] for k, v in scores.items()}}
        failed.append([reason for f in note_filters for reason in f.reject(note, config)])
    return {text_column: texts, **scores, "failed": failed}


def note_scores(
    note: str, symptoms: list[str] | None, example: str | None, config: FilterConfig | None = None
) -> dict:
    """Every ``NoteFilter`` measure of one note (its text as given, not scrubbed)."""
    config = config or FilterConfig()
    notes = Notes([note], [symptoms or []], [example], {})
    return {k: v[0] for f in REGISTRY.values() if isinstance(f, NoteFilter) for k, v in f.score(notes, config).items()}


def apply_filters(
    data,
    config: FilterConfig | None = None,
    *,
    text_column: str = "response",
    symptoms_column: str = "symptoms",
    example_column: str | None = "example",
    code_column: str | None = None,
    reference: Reference | None = None,
    num_proc: int | None = None,
):
    """Score, scrub and mark notes: a ``datasets.Dataset`` (or list of dicts) with the FILTER_FEATURES columns added.

    The text column is replaced by its transformed (PII-scrubbed) version. ``SetFilter``s (near duplicates) see only
    the notes that pass every other filter, so a failing note never knocks out its good near-twin. Nothing is removed:
    ``data.filter(lambda r: r["keep"])`` does that, and ``filter_reason`` says why a note was dropped.

    ``reference`` (the real notes, and a plan's need per code) turns on the selection filters; ``code_column`` is the
    notes' ICD-10 column they compare (default: the schema's, ``schemas.column_for``).
    """
    import datasets

    config = config or FilterConfig()
    records = not isinstance(data, datasets.Dataset)
    dataset = datasets.Dataset.from_list(list(data)) if records else data
    added = {**filter_columns(), **verdict_columns()}
    dataset = dataset.remove_columns([c for c in added if c in dataset.column_names])  # re-filtering
    if len(dataset) == 0:
        raise MedsynError("apply_filters: no notes to filter")
    missing = [c for c in (text_column, symptoms_column) if c not in dataset.column_names]
    if missing:
        have = ", ".join(dataset.column_names)
        raise MedsynError(f"apply_filters: column(s) {', '.join(missing)} not found (have {have})")
    for f in REGISTRY.values():
        f.check_inputs(dataset.column_names, config)
    example_column = example_column if example_column in dataset.column_names else None
    batched = {
        c: feature for f in REGISTRY.values() if not isinstance(f, SetFilter) for c, (feature, _) in f.columns.items()
    }
    scored = dataset.map(
        _score_batch,
        batched=True,
        fn_kwargs={
            "config": config,
            "text_column": text_column,
            "symptoms_column": symptoms_column,
            "example_column": example_column,
        },
        features=datasets.Features({**dataset.features, **batched, "failed": [datasets.Value("string")]}),
        num_proc=num_proc,
        desc="Scoring notes",
    )
    failed = list(scored["failed"])
    scored = scored.remove_columns("failed")
    set_filters = [f for f in REGISTRY.values() if isinstance(f, SetFilter)]
    code_column = code_column or column_for(scored.features, "code")
    if code_column is not None and code_column not in scored.column_names:
        raise MedsynError(
            f"apply_filters: code column {code_column!r} not found (have {', '.join(scored.column_names)})"
        )
    codes = list(scored[code_column]) if code_column and set_filters else None
    notes = _notes(list(scored[text_column]), scored, symptoms_column, example_column) if set_filters else None
    for f in set_filters:
        passing = [not reasons for reasons in failed]
        notes = replace(notes, columns=scored, reference=reference, codes=codes)  # with the columns added so far
        columns = f.score(notes, passing, config)
        for i in (i for i, ok in enumerate(passing) if ok):
            failed[i].extend(f.reject({k: v[i] for k, v in columns.items()}, config))
        for name, values in columns.items():
            scored = scored.add_column(name, values, feature=f.columns[name][0])
    verdict = {"keep": [not reasons for reasons in failed], "filter_reason": [",".join(r) for r in failed]}
    for name, values in verdict.items():
        scored = scored.add_column(name, values, feature=added[name][0])
    return scored.to_list() if records else scored
