"""The judge's prompt and its reply: the template (``templates/judge.yaml``), the chat messages of one note, the
JSON schema of a valid reply and the parser that accepts nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.prompts import load_templates
from medsyn_hf.schemas import ASSESSMENT_CRITERIA, SCORE_RANGE

TEMPLATES_PATH = Path(__file__).resolve().parents[2] / "templates" / "judge.yaml"
TEMPLATE_FIELDS = frozenset({"code", "code_name_ru", "symptoms", "note"})
NO_SYMPTOMS = "не указаны"
MAX_REASON_CHARS = 300
CRITERIA = tuple(ASSESSMENT_CRITERIA)


def load_template(name: str | None = None):
    """A judge template (``prompts.Template``) that uses exactly the judge's fields and names every criterion."""
    templates = load_templates(TEMPLATES_PATH)
    name = name or next(iter(templates))
    if name not in templates:
        raise MedsynError(f"unknown judge template {name!r}; choose from {', '.join(templates)}")
    template = templates[name]
    unknown = template.fields - TEMPLATE_FIELDS
    missing = [c for c in CRITERIA if f'"{c}"' not in template.user]
    if unknown or missing or "note" not in template.fields:
        raise MedsynError(
            f"judge template {name!r}: needs the field {{note}}, only {sorted(TEMPLATE_FIELDS)} and "
            f"every criterion as a JSON key (unknown fields {sorted(unknown)}, criteria missing "
            f"{missing})"
        )
    return template


def render(template, note: str, code: str, code_name_ru: str, symptoms) -> list[dict]:
    """The chat messages asking the judge about one note."""
    if symptoms is not None and not isinstance(symptoms, str):
        symptoms = ", ".join(symptoms)
    user = template.user.format(
        note=note.strip(), code=code, code_name_ru=code_name_ru, symptoms=symptoms or NO_SYMPTOMS
    )
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]


def reply_schema() -> dict:
    """The JSON schema of a valid reply (``response_format`` for servers that constrain decoding to it)."""
    low, high = SCORE_RANGE
    properties = {c: {"type": "integer", "enum": list(range(low, high + 1))} for c in CRITERIA}
    return {
        "type": "object",
        "properties": {**properties, "reason": {"type": "string"}},
        "required": [*CRITERIA, "reason"],
        "additionalProperties": False,
    }


def validate_scores(obj) -> dict | None:
    """``{criterion: int, ..., "reason": one line}`` when ``obj`` is a valid reply, else None (nothing is repaired:
    a score outside the range, a float, a string or a boolean makes the reply invalid; extra keys are ignored)."""
    low, high = SCORE_RANGE
    if not isinstance(obj, dict):
        return None
    scores = {}
    for criterion in CRITERIA:
        value = obj.get(criterion)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return None
        scores[criterion] = value
    reason = obj.get("reason")
    reason = " ".join(reason.split())[:MAX_REASON_CHARS] if isinstance(reason, str) else ""
    return {**scores, "reason": reason} if reason else None


def parse_reply(text: str) -> dict | None:
    """The first valid JSON object in a reply (text or a markdown fence around it is skipped), or None."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text or ""):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        scores = validate_scores(obj)
        if scores is not None:
            return scores
    return None
