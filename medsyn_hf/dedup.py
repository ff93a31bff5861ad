"""Exact and near-duplicate removal over any list of texts (notes here, instruction pairs later).

Near duplicates are found with MinHash over word-shingle sets and LSH banding (candidates only), then confirmed with
the exact Jaccard similarity of the shingle sets, so the result does not depend on hash luck near the threshold.
Hashes are xxhash and a seeded permutation family: the same texts always give the same mask.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xxhash

from medsyn_hf.normalize import words

_PRIME = np.uint64((1 << 61) - 1)
_MIX = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=200_000)
def _token_hash(token: str) -> int:
    return xxhash.xxh64_intdigest(token.encode())


def _shingles(tokens: list[str], n: int) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word n-grams (one shingle for texts shorter than n words)."""
    tokens = np.fromiter(map(_token_hash, tokens), np.uint64, len(tokens))
    n = max(1, min(n, len(tokens)))
    combined = np.zeros(len(tokens) - n + 1, np.uint64)
    for k in range(n):  # polynomial mix of the n token hashes; uint64 arithmetic wraps on purpose
        combined = combined * _MIX + tokens[k : len(tokens) - n + 1 + k]
    return np.unique(combined >> np.uint64(32))


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common) if len(a) or len(b) else 1.0


def _bands_for(threshold: float, num_perm: int) -> int:
    """Number of LSH bands whose S-curve midpoint (1/b)^(1/r) sits just under the threshold, so misses are rare."""
    divisors = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [b for b in divisors if (1 / b) ** (b / num_perm) <= threshold - 0.1]
    return min(below) if below else num_perm


def deduplicate(
    texts: list[str], threshold: float = 0.8, ngram: int = 5, num_perm: int = 128, seed: int = 0
) -> list[bool]:
    """Keep mask: True for the first text of every group of exact (case/space-insensitive) or near duplicates.

    A text is dropped when the Jaccard similarity of its word ``ngram``-shingles with an earlier kept text is at
    least ``threshold``.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 32, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64)
    bands = _bands_for(threshold, num_perm)
    rows = num_perm // bands
    exact: set[str] = set()
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
    kept_shingles: dict[int, np.ndarray] = {}
    keep = []
    for i, text in enumerate(texts):
        tokens = words(text)
        key = " ".join(tokens) or text.strip()
        if key in exact:
            keep.append(False)
            continue
        exact.add(key)
        shingles = _shingles(tokens, ngram)
        signature = ((np.outer(shingles, a) + b) % _PRIME).min(axis=0) if len(shingles) else a
        keys = [signature[j * rows : (j + 1) * rows].tobytes() for j in range(bands)]
        candidates = {c for band, k in zip(buckets, keys) for c in band.get(k, ())}
        duplicate = any(_jaccard(shingles, kept_shingles[c]) >= threshold for c in sorted(candidates))
        keep.append(not duplicate)
        if not duplicate:
            kept_shingles[i] = shingles
            for band, k in zip(buckets, keys):
                band.setdefault(k, []).append(i)
    return keep
