"""Word n-grams of many notes at once as 64-bit hashes in numpy arrays: distinct-n counts and longest shared word
runs over tens of thousands of notes without a Python loop per n-gram or per pair of notes.

A note's words (``medsyn_hf.normalize.words``: lower case, ё -> е) become xxhash values; the hash of an n-gram is
the polynomial ``h(w1..wn) = h(w1..wn-1) * B + h(wn)`` (mod 2**64), so the (n+1)-grams are one vectorised step from
the n-grams. Collisions are about 1 in 2**64 per pair of n-grams.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import xxhash

from medsyn_hf.normalize import words

_BASE = np.uint64(0x100000001B3)


class Tokens(NamedTuple):
    hashes: np.ndarray  # uint64 hash of each word, all notes concatenated
    note: np.ndarray  # index of the note each word belongs to
    end: np.ndarray  # position just after the last word of that note


def tokenize(texts: Sequence[str]) -> Tokens:
    cache: dict[str, int] = {}
    notes = [words(t) for t in texts]
    lengths = np.fromiter(map(len, notes), int, len(notes))
    flat = [
        cache[w] if w in cache else cache.setdefault(w, xxhash.xxh64_intdigest(w.encode())) for ws in notes for w in ws
    ]
    note = np.repeat(np.arange(len(notes)), lengths)
    return Tokens(np.array(flat, dtype=np.uint64), note, np.cumsum(lengths)[note] if len(note) else note)


def word_counts(tokens: Tokens, notes: int) -> np.ndarray:
    """Words in each of the ``notes`` notes ``tokens`` was made of."""
    return np.bincount(tokens.note, minlength=notes)


def extend(tokens: Tokens, positions: np.ndarray, hashes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The (n+1)-grams starting where the given n-grams start, for those that still fit in their note."""
    fits = positions + n < tokens.end[positions]
    positions = positions[fits]
    return positions, hashes[fits] * _BASE + tokens.hashes[positions + n]


def ngram_hashes(tokens: Tokens, n: int) -> np.ndarray:
    """Hashes of every word n-gram that lies inside one note."""
    positions, hashes = np.arange(len(tokens.hashes)), tokens.hashes
    for k in range(1, n):
        positions, hashes = extend(tokens, positions, hashes, k)
    return hashes


def distinct(tokens: Tokens, n: int) -> float | None:
    """distinct-n: distinct word n-grams / all word n-grams (None when there is none)."""
    hashes = ngram_hashes(tokens, n)
    return round(len(np.unique(hashes)) / len(hashes), 4) if len(hashes) else None


def longest_common_runs(queries: Tokens, corpus: Tokens, n_queries: int) -> np.ndarray:
    """For each query note, the length in words of the longest word sequence it shares verbatim with any corpus note.

    A query shares a run of n words exactly when one of its n-grams is an n-gram of some corpus note, and then it
    shares every shorter one: so n grows one word at a time and only n-grams that matched at length n are extended
    to n + 1 (on both sides), until none is left."""
    best = np.zeros(n_queries, dtype=int)
    q_pos, q_hash = np.arange(len(queries.hashes)), queries.hashes
    c_pos, c_hash = np.arange(len(corpus.hashes)), corpus.hashes
    n = 1
    while len(q_pos) and len(c_pos):
        hit = np.isin(q_hash, c_hash)
        q_pos, q_hash = q_pos[hit], q_hash[hit]
        keep = np.isin(c_hash, q_hash)
        c_pos, c_hash = c_pos[keep], c_hash[keep]
        best[queries.note[q_pos]] = n  # n only grows: a plain assignment keeps the maximum
        q_pos, q_hash = extend(queries, q_pos, q_hash, n)
        c_pos, c_hash = extend(corpus, c_pos, c_hash, n)
        n += 1
    return best
