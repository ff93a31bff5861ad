"""Sampling priors: codes by plan or at random, symptoms by successive sampling, patients, example notes, templates
and the chat prompt, one vectorised chunk at a time."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pyarrow as pa

from medsyn_hf.demographics import LOCATIONS, MARITAL, SEXES, sample_patients
from medsyn_hf.errors import MedsynError
from medsyn_hf.priors.policy import MODES, PriorsPolicy
from medsyn_hf.priors.pool import Pool, allocate, select_codes
from medsyn_hf.priors.resources import load_examples
from medsyn_hf.priors.rng import (
    CELL,
    CODE,
    EXAMPLE,
    MARRIED,
    N_SYMPTOMS,
    ORDER,
    SHUFFLE,
    SMOKING,
    SYMPTOM,
    TEMPLATE,
    WANTS_EXAMPLE,
    record_seeds,
    uniforms,
)
from medsyn_hf.priors.style import StylePool, draw_style, packaged_pool
from medsyn_hf.priors.symptoms import apply_policy, resolve_policy
from medsyn_hf.prompts import (
    DEFAULT_MIX,
    EXAMPLE_TEMPLATES,
    TEMPLATE_NAMES,
    TEMPLATES,
    get_template,
    patient_description,
    render_users,
)

MAX_PRIORS = 10_000_000  # ~10 GB of prompts in memory; a larger --n is a typo, not a plan
MAX_STYLE_EXAMPLES = 20  # at most MAX_WORDS words each: a prompt, not a corpus
EXAMPLE_SOURCE = "rumedtop3/train:"


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
    patients = _strings(
        patient_description(
            SEXES[c >> 11], c & 255, LOCATIONS[(c >> 10) & 1], MARITAL[(c >> 9) & 1], bool((c >> 8) & 1)
        )
        for c in uniq.tolist()
    )
    style = _style(pool, code_idx, rs, template, p)
    users = render_users(template, symptoms, codes, names, example, patients.take(pa.array(inverse)), style)
    systems = _strings(TEMPLATES[t].system for t in TEMPLATE_NAMES).take(pa.array(template))
    n = len(code_idx)
    contents = pa.concat_arrays([systems, users]).take(pa.array(np.stack([np.arange(n), np.arange(n) + n], 1).ravel()))
    roles = _strings(["system", "user"]).take(pa.array(np.tile(np.array([0, 1], np.int8), n)))
    return pa.table(
        {
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
            "style_examples": style,
            "messages": pa.ListArray.from_arrays(
                pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                pa.StructArray.from_arrays([roles, contents], names=["role", "content"]),
            ),
            "seed": pa.array(rs.view(np.int64)),
        }
    )


def _style(pool: Pool, code_idx, rs, template, p) -> pa.Array:
    """Each record's style exemplars where its template shows them, else null."""
    n = len(code_idx)
    shows = np.isin(template, p["style_template_idx"])
    if not p["style_examples"] or not shows.any():
        return pa.nulls(n, pa.list_(pa.string()))
    drawn = draw_style(p["style_pool"], pool.categories[code_idx], rs, p["style_examples"])
    return pa.ListArray.from_arrays(drawn.offsets, drawn.values, mask=pa.array(~shows))


def _template_mix(templates) -> tuple[np.ndarray, np.ndarray]:
    """(template indices, CDF) of the example-free mix: None = the default mix (DEFAULT_MIX), equally likely."""
    if templates is None:
        templates = DEFAULT_MIX
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


def _counts(pool: Pool, counts, n: int) -> np.ndarray:
    """Per pool code, the priors ``counts`` asks for; every code must be a pool code and the sum n."""
    index = {code: i for i, code in enumerate(pool.codes)}
    unknown = sorted(set(counts) - set(index))
    if unknown:
        raise MedsynError(f"counts: {', '.join(unknown[:5])} not sampleable codes at this level")
    per_code = np.zeros(len(pool.codes), dtype=np.int64)
    for code, k in counts.items():
        if not (isinstance(k, (int, np.integer)) and k >= 0):
            raise MedsynError(f"counts: {code}={k!r} is not a count")
        per_code[index[code]] = k
    if per_code.sum() != n:
        raise MedsynError(f"counts sum to {per_code.sum()}, not n={n}")
    return per_code


