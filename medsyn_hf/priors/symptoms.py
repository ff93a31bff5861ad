"""Which symptoms a prior may draw and how likely each is: the symptom policy of ``medsyn_hf.priors``.

Why a policy: the MKG is much broader than MedSyn's own table (a sampled code has a median of ~33 symptoms, up to
300, mostly from the HSDN MeSH join), and MedSyn's draw, softmax(weight / 10) over a 0-10 scale, is close to uniform,
so most prompted symptoms were weak associations that real complaints of the code never voice (see
``medsyn_hf.priors.realism`` and ``benchmarks/priors_realism.py``).

For a pool code C, each symptom gets a **score**: the maximum over its sources s of ``source_weights[s] · w_s(C)``,
where ``w_s`` is that source's own 0-10 weight of the edge (kept per edge in the MKG; a category takes the maximum
over its subcodes) and unlisted sources count 1. A subcode also inherits its category's own symptoms (is-a: what
holds for K29 holds for K29.0), scored ``inherit`` · their score at the category. The code keeps its ``top_k``
best-scored symptoms (0: all) whose score is at least ``min_weight``, but never fewer than its ``min_symptoms`` best,
so every code keeps symptoms.
A prior then draws its symptoms without replacement with p ∝ softmax(score / temperature).

``overrides`` replace a pool code's list outright: ``{code: [symptom, ...]}`` (each weight 5, the MKG's weight of an
unweighted list) or ``{code: {symptom: weight}}``; the cuts and source weights do not apply to them.
``medsyn_compatible`` restores the earlier behaviour (MedSyn's draw): every source 1, no inheritance, no cut,
temperature 10. The defaults were chosen on RuMedTop3 train attestation and diversity only; ``rumedtop3_train`` edges
(symptoms voiced in train complaints) are up-weighted, so train attestation is partly by construction and the dev
figure in benchmarks/README.md is the honest one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from medsyn_hf.errors import MedsynError
from medsyn_hf.kg.graph import SYMPTOM
from medsyn_hf.priors.pool import build_pool
from medsyn_hf.textfile import check_file, read_json, read_yaml

# Chosen on RuMedTop3 *train* attestation and diversity only (benchmarks/priors_realism.py, grid in its JSON).
DEFAULTS = {
    "temperature": 3.0,
    "top_k": 20,
    "min_weight": 0.0,
    "inherit": 1.0,
    "source_weights": {"hsdn": 0.25, "rumedtop3_train": 4.0},
}
MEDSYN = {"temperature": 10.0, "top_k": 0, "min_weight": 0.0, "source_weights": {}, "inherit": 0.0}
UNWEIGHTED = 5.0  # the MKG's weight of a symptom from an unweighted list
MAX_OVERRIDE_SYMPTOMS = 1000


@dataclass(frozen=True)
class SymptomPolicy:
    temperature: float
    top_k: int  # 0: all
    min_weight: float
    source_weights: tuple  # ((source, multiplier), ...), sorted
    inherit: float  # multiplier of a subcode's category's own symptoms; 0: the subcode's own list only
    overrides: tuple = ()  # ((code as given, ((symptom, weight), ...)), ...)

    @property
    def is_identity(self) -> bool:
        """True when the MKG's lists and weights are used as they are (the MedSyn-compatible case)."""
        return not (
            self.top_k
            or self.min_weight
            or self.inherit
            or self.overrides
            or any(m != 1 for _, m in self.source_weights)
        )


def _number(value, what: str, low: float, integer: bool = False):
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or not math.isfinite(value) or value < low:
        raise MedsynError(f"{what} must be {'an integer' if integer else 'a number'} >= {low}, got {value!r}")
    return value


def resolve_policy(
    temperature=None,
    top_k=None,
    min_weight=None,
    source_weights=None,
    inherit=None,
    overrides=None,
    medsyn_compatible: bool = False,
) -> SymptomPolicy:
    """The policy from explicit options; an option left None takes the default (MedSyn's under medsyn_compatible)."""
    base = MEDSYN if medsyn_compatible else DEFAULTS
    temperature = base["temperature"] if temperature is None else temperature
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (math.isfinite(temperature) and temperature > 0)
    ):
        raise MedsynError(f"temperature must be > 0, got {temperature}")
    top_k = _number(base["top_k"] if top_k is None else top_k, "top_k (0: all symptoms)", 0, integer=True)
    min_weight = _number(base["min_weight"] if min_weight is None else min_weight, "min_weight", 0)
    inherit = _number(base["inherit"] if inherit is None else inherit, "inherit", 0)
    weights = base["source_weights"] if source_weights is None else source_weights
    if not isinstance(weights, dict):
        raise MedsynError(f"source_weights must map source names to multipliers, got {weights!r}")
    for source, multiplier in weights.items():
        _number(multiplier, f"source weight of {source!r}", 0)
    if isinstance(overrides, (str, Path)):
        overrides = load_overrides(overrides)
    return SymptomPolicy(
        float(temperature),
        int(top_k),
        float(min_weight),
        tuple(sorted((str(s), float(m)) for s, m in weights.items())),
        float(inherit),
        _check_overrides(overrides or {}),
    )


