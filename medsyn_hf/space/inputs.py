"""Checks of what a visitor types: text, numbers in range, and a prior edited by hand in the Generate tab.

Every check raises one :class:`MedsynError` line naming the field, the value and what is allowed.
"""

from __future__ import annotations

import json

from medsyn_hf.errors import MedsynError
from medsyn_hf.kg import load_graph
from medsyn_hf.prompts import TEMPLATE_NAMES

MAX_QUERY = 200
MAX_PRIORS = 20
PRIOR_TEMPERATURE = (0.1, 100.0)
TEMPERATURE = (0.0, 2.0)
MAX_NEW_TOKENS = 512
MAX_SEED = 2**32 - 1  # as `medsyn generate`'s seed (medsyn_hf.generation.config)
PRIOR_SEED = (-(2**63), 2**63 - 1)  # a prior's own seed (PRIORS_FEATURES: int64)
MAX_SYMPTOMS = 10
MAX_SYMPTOM_CHARS = 100
MAX_PRIOR_CHARS = 20_000
MAX_PROMPT_CHARS = 6_000
MAX_ROWS = 500
# The fields of a prior shown and edited in the Generate tab; `seed` (the prior's own) keys its note's sampling.
PRIOR_KEYS = (
    "code",
    "code_name_ru",
    "symptoms",
    "age",
    "sex",
    "location",
    "marital",
    "smoking",
    "example",
    "template",
    "seed",
)


def text(value, name: str, limit: int, required: bool = True) -> str:
    if not isinstance(value, (str, type(None))):
        raise MedsynError(f"{name} must be text, got {value!r}")
    value = (value or "").strip()
    if required and not value:
        raise MedsynError(f"{name} is empty")
    if len(value) > limit:
        raise MedsynError(f"{name} is too long ({len(value)} characters; at most {limit})")
    return value


def number(value, name: str, lo: float, hi: float, integer: bool = False):
    if integer and isinstance(value, int) and not isinstance(value, bool):  # exact: a float loses big seeds' digits
        x = value
    else:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise MedsynError(f"{name} must be a number, got {value!r}") from None
    if not lo <= x <= hi:
        raise MedsynError(f"{name} must be between {lo} and {hi}, got {value}")
    if integer and not float(x).is_integer():
        raise MedsynError(f"{name} must be a whole number, got {value}")
    return int(x) if integer else x


def parse_prior(value: str) -> dict:
    """A prior as typed or edited in the Generate tab, checked field by field (a missing seed is 0)."""
    try:
        prior = json.loads(text(value, "prior", MAX_PRIOR_CHARS))
    except json.JSONDecodeError as err:
        raise MedsynError(f"prior is not valid JSON ({err})") from None
    if not isinstance(prior, dict):
        raise MedsynError("prior must be a JSON object")
    unknown = sorted(set(prior) - set(PRIOR_KEYS))
    if unknown:
        raise MedsynError(f"unknown prior field(s) {', '.join(unknown)}; allowed: {', '.join(PRIOR_KEYS)}")
    prior["code"] = load_graph().resolve(text(prior.get("code"), "prior code", 20))
    symptoms = prior.get("symptoms")
    if not (
        isinstance(symptoms, list)
        and 1 <= len(symptoms) <= MAX_SYMPTOMS
        and all(isinstance(s, str) and 0 < len(s.strip()) <= MAX_SYMPTOM_CHARS for s in symptoms)
    ):
        raise MedsynError(
            f"prior symptoms must be a list of 1-{MAX_SYMPTOMS} non-empty strings of at most "
            f"{MAX_SYMPTOM_CHARS} characters"
        )
    if prior.get("age") is not None:
        prior["age"] = number(prior["age"], "age", 0, 120, integer=True)
    for key in ("code_name_ru", "sex", "location", "marital", "example", "template"):
        if not isinstance(prior.get(key), (str, type(None))):
            raise MedsynError(f"prior {key} must be text or null")
    if not isinstance(prior.get("smoking"), (bool, type(None))):
        raise MedsynError("prior smoking must be true, false or null")
    prior["template"] = prior.get("template") or TEMPLATE_NAMES[0]
    prior["seed"] = number(prior.get("seed") or 0, "prior seed", *PRIOR_SEED, integer=True)
    return prior
