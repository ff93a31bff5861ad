"""Quality filters for generated notes: every measure becomes a column, then thresholds decide ``keep``.

``apply_filters`` is the one entry point (generation calls it); ``medsyn eval prompt-following`` reports symptom
recall and copy ratio with the same functions. Defaults were set on the 11,480 MedSyn GPT notes, see ``FilterConfig``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters.dedup import deduplicate
from medsyn_hf.filters.overlap import copy_ratio, copy_span
from medsyn_hf.filters.pii import find_pii, scrub_pii
from medsyn_hf.filters.recall import symptom_recall, symptoms_present
from medsyn_hf.kg.normalize import words

__all__ = [
    "FilterConfig", "apply_filters", "note_scores", "cyrillic_share", "symptom_recall", "symptoms_present",
    "copy_ratio", "copy_span", "deduplicate", "find_pii", "scrub_pii",
]

logger = logging.getLogger(__name__)
_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
# Values of `filter_reason` (comma-joined); the added columns' schema is FILTER_FEATURES in medsyn_hf/schemas.py.
REASONS = ("low_symptom_recall", "high_copy_ratio", "too_short", "too_long", "not_russian", "duplicate", "judge")


@dataclass
class FilterConfig:
    """Thresholds of ``apply_filters``. Fields carry ``help`` so TrlParser/HfArgumentParser can expose them as flags."""

    min_symptom_recall: float = field(default=0.5, metadata={
        "help": "Drop notes mentioning fewer than this share of their prompted symptoms (GPT notes: 5.9% below 0.5)."})
    symptom_match_share: float = field(default=1.0, metadata={
        "help": "Share of a symptom's content lemmas that must occur in the note for it to count as mentioned."})
    max_copy_ratio: float = field(default=0.5, metadata={
        "help": "Drop notes whose word n-grams come from the example note more than this share (a copy, not a note)."})
    copy_ngram: int = field(default=5, metadata={"help": "n of the word n-grams of copy_ratio."})
    min_words: int = field(default=50, metadata={"help": "Drop shorter notes (GPT notes: 0.5th percentile 99 words)."})
    max_words: int = field(default=1000, metadata={
        "help": "Drop longer notes, usually generation loops (GPT notes: longest 654 words)."})
    min_cyrillic_share: float = field(default=0.9, metadata={
        "help": "Drop notes with a smaller share of Cyrillic letters (GPT notes: 0.3% below, all written in English)."})
    dedup_threshold: float = field(default=0.8, metadata={
        "help": "Drop notes whose word 5-gram Jaccard similarity with an earlier kept note reaches this."})
    scrub_pii: bool = field(default=True, metadata={
        "help": "Replace personal data in the note text with placeholders."})
    min_judge_score: float | None = field(default=None, metadata={
        "help": "Drop notes whose LLM-judge `judge_score` (1-5, `medsyn eval judge`) is below this; a note the judge "
                "gave no valid answer for is kept. Off (None) by default; no effect on notes without judge columns."})

    def __post_init__(self):
        """Thresholds arrive from YAML (`filters: {...}`): typed and in range here, one line otherwise."""
        from medsyn_hf.validate import check_fields, check_range

        check_fields(self, "filters.")
        for name in ("min_symptom_recall", "symptom_match_share", "max_copy_ratio", "min_cyrillic_share",
                     "dedup_threshold"):
            check_range(f"filters.{name}", getattr(self, name), 0, 1)
        check_range("filters.copy_ngram", self.copy_ngram, 1, 100)
        check_range("filters.min_words", self.min_words, 0)
        check_range("filters.max_words", self.max_words, 1)
        from medsyn_hf.schemas import SCORE_RANGE

        check_range("filters.min_judge_score", self.min_judge_score, *SCORE_RANGE)


def cyrillic_share(text: str) -> float:
    """Share of letters that are Cyrillic (digits, punctuation and spaces do not count); 0.0 without letters."""
    letters = _LETTER.subn("", text)[1]
    return _CYRILLIC.subn("", text)[1] / letters if letters else 0.0


def note_scores(note: str, symptoms: list[str] | None, example: str | None, config: FilterConfig) -> dict:
    """Every per-note measure the filters threshold."""
    return {
        "symptom_recall": symptom_recall(note, symptoms or [], config.symptom_match_share),
        "copy_ratio": copy_ratio(note, example, config.copy_ngram),
        "copy_span": copy_span(note, example),
        "n_chars": len(note),
        "n_words": len(words(note)),
        "cyrillic_share": cyrillic_share(note),
    }


def _failed(scores: dict, config: FilterConfig) -> list[str]:
    checks = (
        scores["symptom_recall"] < config.min_symptom_recall,
        scores["copy_ratio"] > config.max_copy_ratio,
        scores["n_words"] < config.min_words,
        scores["n_words"] > config.max_words,
        scores["cyrillic_share"] < config.min_cyrillic_share,
    )
    return [reason for reason, failed in zip(REASONS, checks) if failed]


def judge_failed(scores, config: FilterConfig) -> list[bool]:
    """Per note: is its judge score (None: the judge gave no valid answer) below ``config.min_judge_score``?"""
    if config.min_judge_score is None:
        return [False] * len(scores)
    return [score is not None and score < config.min_judge_score for score in scores]


def _score_batch(batch: dict, config: FilterConfig, text_column: str, symptoms_column: str, example_column: str | None):
    n = len(batch[text_column])
    out = {text_column: [], "pii_found": [], "failed": []}
    for i in range(n):
        note = batch[text_column][i] or ""
        note, kinds = scrub_pii(note) if config.scrub_pii else (note, [])
        example = batch[example_column][i] if example_column else None
        scores = note_scores(note, batch[symptoms_column][i], example, config)
        for key, value in scores.items():
            out.setdefault(key, []).append(value)
        out[text_column].append(note)
        out["pii_found"].append(kinds)
        out["failed"].append(_failed(scores, config))
    return out


def apply_filters(
    data,
    config: FilterConfig | None = None,
    *,
    text_column: str = "response",
    symptoms_column: str = "symptoms",
    example_column: str | None = "example",
    num_proc: int | None = None,
):
    """Score, scrub and mark notes: a ``datasets.Dataset`` (or list of dicts) with the FILTER_FEATURES columns added.

    The text column is replaced by its scrubbed version (``config.scrub_pii``). ``is_duplicate`` is computed among the
    notes that pass every other filter, so a failing note never knocks out its good near-twin. Nothing is removed:
    ``data.filter(lambda r: r["keep"])`` does that, and ``filter_reason`` says why a note was dropped.
    """
    import datasets

    from medsyn_hf.schemas import FILTER_FEATURES

    config = config or FilterConfig()
    records = not isinstance(data, datasets.Dataset)
    dataset = datasets.Dataset.from_list(list(data)) if records else data
    dataset = dataset.remove_columns([c for c in FILTER_FEATURES if c in dataset.column_names])  # re-filtering
    if len(dataset) == 0:
        raise MedsynError("apply_filters: no notes to filter")
    missing = [c for c in (text_column, symptoms_column) if c not in dataset.column_names]
    if missing:
        have = ", ".join(dataset.column_names)
        raise MedsynError(f"apply_filters: column(s) {', '.join(missing)} not found (have {have})")
    scored_features = {k: v for k, v in FILTER_FEATURES.items() if k not in ("is_duplicate", "keep", "filter_reason")}
    scored = dataset.map(
        _score_batch,
        batched=True,
        fn_kwargs={"config": config, "text_column": text_column, "symptoms_column": symptoms_column,
                   "example_column": example_column if example_column in dataset.column_names else None},
        features=datasets.Features({**dataset.features, **scored_features, "failed": [datasets.Value("string")]}),
        num_proc=num_proc,
        desc="Scoring notes",
    )
    failed = list(scored["failed"])
    if config.min_judge_score is not None and "judge_score" not in scored.column_names:
        logger.warning("min_judge_score=%s has no effect: the notes have no judge_score (run `medsyn eval judge`)",
                       config.min_judge_score)
    elif config.min_judge_score is not None:
        for reasons, low in zip(failed, judge_failed(scored["judge_score"], config)):
            if low:
                reasons.append("judge")
    passing = [i for i, reasons in enumerate(failed) if not reasons]
    is_duplicate = [False] * len(scored)
    for i, keep in zip(passing, deduplicate(scored.select(passing)[text_column], config.dedup_threshold)):
        if not keep:
            is_duplicate[i] = True
            failed[i] = ["duplicate"]
    scored = scored.remove_columns("failed")
    for name, column in (("is_duplicate", is_duplicate), ("keep", [not r for r in failed]),
                         ("filter_reason", [",".join(r) for r in failed])):
        scored = scored.add_column(name, column, feature=FILTER_FEATURES[name])
    return scored.to_list() if records else scored
