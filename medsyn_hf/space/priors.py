"""The Priors tab: priors drawn by ``medsyn_hf.priors.sample_priors`` with `medsyn generate`'s seed scheme, so the
prior of row r for seed s is the one `medsyn generate` (``seed: s``, ``priors_mode: random``, the same codes, symptom
temperature and template mix, ``num_priors`` at least r + 1) writes a note for, and its note is the Generate tab's
for the same seed."""

from __future__ import annotations

import json
import re

import pandas as pd

from medsyn_hf.kg import load_graph
from medsyn_hf.priors import sample_priors
from medsyn_hf.priors.symptoms import DEFAULTS, provenance
from medsyn_hf.prompts import get_template, patient_description
from medsyn_hf.space.inputs import MAX_PRIORS, MAX_QUERY, MAX_SEED, PRIOR_KEYS, PRIOR_TEMPERATURE, number, text

MIX = "mix"  # the sampler's own template mix (examples with probability 0.5)
COLUMNS = ["code", "name", "symptoms", "why (MKG weight 0-10 · sources)", "patient", "template"]
# The tab's examples, `sample`'s arguments (codes, priors, seed, symptom temperature, template, row); the first is
# what the tab opens on. MedSyn's symptom temperature was 10; the Generate tab's examples are their rows.
EXAMPLES = (
    ("J06", 5, 0, DEFAULTS["temperature"], MIX, 0),
    ("I10-I15", 3, 1, 10.0, "anamnesis_patient", 0),
    ("K29, K30", 4, 2, 0.5, "short", 1),
    ("E11", 3, 3, DEFAULTS["temperature"], "example", 2),
)


def example_priors() -> list[str]:
    """The Generate tab's examples: the prior each Priors example shows, as JSON."""
    return [sample(*example)[2] for example in EXAMPLES]


def template_options(template: str) -> dict:
    """Sampler arguments that make every prior use ``template`` (an example template needs a note of the category)."""
    if template == MIX:
        return {}
    if get_template(template).needs_example:
        return {"example_p": 1.0}
    return {"example_p": 0.0, "templates": {template: 1.0}}


def prompt_text(messages: list[dict]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def why_drawn(code: str, symptoms: list[str]) -> str:
    """Each drawn symptom's MKG weight and sources (and the category a subcode inherited it from): why it was drawn."""
    kg, parts = load_graph(), []
    for symptom in symptoms:
        weight, sources, via = provenance(kg, code, symptom)
        parts.append(f"{symptom}: {weight:g} · {', '.join(sources)}{f' (from {via})' if via else ''}")
    return "; ".join(parts)


def sample(codes: str, n, seed, temperature, template: str, row):
    """A table of priors, the rendered prompt of row ``row`` and that prior (with its own seed) as JSON."""
    codes = re.split(r"[,;\s]+", text(codes, "codes", MAX_QUERY, required=False))
    n = number(n, "number of priors", 1, MAX_PRIORS, integer=True)
    row = number(row, "row", 0, n - 1, integer=True)
    priors = sample_priors(
        load_graph(),
        n,
        seed=number(seed, "seed", 0, MAX_SEED, integer=True),
        mode="random",
        codes=[c for c in codes if c] or None,
        temperature=number(temperature, "symptom temperature", *PRIOR_TEMPERATURE),
        **template_options(template),
    ).to_list()
    table = pd.DataFrame(
        [
            (
                p["code"],
                p["code_name_ru"],
                ", ".join(p["symptoms"]),
                why_drawn(p["code"], p["symptoms"]),
                patient_description(p["sex"], p["age"], p["location"], p["marital"], p["smoking"]),
                p["template"],
            )
            for p in priors
        ],
        columns=COLUMNS,
    )
    prior = {k: priors[row][k] for k in PRIOR_KEYS}
    return table, prompt_text(priors[row]["messages"]), json.dumps(prior, ensure_ascii=False, indent=1)
