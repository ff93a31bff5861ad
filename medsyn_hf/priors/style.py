"""Style exemplars: real notes shown in a prompt so that the model writes in the register of the user's own notes
(``medsyn priors --style-examples N``; the ``complaints`` template shows them).

An exemplar is never a note of the prior's own 3-character category, whatever the sampling level (a subcode's
category counts as its own): it shows how notes are written, not what this disease's notes say, so the model has
nothing of the planned code to copy and a classifier trained on the synthetic notes learns no label from a real note
of that label. Notes longer than ``MAX_WORDS`` words are not used (a prompt of several long notes would crowd out the
small writer's context; RuMedTop3 train: median 17 words, 90th percentile 45). Each prior's exemplars are distinct
notes drawn uniformly from the rest, by the prior's own seed (stream STYLE), so they do not depend on chunking.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from medsyn_hf.errors import MedsynError
from medsyn_hf.priors.resources import load_examples
from medsyn_hf.priors.rng import STYLE, uniforms

MAX_WORDS = 60


@dataclass(frozen=True)
class StylePool:
    """Usable real notes sorted by category: ``texts`` (whitespace collapsed) and their ``categories``."""

    texts: pa.Array
    categories: np.ndarray  # str, sorted


def category_of(code: str) -> str:
    """The 3-character category of an ICD-10 code as users write it ('k29.1 ' -> 'K29')."""
    return str(code).strip().upper()[:3]


def style_pool(codes, texts) -> StylePool:
    """The exemplar pool from real notes' codes (their categories, or codes whose first three characters are) and
    texts: one row per distinct (category, text); empty, overlong and code-less notes left out, and so is a text that
    carries more than one category (it is some prior's own note under another label)."""
    pairs = {
        (category_of(code), " ".join(str(text).split()))
        for code, text in zip(codes, texts)
        if code is not None and str(code).strip() and text is not None and 0 < len(str(text).split()) <= MAX_WORDS
    }
    labels = Counter(text for _, text in pairs)
    rows = sorted((c, t) for c, t in pairs if labels[t] == 1)
    return StylePool(pa.array([t for _, t in rows], pa.string()), np.array([c for c, _ in rows], dtype=object))


@lru_cache(maxsize=1)
def packaged_pool() -> StylePool:
    """RuMedTop3 *train* notes (the package's example notes): the default exemplars."""
    examples = load_examples()
    return style_pool(examples["code"].to_pylist(), examples["text"].to_pylist())


def draw_style(pool: StylePool, categories, rs: np.ndarray, k: int) -> pa.ListArray:
    """``k`` distinct exemplars per record (fewer if the pool holds fewer of other categories), none of the record's
    category: uniform draws without replacement over the pool minus that category's block of rows."""
    categories = np.asarray([category_of(c) for c in categories], dtype=object)
    n = len(categories)
    if k < 0:
        raise MedsynError(f"style_examples must be >= 0, got {k}")
    if k == 0 or not len(pool.texts):
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()))
    start = np.searchsorted(pool.categories, categories, side="left")
    own = np.searchsorted(pool.categories, categories, side="right") - start
    available = len(pool.texts) - own
    counts = np.minimum(k, available)
    u = uniforms(rs, STYLE, k)
    picks = np.full((n, k), -1, dtype=np.int64)
    for r in range(k):
        j = (u[:, r] * np.maximum(available - r, 1)).astype(np.int64)
        for earlier in np.sort(np.where(picks[:, :r] < 0, np.iinfo(np.int64).max, picks[:, :r]), axis=1).T:
            j += earlier <= j  # skip the earlier picks, in increasing order: uniform over those left
        picks[:, r] = np.where(r < counts, j, -1)
    rows = np.where(picks >= start[:, None], picks + own[:, None], picks)  # past the record's own category
    flat = rows[picks >= 0]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pool.texts.take(pa.array(flat, pa.int64())))