def sample_priors(
    kg, n: int, seed: int = 0, *, num_proc: int = 1, counts=None, style_pool: StylePool | None = None, **options
):
    """n priors as a ``datasets.Dataset`` with PRIORS_FEATURES; identical for the same arguments whatever ``num_proc``.

    ``counts`` ({pool code: priors}, summing to n) fixes how many priors each code gets instead of ``mode`` (a plan
    by deficit, ``medsyn_hf.priors.plan``); the records are shuffled as in plan mode.

    ``style_pool``: the real notes that ``style_examples`` exemplars are drawn from (``medsyn_hf.priors.style``; a
    plan's are the user's own notes), default the packaged RuMedTop3 train notes.

    ``options`` are the fields of ``PriorsPolicy`` (``medsyn_hf.priors.policy``): ``codes`` restricts the pool to
    these codes/subtrees/prefixes; ``templates``: example-free template names, or {name: weight}. Symptom policy
    (``medsyn_hf.priors.symptoms``; None takes its default, MedSyn's under ``medsyn_compatible``): ``temperature``,
    ``top_k``, ``min_weight``, ``source_weights`` {source: multiplier}, ``inherit`` (a subcode's share of its
    category's symptoms), ``symptom_lists`` per-code lists (a dict or a JSON/YAML file). See the package docstring
    for everything else.
    """
    from datasets import Dataset, DatasetInfo
    from datasets.fingerprint import generate_random_fingerprint
    from datasets.table import InMemoryTable

    from medsyn_hf.schemas import PRIORS_FEATURES

    o = PriorsPolicy(**options)
    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise MedsynError(f"n must be a positive integer, got {n!r}")
    if o.mode not in MODES:
        raise MedsynError(f"unknown mode {o.mode!r}; choose from {', '.join(MODES)}")
    if not 1 <= o.min_symptoms <= o.max_symptoms:
        raise MedsynError(f"need 1 <= min_symptoms <= max_symptoms, got {o.min_symptoms} and {o.max_symptoms}")
    policy = resolve_policy(
        o.temperature, o.top_k, o.min_weight, o.source_weights, o.inherit, o.symptom_lists, o.medsyn_compatible
    )
    if not 0 <= o.example_p <= 1:
        raise MedsynError(f"example_p must be in [0, 1], got {o.example_p}")
    if num_proc < 1:
        raise MedsynError(f"num_proc must be >= 1, got {num_proc}")
    if not 0 <= o.style_examples <= MAX_STYLE_EXAMPLES:
        raise MedsynError(f"style_examples must be in [0, {MAX_STYLE_EXAMPLES}], got {o.style_examples}")
    template_idx, template_cdf = _template_mix(o.templates)
    params = {
        "min_symptoms": o.min_symptoms,
        "max_symptoms": o.max_symptoms,
        "temperature": policy.temperature,
        "min_age": o.min_age,
        "example_p": o.example_p,
        "template_idx": template_idx,
        "template_cdf": template_cdf,
        "example_template_idx": np.array([TEMPLATE_NAMES.index(t) for t in EXAMPLE_TEMPLATES]),
        "style_examples": o.style_examples,
        "style_template_idx": np.array(
            [i for i, t in enumerate(TEMPLATE_NAMES) if "style_examples" in TEMPLATES[t].fields]
        ),
        "style_pool": (style_pool or packaged_pool()) if o.style_examples else None,
    }

    pool = apply_policy(kg, policy, o.level, o.min_symptoms, o.example_offset)
    weights = pool.weights * select_codes(kg, pool, o.codes) if o.codes else pool.weights
    rs = record_seeds(seed, n)
    if counts is not None or o.mode == "plan":
        per_code = allocate(weights, n) if counts is None else _counts(pool, counts, n)
        planned = np.repeat(np.arange(len(weights)), per_code)
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
    return Dataset(
        InMemoryTable(table), info=DatasetInfo(features=PRIORS_FEATURES), fingerprint=generate_random_fingerprint()
    )
