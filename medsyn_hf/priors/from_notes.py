"""A prior rebuilt from a real note: what the ``complaints`` template would have been given to write it — the note's
category, the MKG symptoms it voices, a sampled patient and style exemplars of other categories.

The complaint-writing instruction task (``medsyn_hf.ift.tasks.complaint_writing``: prompt from such a prior, the real
complaint as the answer), the writer's complaint stage (`medsyn tiny-model --pretrain --complaint-share`) and its
validation on held-out train complaints (benchmarks/tiny_writer_complaints.py) are made of them.

- Symptoms: the category's MKG symptoms the note voices, by the rule that put RuMedTop3's symptoms into the MKG
  (``medsyn_hf.kg.build.complaint_symptoms``: every content lemma in one clause, sentences with a negation skipped),
  so the real note mentions each of them as the symptom-recall filter counts it; at most ``max_symptoms`` of them,
  in a seeded order. A note voicing none gives no prior.
- Patient: drawn as the sampler draws one (``medsyn_hf.demographics``; sex-specific categories get their sex). The
  note's own words are not parsed for age or sex: RuMedTop3 complaints rarely state them.
- Style exemplars: ``medsyn_hf.priors.style`` (never the note's own category, so never the note itself).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from medsyn_hf.demographics import LOCATIONS, MARITAL, SEXES, sample_patients
from medsyn_hf.kg.build import complaint_symptoms
from medsyn_hf.priors.pool import sex_restriction
from medsyn_hf.priors.rng import CELL, MARRIED, SHUFFLE, SMOKING, uniforms
from medsyn_hf.priors.style import StylePool, category_of, draw_style
from medsyn_hf.prompts import render_messages

TEMPLATE = "complaints"


def note_seed(seed: int, *key) -> np.ndarray:
    """A record seed (uint64, shape (1,)) for one note: a hash of (seed, key), whatever else is in the data."""
    digest = hashlib.sha256("|".join(map(str, (seed, *key))).encode()).digest()
    return np.array([int.from_bytes(digest[:8], "big")], dtype=np.uint64)


def voiced_symptoms(kg, code: str, text: str) -> list[str]:
    """The MKG symptoms of ``code``'s category that ``text`` voices, heaviest first ([] for a code the MKG lacks);
    a symptom whose words are part of another voiced one's is left out ('боль' beside 'боль в плече')."""
    category = category_of(code)
    if not kg.has_code(category):
        return []
    symptoms = kg.symptoms(category)
    vocabulary = {s.key: Counter({s.name: 1}) for s in symptoms}
    found = complaint_symptoms([{"code": category, "text": text}], vocabulary)[category]
    voiced = [s for s in symptoms if s.name in found]
    words = {s.key: set(s.key.split()) for s in voiced}
    return [s.name for s in voiced if not any(words[s.key] < other for other in words.values())]


def complaint_prior(
    kg, code: str, text: str, rs: np.ndarray, pool: StylePool, style_examples: int, max_symptoms: int = 5
) -> dict | None:
    """The prior of one real complaint (``rs``: its record seed, ``note_seed``), with its rendered ``messages``;
    None when the note voices no MKG symptom of its category."""
    voiced = voiced_symptoms(kg, code, text)
    if not voiced:
        return None
    weight = {s.name: s.weight for s in kg.symptoms(category_of(code))}
    order = np.argsort(uniforms(rs, SHUFFLE, len(voiced))[0], kind="stable")
    category = category_of(code)
    restriction = np.array([sex_restriction(kg, category)])
    sex, age, loc, married, smoking = sample_patients(
        restriction, uniforms(rs, CELL), uniforms(rs, MARRIED), uniforms(rs, SMOKING)
    )
    style = draw_style(pool, [category], rs, style_examples)[0].as_py() or None
    prior = {
        "code": category,
        "code_name_ru": kg.graph.nodes[category]["name_ru"],
        "category": category,
        "symptoms": [voiced[i] for i in order[:max_symptoms]],
        "symptom_weights": [weight[voiced[i]] for i in order[:max_symptoms]],
        "age": int(age[0]),
        "sex": SEXES[sex[0]],
        "location": LOCATIONS[loc[0]],
        "marital": MARITAL[int(married[0])],
        "smoking": bool(smoking[0]),
        "example": None,
        "example_source": None,
        "template": TEMPLATE,
        "style_examples": style,
    }
    return {**prior, "messages": render_messages(prior, TEMPLATE), "seed": int(rs.view(np.int64)[0])}
