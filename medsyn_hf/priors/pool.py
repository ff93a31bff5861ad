"""The pool of sampleable codes and their MedSyn weights, as flat arrays the vectorised sampler indexes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from medsyn_hf.demographics import SEXES
from medsyn_hf.errors import MedsynError
from medsyn_hf.priors.resources import load_examples

LEVELS = ("code", "category")


@dataclass(frozen=True)
class Pool:
    """Sampleable codes as flat arrays; symptoms of code i are ``sym_*[sym_start[i]:sym_start[i + 1]]``."""

    codes: np.ndarray  # str
    paths: tuple  # per code: chapter -> block -> category -> code, for code filters
    names: np.ndarray  # str, code_name_ru
    categories: np.ndarray  # str
    restriction: np.ndarray  # 0 any sex, 1 male only, 2 female only
    sym_start: np.ndarray
    sym_names: np.ndarray  # str
    sym_weights: np.ndarray
    ex_start: np.ndarray  # first row of the category's notes in the examples table
    n_examples: np.ndarray
    weights: np.ndarray  # MedSyn code weights J3(N_symp) * J3(N_exmp + example_offset)
    sym_scores: np.ndarray  # what the softmax draws by: the MKG weights, or a symptom policy's scores


def j3(x):
    return np.log1p(np.log1p(np.log1p(np.asarray(x, dtype=np.float64))))


def sex_restriction(kg, code: str) -> int:
    """0 any sex, 1 male only, 2 female only: the nearest sex limit on the code's path."""
    g = kg.graph
    sex = next((g.nodes[c]["sex"] for c in reversed(kg.path(code)) if g.nodes[c]["sex"]), None)
    return (None, *SEXES).index(sex)


@lru_cache(maxsize=8)
def build_pool(kg, level: str = "code", min_symptoms: int = 2, example_offset: int = 1) -> Pool:
    if level not in LEVELS:
        raise MedsynError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    if example_offset < 0:
        raise MedsynError(f"example_offset must be >= 0, got {example_offset}")
    g = kg.graph
    if level == "category":
        candidates = kg.codes("category")
    else:
        candidates = [
            c
            for c in kg.codes()
            if g.nodes[c]["level"] in ("category", "subcategory")
            and any(e["kind"] == "has_symptom" for *_, e in g.out_edges(c, data=True))
        ]
    example_codes = load_examples()["code"].to_numpy(zero_copy_only=False)
    rows = []
    for code in candidates:
        symptoms = kg.symptoms(code)
        if len(symptoms) < min_symptoms:
            continue
        path = kg.path(code)
        category = next(c for c in path if g.nodes[c]["level"] == "category")
        rows.append((code, tuple(path), g.nodes[code]["name_ru"], category, sex_restriction(kg, code), symptoms))
    if not rows:
        raise MedsynError(f"no code in the MKG has {min_symptoms} or more symptoms")
    codes, paths, names, categories, restriction, symptoms = zip(*rows)
    categories = np.array(categories, dtype=object)
    ex_start = np.searchsorted(example_codes, categories, side="left")
    n_examples = np.searchsorted(example_codes, categories, side="right") - ex_start
    n_symptoms = np.array([len(s) for s in symptoms])
    weights = j3(n_symptoms) * j3(n_examples + example_offset)
    keep = weights > 0
    if not keep.any():
        raise MedsynError("every code has weight 0 (no example notes); use example_offset >= 1")
    flat = [s for code_symptoms, k in zip(symptoms, keep) if k for s in code_symptoms]
    return Pool(
        codes=np.array(codes, dtype=object)[keep],
        paths=tuple(p for p, k in zip(paths, keep) if k),
        names=np.array(names, dtype=object)[keep],
        categories=categories[keep],
        restriction=np.array(restriction, dtype=np.int8)[keep],
        sym_start=np.concatenate([[0], np.cumsum(n_symptoms[keep])]),
        sym_names=np.array([s.name for s in flat], dtype=object),
        sym_weights=np.array([s.weight for s in flat], dtype=np.float64),
        ex_start=ex_start[keep],
        n_examples=n_examples[keep],
        weights=weights[keep],
        sym_scores=np.array([s.weight for s in flat], dtype=np.float64),
    )


def select_codes(kg, pool: Pool, codes) -> np.ndarray:
    """Mask of pool codes under any of ``codes``: an MKG code of any level (chapter 'XI', block 'K20-K31', 'K29') or,
    failing that, a code prefix ('K2')."""
    mask = np.zeros(len(pool.codes), dtype=bool)
    for item in codes:
        try:
            root = kg.resolve(item)
            hits = np.array([root in path for path in pool.paths])
        except MedsynError as unknown:
            hits = np.array([c.startswith(item.strip().upper()) for c in pool.codes])
            if not hits.any():
                raise unknown from None
        if not hits.any():
            raise MedsynError(f"no sampleable code under {item!r} (a code needs enough symptoms in the MKG)")
        mask |= hits
    return mask


def allocate(weights: np.ndarray, n: int) -> np.ndarray:
    """Counts summing to n, each within 1 of n·w/Σw (largest remainder; ties go to the earlier code)."""
    quota = n * weights / weights.sum()
    counts = np.floor(quota).astype(np.int64)
    extra = n - counts.sum()
    counts[np.argsort(-(quota - counts), kind="stable")[:extra]] += 1
    return counts
