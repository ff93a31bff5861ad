"""Sanity guards: the one list of inputs that make a comparison or a score meaningless although every file reads.

A report on real vs synthetic notes where both sides are the same file prints AUC 0.5 ("indistinguishable"); a
blind study whose "synthetic" half is real notes measures nothing; a recall table over notes that are all empty is
a table of zeros. Such input parses, so the readers cannot catch it: the commands that compare or score ask here,
and each refuses (or, where the command offers an explicit flag, warns loudly in its output) in the same words.

=================  ============================================================  ==================================
guard              refused when                                                  used by
=================  ============================================================  ==================================
``same_source``    the two sides are the same file or folder                     eval report, assess prepare,
                                                                                 eval icd (--train vs --eval)
``shared_notes``   the sides share more than ``max_shared`` of the smaller       eval report, eval icd (most:
                   side's notes (whitespace-insensitive)                         > 50 %), assess prepare (any)
``no_text``        every text of the column is empty or null                     eval report, eval prompt-following,
                                                                                 assess prepare (its readers)
``not_generated``  the synthetic side has none of the generated-notes columns    assess prepare
                   (GENERATED_COLUMNS) and is not a generation run folder
=================  ============================================================  ==================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from medsyn_hf.errors import MedsynError

MOST = 0.5  # `eval report`: sides sharing more than this share of the smaller side's notes are one data set
# Columns only generated notes have: the model that wrote them or the prompt that asked for them (our notes and
# MedSyn's GPT notes alike); real notes (RuMedTop3, a hospital's export) have none of them.
GENERATED_COLUMNS = ("generation_model", "prompt", "messages")


def _key(text) -> str:
    return " ".join(str(text).split())


def same_source(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """The same file or folder (through links and relative paths), or the same Hub id."""
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    return str(a) == str(b)


def shared_notes(first: Iterable[str], second: Iterable[str]) -> tuple[int, int]:
    """(distinct texts the sides share, distinct texts of the smaller side)."""
    a = {_key(t) for t in first if t is not None and str(t).strip()}
    b = {_key(t) for t in second if t is not None and str(t).strip()}
    return len(a & b), min(len(a), len(b))


def side_problems(
    first: str | os.PathLike,
    second: str | os.PathLike,
    first_texts,
    second_texts,
    max_shared: float,
    names: tuple[str, str] = ("real", "synthetic"),
) -> list[str]:
    """What makes a comparison of two sides meaningless (``same_source``, ``shared_notes``), as sentences."""
    if same_source(first, second):
        return [f"{names[0]} and {names[1]} are the same data ({first})"]
    shared, smaller = shared_notes(first_texts, second_texts)
    if smaller and shared > max_shared * smaller:
        return [f"{names[0]} ({first}) and {names[1]} ({second}) share {shared} of {smaller} distinct notes"]
    return []


def refuse(problems: list[str], hint: str) -> None:
    """Raise the first problem as one line, with ``hint`` (how to fix it, or the flag that lets it through)."""
    if problems:
        raise MedsynError(f"{problems[0]}; {hint}")


def require_text(values, source, column: str) -> None:
    """``no_text``: refuse a text column whose every value is null or blank."""
    if not any(isinstance(v, str) and v.strip() for v in values):
        raise MedsynError(f"{source}: no note has a text in column {column!r} (every value is empty or null)")


def looks_generated(columns: Iterable[str]) -> bool:
    """``not_generated``: does a dataset have a column only generated notes have?"""
    return bool(set(columns) & set(GENERATED_COLUMNS))
