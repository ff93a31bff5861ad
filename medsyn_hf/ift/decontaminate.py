"""Decontamination against evaluation texts: a training text is contaminated when it shares a word n-gram (default 8)
with an evaluation text, or contains a whole evaluation text too short to be covered by that test.

Texts are compared as lower-cased word sequences (``normalize.words``: "ё" as "е", punctuation ignored). A raw
occurrence of an evaluation text always contains its words 2..k-1 as whole words, so a text of at least n + 2 words is
caught by its n-grams; shorter ones are searched as substrings of the joined word sequence, which also catches a raw
occurrence starting or ending inside a word. Either way no evaluation text can survive as an exact substring.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from pathlib import Path

import datasets

from medsyn_hf.data import FILE_SUFFIXES, load_dataset
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.normalize import words
from medsyn_hf.textfile import check_file, check_utf8, read_text

NGRAM = 8
MIN_TEXT_WORDS = 3  # a column whose values average fewer words is an id or a label, not text

EvalIndex = namedtuple("EvalIndex", "n grams patterns bare")  # patterns: interior word -> short texts holding it


def read_eval_texts(path: str | Path) -> list[str]:
    """The free-text values of an evaluation file: .jsonl/.json/.csv/.parquet (string columns averaging at least
    MIN_TEXT_WORDS words, so ids and labels are left out) or .txt (one text per line)."""
    path = check_file(path, "evaluation file")
    if path.suffix == ".txt":
        texts = [line.strip() for line in read_text(path, "evaluation file").splitlines() if line.strip()]
        if not texts:
            raise MedsynError(f"{path}: no text in the evaluation file")
        return texts
    if path.suffix == ".csv":  # a table no command reads as a dataset, only as evaluation texts
        check_utf8(path, "evaluation file")
        try:
            data = datasets.Dataset.from_csv(str(path))
        except Exception as err:  # pandas' parser errors, an empty file, ...
            raise MedsynError(f"{path}: cannot read evaluation file ({first_line(err)})") from None
    elif path.name.endswith(FILE_SUFFIXES):
        data = load_dataset(path)
    else:
        raise MedsynError(f"{path}: unsupported evaluation file type (use .jsonl, .json, .csv, .parquet or .txt)")
    texts = []
    for column in data.column_names:
        values = [v for v in data[column] if isinstance(v, str) and v.strip()]
        if values and sum(len(words(v)) for v in values) / len(values) >= MIN_TEXT_WORDS:
            texts.extend(values)
    if not texts:
        raise MedsynError(f"{path}: no free-text column found")
    return texts


def build_index(texts: Iterable[str], n: int = NGRAM) -> EvalIndex:
    grams, patterns, bare = set(), {}, []
    for text in texts:
        w = words(text)
        grams.update(" ".join(w[i : i + n]) for i in range(len(w) - n + 1))
        if 0 < len(w) < n + 2:
            pattern = " ".join(w)
            if len(w) >= 3:
                patterns.setdefault(max(w[1:-1], key=len), set()).add(pattern)
            else:
                bare.append(pattern)
    return EvalIndex(n, frozenset(grams), {k: tuple(sorted(v)) for k, v in patterns.items()}, tuple(sorted(set(bare))))


def contaminated(text: str, index: EvalIndex) -> bool:
    w = words(text)
    n = index.n
    if len(w) >= n and not index.grams.isdisjoint(map(" ".join, zip(*(w[i:] for i in range(n))))):
        return True
    joined = " ".join(w)
    if any(p in joined for p in index.bare):
        return True
    return any(p in joined for key in set(w).intersection(index.patterns) for p in index.patterns[key])