def parse_source_weights(items) -> dict | None:
    """``["hsdn=0.25", "gpt_notes=1"]`` (the CLI's form) -> {source: multiplier}; None when not given."""
    if items is None:
        return None
    weights = {}
    for item in items:
        source, sep, value = item.partition("=")
        try:
            weights[source.strip()] = float(value)
        except ValueError:
            raise MedsynError(f"source weight must be SOURCE=NUMBER, got {item!r}") from None
        if not sep or not source.strip():
            raise MedsynError(f"source weight must be SOURCE=NUMBER, got {item!r}")
    return weights


def load_overrides(path: str | Path) -> dict:
    """Per-code symptom lists from a JSON or YAML file: ``{code: [symptom, ...]}`` or ``{code: {symptom: weight}}``."""
    path = check_file(path, "symptom list file")
    data = (read_yaml if path.suffix in (".yaml", ".yml") else read_json)(path, "symptom list file")
    if not isinstance(data, dict) or not data:
        raise MedsynError(f"{path}: expected a mapping {{code: [symptom, ...]}} or {{code: {{symptom: weight}}}}")
    return data


def _check_overrides(data: dict) -> tuple:
    if not isinstance(data, dict):
        raise MedsynError("symptom lists must map codes to [symptom, ...] or {symptom: weight}")
    out = []
    for code, entries in data.items():
        if isinstance(entries, list):
            entries = {s: UNWEIGHTED for s in entries} if all(isinstance(s, str) for s in entries) else None
        if (
            not isinstance(code, str)
            or not isinstance(entries, dict)
            or not entries
            or len(entries) > MAX_OVERRIDE_SYMPTOMS
        ):
            raise MedsynError(
                f"symptom list of {code!r} must be a non-empty list of symptoms or {{symptom: weight}} "
                f"(at most {MAX_OVERRIDE_SYMPTOMS})"
            )
        pairs = []
        for name, weight in entries.items():
            if not isinstance(name, str) or not name.strip():
                raise MedsynError(f"symptom list of {code!r}: symptoms must be non-empty strings, got {name!r}")
            pairs.append((name.strip(), float(_number(weight, f"weight of {name!r} in {code!r}", 0))))
        if len({n for n, _ in pairs}) != len(pairs):
            raise MedsynError(f"symptom list of {code!r} names a symptom twice")
        out.append((code, tuple(pairs)))
    return tuple(out)


# -- applying a policy to a pool ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidates:
    """Every symptom a pool code may draw, grouped by code: its own (the pool's list, in pool order), then, for a
    subcode, its category's own symptoms that it lacks (is-a inheritance). Per-source weights are NaN where absent."""

    sources: tuple
    owner: np.ndarray
    names: np.ndarray
    weights: np.ndarray  # MKG weight: the code's edge, or for an inherited symptom the category's
    own: np.ndarray  # (rows, sources): the code's (with its subcodes') per-source weights
    inherited: np.ndarray  # (rows, sources): the category's own per-source weights, for subcodes


@lru_cache(maxsize=8)
def candidates(kg, level: str, min_symptoms: int, example_offset: int) -> Candidates:
    pool = build_pool(kg, level, min_symptoms, example_offset)  # cached
    g = kg.graph
    sources = tuple(
        sorted({s for *_, e in g.edges(data=True) if e["kind"] == "has_symptom" for s in e["source_weights"]})
    )
    column = {s: j for j, s in enumerate(sources)}
    owner, names, weights = [], [], []
    cells = {"own": ([], [], []), "inherited": ([], [], [])}  # (rows, columns, weights) of the per-source weights

    def add(kind: str, row: int, per_source: dict) -> None:
        rows, cols, values = cells[kind]
        for source, weight in per_source.items():
            rows.append(row), cols.append(column[source]), values.append(weight)

    for i, code in enumerate(pool.codes):
        rows = {}
        for s in kg.symptoms(code):
            rows[SYMPTOM + s.key] = len(names)
            owner.append(i), names.append(s.name), weights.append(s.weight)
        for node in [code, *kg.descendants(code)]:
            for _, sym, e in g.out_edges(node, data=True):
                if e["kind"] == "has_symptom":
                    add("own", rows[sym], e["source_weights"])
        category = pool.categories[i]
        if category != code:
            for _, sym, e in g.out_edges(category, data=True):
                if e["kind"] == "has_symptom":
                    if sym not in rows:
                        rows[sym] = len(names)
                        owner.append(i), names.append(g.nodes[sym]["name"]), weights.append(e["weight"])
                    add("inherited", rows[sym], e["source_weights"])
    matrices = {}
    for kind, (rows, cols, values) in cells.items():
        matrix = np.full((len(names), len(sources)), -np.inf)
        np.maximum.at(matrix, (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)), np.array(values))
        matrices[kind] = np.where(np.isinf(matrix), np.nan, matrix)
    return Candidates(
        sources,
        np.array(owner),
        np.array(names, dtype=object),
        np.array(weights, dtype=np.float64),
        matrices["own"],
        matrices["inherited"],
    )


