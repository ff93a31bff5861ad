"""Priors: what each synthetic note is about (an ICD-10 code, 2-5 of its symptoms, a patient, maybe a real example note)
and the chat prompt asking for it. MedSyn's sampler, vectorised and made reproducible.

- Pool: codes with at least ``min_symptoms`` symptoms. ``level="code"`` (default): every category or subcategory with
  symptoms of its own in the MKG (a category's symptoms include its subcodes'); ``level="category"``: 3-character
  categories only, with their subcodes' symptoms. Either way example notes come from the code's category.
- Code weight ``w = J3(N_symp) * J3(N_exmp + example_offset)``, ``J3(x) = log(1+log(1+log(1+x)))``, N_exmp = RuMedTop3
  train notes of the category. MedSyn used ``example_offset=0``, which gives every code without a note weight 0;
  the default 1 keeps them in the pool at about half the weight of a code with ~10 notes.
- ``mode="plan"``: per-code counts ∝ w by largest remainder (each within 1 of n·w/Σw), in random order;
  ``mode="random"``: i.i.d. draws ∝ w.
- Symptoms: each code's list and scores come from the symptom policy (``medsyn_hf.priors_symptoms``: source weights,
  subcodes inheriting their category's symptoms, top-k / minimum-score cut, per-code overrides;
  ``medsyn_compatible=True``: the MKG's full lists and weights, T = 10).
  k uniform in [min_symptoms, min(max_symptoms, list length)], drawn without replacement with p ∝ softmax(score/T)
  (successive sampling, exact up to float resolution ~1e-13; as T -> 0 it becomes "the k heaviest"), then shuffled.
  Patients: ``medsyn_hf.demographics``.
- Templates: with probability ``example_p`` a prior gets a random train note of its category and the example-conditioned
  template; when it wanted one but the category has no notes (most non-RuMedTop3 codes), or otherwise, the template is
  drawn from the example-free ``templates`` mix. So the realised example rate is example_p × P(category has notes).
- Determinism: every random number of record i is a splitmix64 hash of (seed, i, stream), so the output is the same for
  any ``num_proc`` and on any machine (numpy's exp may differ by one ulp between CPUs; that moves an interval boundary
  by ~1e-16). The ``seed`` column holds the record's seed.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from medsyn_hf.demographics import LOCATIONS, MARITAL, SEXES, build_demographics, sample_patients
from medsyn_hf.errors import MedsynError
from medsyn_hf.io import check_output, safe_output
from medsyn_hf.priors_symptoms import DEFAULTS, MEDSYN, apply_policy, parse_source_weights, resolve_policy
from medsyn_hf.prompts import (EXAMPLE_TEMPLATES, TEMPLATE_NAMES, TEMPLATES, get_template, patient_description,
                               render_users)

MODES = ("plan", "random")
MAX_PRIORS = 10_000_000  # ~10 GB of prompts in memory; a larger --n is a typo, not a plan
RESOURCES = ("demographics.json", "examples.parquet")
LEVELS = ("code", "category")
EXAMPLE_SOURCE = "rumedtop3/train:"
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
# One stream of random numbers per decision, so changing one decision's draws never shifts another's.
ORDER, CODE, CELL, MARRIED, SMOKING, N_SYMPTOMS, SYMPTOM, SHUFFLE, WANTS_EXAMPLE, EXAMPLE, TEMPLATE = range(1, 12)


def resources_dir() -> Path:
    return Path(str(resources.files("medsyn_hf") / "resources"))


# -- resources ------------------------------------------------------------------------------------------------------
def build_examples(sources: str | Path) -> pa.Table:
    """RuMedTop3 *train* notes (code, idx, text) sorted by code then idx; dev and test never enter the package."""
    path = Path(sources) / "rumedtop3" / "train_v1.jsonl"
    if not path.is_file():
        raise MedsynError(f"{path}: RuMedTop3 train split not found")
    with open(path, encoding="utf-8") as f:
        rows = sorted((r["code"], r["idx"], r["symptoms"].strip()) for r in map(json.loads, f))
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(("code", "idx", "text"))})


def build_resources(sources: str | Path, out: str | Path | None = None) -> dict:
    """Compile ``demographics.json`` and ``examples.parquet`` from ``sources`` (data/sources layout); deterministic."""
    import pyarrow.parquet as pq

    out = Path(out) if out else resources_dir()
    kwargs = dict(command="medsyn priors-resources", inputs=[sources], kind="file", owned=_is_resource)
    for name in RESOURCES:
        check_output(out / name, **kwargs)
    demo, examples = build_demographics(sources), build_examples(sources)
    with safe_output(out / "demographics.json", **kwargs) as tmp:
        tmp.write_text(json.dumps(demo, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    with safe_output(out / "examples.parquet", **kwargs) as tmp:
        pq.write_table(examples, tmp, compression="zstd", compression_level=19)
    categories = len(set(examples["code"].to_pylist()))
    return {"out": str(out), "examples": examples.num_rows, "example_categories": categories}


def _is_resource(path: Path) -> bool:
    """An earlier `medsyn priors-resources` output (a rebuild may replace it): the JSON mapping or the notes table."""
    import pyarrow.parquet as pq

    try:
        if path.name == "demographics.json":
            return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        return path.name == "examples.parquet" and set(pq.read_schema(path).names) == {"code", "idx", "text"}
    except (OSError, ValueError, pa.ArrowException):
        return False


def _is_priors_file(path: Path) -> bool:
    """A parquet file of priors (what `medsyn priors --out X.parquet` writes), which a new sample may replace."""
    import pyarrow.parquet as pq

    from medsyn_hf.schemas import PRIORS_FEATURES

    try:
        return set(PRIORS_FEATURES) <= set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException):
        return False


@lru_cache(maxsize=2)
def load_examples(path: str | None = None) -> pa.Table:
    import pyarrow.parquet as pq

    path = Path(path) if path else resources_dir() / "examples.parquet"
    if not path.is_file():
        raise MedsynError(f"{path}: example notes not found (build them with `medsyn priors-resources`)")
    return pq.read_table(path)


# -- pool and weights -----------------------------------------------------------------------------------------------
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
        candidates = [c for c in kg.codes() if g.nodes[c]["level"] in ("category", "subcategory")
                      and any(e["kind"] == "has_symptom" for *_, e in g.out_edges(c, data=True))]
    example_codes = load_examples()["code"].to_numpy(zero_copy_only=False)
    rows = []
    for code in candidates:
        symptoms = kg.symptoms(code)
        if len(symptoms) < min_symptoms:
            continue
        path = kg.path(code)
        category = next(c for c in path if g.nodes[c]["level"] == "category")
        sex = next((g.nodes[c]["sex"] for c in reversed(path) if g.nodes[c]["sex"]), None)
        rows.append((code, tuple(path), g.nodes[code]["name_ru"], category, (None, *SEXES).index(sex), symptoms))
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


# -- counter-based random numbers -------------------------------------------------------------------------------------
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrap-around multiplication is intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def record_seeds(seed: int, n: int) -> np.ndarray:
    """Seeds of records 0..n-1: the splitmix64 sequence of ``seed`` (uint64)."""
    base = int(_mix(np.array([seed & _M64], dtype=np.uint64))[0])
    return _mix(np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GOLDEN) + np.uint64(base))


def uniforms(rs: np.ndarray, stream: int, width: int | None = None) -> np.ndarray:
    """Uniforms in (0, 1) per record (and per slot 0..width-1), a function of (record seed, stream, slot) only."""
    slots = _mix(np.arange(width or 1, dtype=np.uint64) + np.uint64(stream << 32))
    bits = _mix(rs[:, None] + slots[None, :]) if width else _mix(rs + slots[0])
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


# -- sampling -------------------------------------------------------------------------------------------------------
def _softmax_intervals(pool: Pool, temperature: float):
    """Each code's softmax(score / T) as intervals [lo, lo + p) tiling [0, 1), plus ``code + lo + p`` as one sorted
    array, so a single searchsorted draws a symptom for every record whatever its code."""
    owner = np.repeat(np.arange(len(pool.codes)), np.diff(pool.sym_start))
    first, last = pool.sym_start[:-1], pool.sym_start[1:] - 1
    scaled = pool.sym_scores / temperature
    e = np.exp(scaled - np.maximum.reduceat(scaled, first)[owner])
    cum = np.cumsum(e / np.add.reduceat(e, first)[owner])
    hi = np.clip(cum - np.concatenate([[0.0], cum[last[:-1]]])[owner], 0.0, 1.0)  # keeps ``key`` sorted
    hi[last] = 1.0
    lo = np.concatenate([[0.0], hi[:-1]])
    lo[first] = 0.0
    return owner + hi, lo, hi - lo


def _symptoms(pool: Pool, code_idx, rs, k_min: int, k_max: int, temperature: float):
    """(flat global symptom indices, per-record counts): k draws without replacement ∝ softmax(score / T), shuffled.

    Successive sampling, exactly: draw r maps its uniform onto the code's intervals with the r earlier picks cut out
    (the uniform is scaled by the mass left and shifted past each earlier pick it reaches, in symptom order).
    """
    n = len(code_idx)
    start = pool.sym_start[code_idx]
    last = pool.sym_start[code_idx + 1] - 1
    k = k_min + (uniforms(rs, N_SYMPTOMS) * (np.minimum(last - start + 1, k_max) - k_min + 1)).astype(np.int64)
    key, lo, p = _softmax_intervals(pool, temperature)
    lo, p = np.append(lo, np.inf), np.append(p, 0.0)  # index len(key): "no pick yet", never shifts
    u = uniforms(rs, SYMPTOM, k_max)
    chosen = np.full((n, k_max), len(key), dtype=np.int64)
    left = np.ones(n)
    for r in range(k_max):
        t = u[:, r] * left
        for earlier in np.sort(chosen[:, :r], axis=1).T:
            t += np.where(lo[earlier] <= t, p[earlier], 0.0)
        found = np.searchsorted(key, code_idx + t, side="right")
        pick = np.clip(found, start, last)
        drawn = r < k
        # Mass left below the keys' resolution (~1e-13 each), past the code's end or onto an earlier pick: T is so
        # small that the remaining symptoms' probabilities underflow, so take the heaviest symptom not yet picked
        # (the T -> 0 limit; the MKG lists symptoms heaviest first).
        lost = (left < 1e-11) | (found > last) | (chosen[:, :r] == pick[:, None]).any(axis=1)
        clash = np.flatnonzero(drawn & lost)
        for offset in range(r, -1, -1):
            free = ~(chosen[clash, :r] == (start[clash] + offset)[:, None]).any(axis=1)
            pick[clash[free]] = start[clash[free]] + offset
        chosen[drawn, r] = pick[drawn]
        left -= np.where(drawn, p[pick], 0.0)
    shuffle = np.where(chosen < len(key), uniforms(rs, SHUFFLE, k_max), np.inf)
    chosen = np.take_along_axis(chosen, np.argsort(shuffle, axis=1, kind="stable"), 1)
    return chosen[chosen < len(key)], k


def _strings(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _sample_chunk(pool: Pool, code_idx, rs, p) -> pa.Table:
    """All columns for the records with these codes and seeds (a pure function of them: chunking cannot matter)."""
    import pyarrow.compute as pc

    flat, k = _symptoms(pool, code_idx, rs, p["min_symptoms"], p["max_symptoms"], p["temperature"])
    sex, age, loc, married, smoking = sample_patients(
        pool.restriction[code_idx], uniforms(rs, CELL), uniforms(rs, MARRIED), uniforms(rs, SMOKING), p["min_age"]
    )
    has_notes = pool.n_examples[code_idx] > 0
    use_example = has_notes & (uniforms(rs, WANTS_EXAMPLE) < p["example_p"])
    example_row = np.where(
        use_example, pool.ex_start[code_idx] + (uniforms(rs, EXAMPLE) * pool.n_examples[code_idx]).astype(np.int64), -1
    )
    u_template = uniforms(rs, TEMPLATE)
    free = p["template_idx"][np.searchsorted(p["template_cdf"], u_template, side="right")]
    example_tpl = p["example_template_idx"][(u_template * len(p["example_template_idx"])).astype(np.int64)]
    template = np.where(use_example, example_tpl, free)

    take = pa.array(code_idx)
    codes, names = _strings(pool.codes).take(take), _strings(pool.names).take(take)
    offsets = pa.array(np.concatenate([[0], np.cumsum(k)]).astype(np.int32))
    symptoms = pa.ListArray.from_arrays(offsets, _strings(pool.sym_names).take(pa.array(flat)))
    examples = load_examples()
    example_take = pa.array(example_row, mask=example_row < 0)
    example, note_ids = examples["text"].combine_chunks().take(example_take), examples["idx"].combine_chunks()
    # patient descriptions: one per distinct (sex, location, married, smoking, age), ~1k at most
    combo = (((sex * 2 + loc) * 2 + married) * 2 + smoking) * 256 + age
    uniq, inverse = np.unique(combo, return_inverse=True)
    patients = _strings(patient_description(SEXES[c >> 11], c & 255, LOCATIONS[(c >> 10) & 1], MARITAL[(c >> 9) & 1],
                                            bool((c >> 8) & 1)) for c in uniq.tolist())
    users = render_users(template, symptoms, codes, names, example, patients.take(pa.array(inverse)))
    systems = _strings(TEMPLATES[t].system for t in TEMPLATE_NAMES).take(pa.array(template))
    n = len(code_idx)
    contents = pa.concat_arrays([systems, users]).take(pa.array(np.stack([np.arange(n), np.arange(n) + n], 1).ravel()))
    roles = _strings(["system", "user"]).take(pa.array(np.tile(np.array([0, 1], np.int8), n)))
    return pa.table({
        "code": codes,
        "code_name_ru": names,
        "category": _strings(pool.categories).take(take),
        "symptoms": symptoms,
        "symptom_weights": pa.ListArray.from_arrays(offsets, pa.array(pool.sym_weights[flat].astype(np.float32))),
        "age": pa.array(age.astype(np.int32)),
        "sex": _strings(SEXES).take(pa.array(sex)),
        "location": _strings(LOCATIONS).take(pa.array(loc)),
        "marital": _strings(MARITAL).take(pa.array(married.astype(np.int8))),
        "smoking": pa.array(smoking),
        "example": example,
        "example_source": pc.binary_join_element_wise(EXAMPLE_SOURCE, note_ids.take(example_take), ""),
        "template": _strings(TEMPLATE_NAMES).take(pa.array(template)),
        "messages": pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                                             pa.StructArray.from_arrays([roles, contents], names=["role", "content"])),
        "seed": pa.array(rs.view(np.int64)),
    })


def _template_mix(templates) -> tuple[np.ndarray, np.ndarray]:
    """(template indices, CDF) of the example-free mix: None = all example-free templates, equally likely."""
    if templates is None:
        templates = [t for t in TEMPLATE_NAMES if t not in EXAMPLE_TEMPLATES]
    weights = dict(templates) if isinstance(templates, dict) else {t: 1.0 for t in templates}
    for name, weight in weights.items():
        if get_template(name).needs_example:
            raise MedsynError(f"template {name!r} needs an example note: set example_p instead of listing it")
        if not weight >= 0:
            raise MedsynError(f"template weight must be >= 0, got {name}={weight}")
    total = sum(weights.values())
    if not total > 0:
        raise MedsynError("give at least one example-free template with a positive weight")
    cdf = np.cumsum([w for w in weights.values()])
    return np.array([TEMPLATE_NAMES.index(t) for t in weights]), cdf / cdf[-1]


def sample_priors(kg, n: int, seed: int = 0, mode: str = "plan", codes=None, *, level: str = "code",
                  min_symptoms: int = 2, max_symptoms: int = 5, temperature: float | None = None, min_age: int = 18,
                  example_p: float = 0.5, templates=None, example_offset: int = 1, num_proc: int = 1,
                  top_k: int | None = None, min_weight: float | None = None, source_weights: dict | None = None,
                  inherit: float | None = None, symptom_lists=None, medsyn_compatible: bool = False):
    """n priors as a ``datasets.Dataset`` with PRIORS_FEATURES; identical for the same arguments whatever ``num_proc``.

    ``codes``: restrict the pool to these codes/subtrees/prefixes; ``templates``: example-free template names, or
    {name: weight}. Symptom policy (``medsyn_hf.priors_symptoms``; None takes its default, MedSyn's under
    ``medsyn_compatible``): ``temperature``, ``top_k``, ``min_weight``, ``source_weights`` {source: multiplier},
    ``inherit`` (a subcode's share of its category's symptoms), ``symptom_lists`` per-code lists (a dict or a
    JSON/YAML file). See the module docstring for everything else.
    """
    from datasets import Dataset, DatasetInfo
    from datasets.fingerprint import generate_random_fingerprint
    from datasets.table import InMemoryTable

    from medsyn_hf.schemas import PRIORS_FEATURES

    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise MedsynError(f"n must be a positive integer, got {n!r}")
    if mode not in MODES:
        raise MedsynError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if not 1 <= min_symptoms <= max_symptoms:
        raise MedsynError(f"need 1 <= min_symptoms <= max_symptoms, got {min_symptoms} and {max_symptoms}")
    policy = resolve_policy(temperature, top_k, min_weight, source_weights, inherit, symptom_lists, medsyn_compatible)
    if not 0 <= example_p <= 1:
        raise MedsynError(f"example_p must be in [0, 1], got {example_p}")
    if num_proc < 1:
        raise MedsynError(f"num_proc must be >= 1, got {num_proc}")
    template_idx, template_cdf = _template_mix(templates)
    params = {"min_symptoms": min_symptoms, "max_symptoms": max_symptoms, "temperature": policy.temperature,
              "min_age": min_age, "example_p": example_p, "template_idx": template_idx, "template_cdf": template_cdf,
              "example_template_idx": np.array([TEMPLATE_NAMES.index(t) for t in EXAMPLE_TEMPLATES])}

    pool = apply_policy(kg, policy, level, min_symptoms, example_offset)
    weights = pool.weights * select_codes(kg, pool, codes) if codes else pool.weights
    rs = record_seeds(seed, n)
    if mode == "plan":
        planned = np.repeat(np.arange(len(weights)), allocate(weights, n))
        code_idx = np.empty(n, dtype=np.int64)
        code_idx[np.argsort(uniforms(rs, ORDER), kind="stable")] = planned
    else:
        cdf = np.cumsum(weights)
        code_idx = np.searchsorted(cdf / cdf[-1], uniforms(rs, CODE), side="right")

    bounds = np.linspace(0, n, min(num_proc, n) + 1).astype(np.int64)
    chunks = [(pool, code_idx[a:b], rs[a:b], params) for a, b in zip(bounds[:-1], bounds[1:])]
    if len(chunks) == 1:
        tables = [_sample_chunk(*chunks[0])]
    else:
        with multiprocessing.get_context("fork").Pool(len(chunks)) as workers:
            tables = workers.starmap(_sample_chunk, chunks)
    table = pa.concat_tables(tables).cast(PRIORS_FEATURES.arrow_schema)
    # an explicit fingerprint: datasets would otherwise hash (pickle) the whole table
    return Dataset(InMemoryTable(table), info=DatasetInfo(features=PRIORS_FEATURES),
                   fingerprint=generate_random_fingerprint())


# -- CLI ------------------------------------------------------------------------------------------------------------
def _parse_templates(items):
    if not items:
        return None
    weights = {}
    for item in items:
        name, _, weight = item.partition("=")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise MedsynError(f"template weight must be a number: {item!r}") from None
    return weights


def _priors(args):
    import datasets

    from medsyn_hf.kg import load_graph

    if args.json:
        datasets.disable_progress_bars()
    kind = "file" if Path(args.out).suffix == ".parquet" else "dir"
    output = dict(command="medsyn priors", inputs=[args.graph, args.symptom_lists], overwrite=args.overwrite,
                  kind=kind, owned=_is_priors_file if kind == "file" else None)
    check_output(args.out, **output)
    start = time.perf_counter()
    kg = load_graph(args.graph)
    build_pool(kg, args.level, args.min_symptoms, args.example_offset)  # timed apart: one-off, cached
    ready = time.perf_counter()
    ds = sample_priors(
        kg, args.n, seed=args.seed, mode=args.mode, codes=args.codes, level=args.level, min_symptoms=args.min_symptoms,
        max_symptoms=args.max_symptoms, temperature=args.temperature, min_age=args.min_age, example_p=args.example_p,
        templates=_parse_templates(args.templates), example_offset=args.example_offset, num_proc=args.num_proc,
        top_k=args.top_k, min_weight=args.min_weight, source_weights=parse_source_weights(args.source_weights),
        inherit=args.inherit, symptom_lists=args.symptom_lists, medsyn_compatible=args.medsyn_compatible,
    )
    sampled = time.perf_counter()
    out = Path(args.out)
    with safe_output(out, **output) as tmp:
        if kind == "file":
            ds.to_parquet(str(tmp))
        else:
            ds.save_to_disk(str(tmp))
    done = time.perf_counter()
    report = {"n": ds.num_rows, "codes": len(set(ds["code"])), "seconds": round(done - start, 3),
              "priors_per_s": round(ds.num_rows / (done - start)), "setup_seconds": round(ready - start, 3),
              "sample_seconds": round(sampled - ready, 3), "write_seconds": round(done - sampled, 3),
              "sample_priors_per_s": round(ds.num_rows / (sampled - ready)), "out": str(out)}
    if args.json:  # how realistic and varied the symptoms are (medsyn_hf.priors_realism), against the train notes
        from medsyn_hf.priors_realism import realism

        report["realism_train"] = realism(ds)
    print(json.dumps(report, ensure_ascii=False) if args.json else
          f"{report['n']} priors over {report['codes']} codes -> {out} in {report['seconds']} s "
          f"(sampling {report['sample_priors_per_s']} priors/s)")


def _resources(args):
    report = build_resources(args.sources, args.out)
    print(json.dumps(report) if args.json else
          f"{report['examples']} example notes ({report['example_categories']} categories) and demographics -> "
          f"{report['out']}")


def add_cli(subparsers) -> None:
    from medsyn_hf.validate import int_arg

    p = subparsers.add_parser("priors", help="sample priors (code, symptoms, patient, example) with prompts")
    p.add_argument("--n", type=int_arg(1, MAX_PRIORS), required=True,
                   help=f"number of priors (at most {MAX_PRIORS:,})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (Dataset.save_to_disk) or a .parquet file; an existing "
                   "one only if `medsyn priors` wrote it, or with --overwrite")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output `medsyn priors` did not write")
    p.add_argument("--mode", choices=MODES, default="plan", help="plan: counts ∝ code weights; random: i.i.d. draws")
    p.add_argument("--codes", nargs="+", help="restrict to these codes, subtrees (K29, K20-K31, XI) or prefixes (K2)")
    p.add_argument("--level", choices=LEVELS, default="code",
                   help="code: every code with symptoms of its own; category: 3-character categories (default: code)")
    p.add_argument("--min-symptoms", type=int, default=2,
                   help="fewest symptoms per prior; codes with fewer are not sampled (default: %(default)s)")
    p.add_argument("--max-symptoms", type=int, default=5, help="most symptoms per prior (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"softmax temperature over the symptoms' scores (default: {DEFAULTS['temperature']}; "
                        f"--medsyn-compatible: {MEDSYN['temperature']})")
    p.add_argument("--top-k", type=int, default=None,
                   help=f"keep each code's k best-scored symptoms, 0: all (default: {DEFAULTS['top_k']})")
    p.add_argument("--min-weight", type=float, default=None,
                   help=f"drop symptoms scored below this; a code keeps --min-symptoms (default: {DEFAULTS['min_weight']})")
    p.add_argument("--source-weights", nargs="+", metavar="SOURCE=X", default=None,
                   help="multiply each MKG source's 0-10 weight, unlisted sources 1 (default: " +
                        " ".join(f"{k}={v}" for k, v in DEFAULTS["source_weights"].items()) + ")")
    p.add_argument("--inherit", type=float, default=None,
                   help=f"a subcode also draws its category's own symptoms at this share of their score, 0: off "
                        f"(default: {DEFAULTS['inherit']})")
    p.add_argument("--symptom-lists", default=None, metavar="FILE",
                   help="JSON/YAML {code: [symptom, ...]} or {code: {symptom: weight}} replacing those codes' lists")
    p.add_argument("--medsyn-compatible", action="store_true",
                   help="MedSyn's symptom draw (all MKG symptoms, softmax(weight / 10)); explicit options still apply")
    p.add_argument("--min-age", type=int, default=18, help="youngest patient (default: %(default)s)")
    p.add_argument("--example-p", type=float, default=0.5,
                   help="probability of an example-conditioned prompt when the category has notes (default: 0.5)")
    free = [t for t in TEMPLATE_NAMES if t not in EXAMPLE_TEMPLATES]
    p.add_argument("--templates", nargs="+", metavar="NAME[=WEIGHT]",
                   help=f"example-free template mix (default: all equally): {', '.join(free)}")
    p.add_argument("--example-offset", type=int, default=1,
                   help="added to N_exmp in the code weights; MedSyn's 0 drops codes without notes (default: 1)")
    p.add_argument("--num-proc", type=int, default=1, help="worker processes (same output for any value)")
    p.add_argument("--graph", default=None, help="MKG file (default: the packaged graph)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=_priors)

    r = subparsers.add_parser("priors-resources", help="compile demographics.json and examples.parquet (deterministic)")
    r.add_argument("--sources", default="data/sources", help="folder laid out like data/sources (default: %(default)s)")
    r.add_argument("--out", required=True, help=f"output folder (the package's is {resources_dir()})")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_resources)