def _best(matrix: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """Per row, the maximum of multiplier · weight over the sources that list the symptom; -inf where none does."""
    return np.where(np.isnan(matrix), -np.inf, matrix * multipliers).max(axis=1, initial=-np.inf)


@lru_cache(maxsize=16)
def apply_policy(kg, policy: SymptomPolicy, level: str, min_symptoms: int, example_offset: int):
    """The pool with each code's symptom list scored and cut by ``policy`` (``sym_scores`` feed the softmax)."""
    pool = build_pool(kg, level, min_symptoms, example_offset)
    if policy.is_identity:
        return pool
    cand = candidates(kg, level, min_symptoms, example_offset)
    multiplier = dict(policy.source_weights)
    # a misspelt source is an error; a custom MKG may lack the default sources (their weights then change nothing)
    unknown = sorted(set(multiplier) - set(cand.sources) - set(DEFAULTS["source_weights"]))
    if unknown:
        raise MedsynError(
            f"unknown MKG source(s) {', '.join(unknown)} in source weights; the MKG has {', '.join(cand.sources)}"
        )
    multipliers = np.array([multiplier.get(s, 1.0) for s in cand.sources])
    inherited = _best(cand.inherited, multipliers)
    scores = np.maximum(
        _best(cand.own, multipliers),
        np.where(np.isfinite(inherited), policy.inherit * inherited, -np.inf) if policy.inherit else -np.inf,
    )
    order = np.lexsort((np.arange(len(scores)), -scores, cand.owner))  # per code: best score first, then MKG order
    first = np.searchsorted(cand.owner, np.arange(len(pool.codes)))  # owner is sorted, so owner[order] == owner
    rank = np.arange(len(order)) - first[cand.owner]
    score = scores[order]
    keep = np.isfinite(score) & (
        ((rank < (policy.top_k or np.inf)) & (score >= policy.min_weight)) | (rank < min_symptoms)
    )
    kept = order[keep]
    counts = np.bincount(cand.owner[kept], minlength=len(pool.codes))
    start = np.concatenate([[0], np.cumsum(counts)])
    names, weights, scores = cand.names[kept], cand.weights[kept], score[keep]
    if not policy.overrides:
        return replace(pool, sym_start=start, sym_names=names, sym_weights=weights, sym_scores=scores)
    segments = [(names[a:b], weights[a:b], scores[a:b]) for a, b in pairwise(start)]
    index = {c: i for i, c in enumerate(pool.codes)}
    for code, pairs in policy.overrides:
        resolved = kg.resolve(code)
        if resolved not in index:
            raise MedsynError(
                f"symptom list for {code!r}: {resolved} is not a sampleable code at level {level!r} "
                f"(a code needs {min_symptoms}+ symptoms in the MKG)"
            )
        if len(pairs) < min_symptoms:
            raise MedsynError(f"symptom list for {code!r} has {len(pairs)} symptom(s); min_symptoms is {min_symptoms}")
        pairs = sorted(pairs, key=lambda p: -p[1])  # heaviest first, as the sampler's T -> 0 limit expects
        weights = np.array([w for _, w in pairs])
        segments[index[resolved]] = (np.array([n for n, _ in pairs], dtype=object), weights, weights)
    return replace(
        pool,
        sym_start=np.concatenate([[0], np.cumsum([len(s[0]) for s in segments])]),
        sym_names=np.concatenate([s[0] for s in segments]),
        sym_weights=np.concatenate([s[1] for s in segments]).astype(np.float64),
        sym_scores=np.concatenate([s[2] for s in segments]).astype(np.float64),
    )


def provenance(kg, code: str, symptom: str) -> tuple[float | None, list[str], str | None]:
    """Why a prior of ``code`` may draw ``symptom``: (MKG weight, sources, the category it is inherited from or None);
    (None, [], None) when the MKG does not give it to the code (a user's symptom list)."""
    for s in kg.symptoms(code):
        if s.name == symptom:
            return s.weight, s.sources, None
    g = kg.graph
    category = next((c for c in kg.path(code) if g.nodes[c]["level"] == "category"), None)
    for _, sym, e in g.out_edges(category, data=True) if category else ():
        if e["kind"] == "has_symptom" and g.nodes[sym]["name"] == symptom:
            return e["weight"], e["sources"], category
    return None, [], None
