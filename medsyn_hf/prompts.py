"""Priors -> Russian chat messages (system + user), from the named templates in ``templates/prompts.yaml``.

``render_messages`` takes a plain dict, so notes sampled elsewhere (the MedSyn GPT notes) can be re-rendered with the
same wording; facts a prior lacks (age, location, ...) are simply left out of the patient description. A template with
a ``{style_examples}`` field shows the prior's style exemplars (real notes of other codes) in its ``style`` block, and
nothing when the prior carries none.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from medsyn_hf.errors import MedsynError

TEMPLATES_PATH = Path(__file__).parent / "templates" / "prompts.yaml"


@dataclass(frozen=True)
class Template:
    name: str
    system: str
    user: str
    description: str
    needs_example: bool
    fields: frozenset  # str.format fields the user message uses
    parts: tuple  # the user message as (literal, field or None) pairs, for the vectorised renderer
    style: tuple  # the style block's text before and after its {examples} ("", "") without one
    default_mix: bool  # drawn by the default template mix (False: only when a mix names it)


def _template(name: str, spec: dict) -> Template:
    user = spec["user"].strip()
    parts = tuple((literal, field) for literal, field, _, _ in string.Formatter().parse(user))
    fields = frozenset(field for _, field in parts if field)
    style = spec.get("style", "").strip()
    if ("style_examples" in fields) != bool(style) or (style and style.count("{examples}") != 1):
        raise MedsynError(f"template {name!r}: a {{style_examples}} field needs a style block with one {{examples}}")
    before, _, after = style.partition("{examples}")
    return Template(
        name=name,
        system=spec["system"].strip(),
        user=user,
        description=spec.get("description", ""),
        needs_example=bool(spec.get("needs_example", False)),
        fields=fields,
        parts=parts,
        style=(before, after),
        default_mix=bool(spec.get("default_mix", True)),
    )


def load_templates(path: str | Path = TEMPLATES_PATH) -> dict[str, Template]:
    """Templates in file order; the first is the default wherever one must be picked."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return {name: _template(name, t) for name, t in spec["templates"].items()}


TEMPLATES = load_templates()
TEMPLATE_NAMES = tuple(TEMPLATES)
EXAMPLE_TEMPLATES = tuple(n for n, t in TEMPLATES.items() if t.needs_example)
DEFAULT_MIX = tuple(n for n, t in TEMPLATES.items() if t.default_mix and not t.needs_example)
STYLE_BULLET = "— "  # each style exemplar is one line of the style block


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise MedsynError(f"unknown prompt template {name!r}; choose from {', '.join(TEMPLATE_NAMES)}") from None


def age_ru(age: int) -> str:
    """'21 год', '34 года', '45 лет' (Russian plural of 'year')."""
    age = int(age)
    if age % 10 == 1 and age % 100 != 11:
        return f"{age} год"
    if 2 <= age % 10 <= 4 and not 12 <= age % 100 <= 14:
        return f"{age} года"
    return f"{age} лет"


_NOUN = {"male": ("мальчик", "юноша", "мужчина"), "female": ("девочка", "девушка", "женщина")}
_MARRIED = {"male": ("женат", "не женат"), "female": ("замужем", "не замужем"), None: ("в браке", "не в браке")}
_LOCATION = {"city": "живёт в городе", "countryside": "живёт в сельской местности"}


def _is_married(marital) -> bool | None:
    """'married'/'single' as the sampler writes it; bools and 0/1 (MedSyn notes' marital_state) are accepted too."""
    if marital is None or isinstance(marital, (bool, int)):
        return None if marital is None else bool(marital)
    if marital in ("married", "single"):
        return marital == "married"
    raise MedsynError(f"marital must be 'married' or 'single', got {marital!r}")


@lru_cache(maxsize=4096)
def patient_description(sex=None, age=None, location=None, marital=None, smoking=None) -> str:
    """'женщина, 34 года, замужем, не курит, живёт в городе'; unknown facts left out ('нет сведений' if all are)."""
    if sex not in (None, "male", "female"):
        raise MedsynError(f"sex must be 'male' or 'female', got {sex!r}")
    if location not in (None, *_LOCATION):
        raise MedsynError(f"location must be 'city' or 'countryside', got {location!r}")
    adult = age is None or age >= 18
    parts = []
    if sex is not None:
        parts.append(_NOUN[sex][2 if adult else 1 if age >= 14 else 0])
    if age is not None:
        parts.append(age_ru(age))
    married = _is_married(marital)
    if married is not None and adult:
        parts.append(_MARRIED[sex][0 if married else 1])
    if smoking is not None:
        parts.append("курит" if smoking else "не курит")
    if location is not None:
        parts.append(_LOCATION[location])
    return ", ".join(parts) or "нет сведений"


def example_words(example: str) -> int:
    """Length the example-conditioned prompt asks for: the example's word count rounded to tens (at least 10)."""
    return max(10, round(len(example.split()), -1))


def style_block(template: Template, examples) -> str:
    """The template's style block showing ``examples`` (one line each), or "" when there are none."""
    if not examples:
        return ""
    before, after = template.style
    return before + "\n".join(STYLE_BULLET + e for e in examples) + after + "\n\n"


def render_user(
    template: Template, symptoms, code=None, code_name_ru=None, example=None, patient=None, style_examples=None
) -> str:
    """The user message; ``patient`` is a ``patient_description`` string (callers rendering many priors cache it)."""
    if not len(symptoms):
        raise MedsynError("a prior needs at least one symptom")
    if template.needs_example and not example:
        raise MedsynError(f"template {template.name!r} needs a prior with an example note")
    values = {
        "symptoms": ", ".join(symptoms),
        "code": code,
        "code_name_ru": code_name_ru,
        "patient": patient,
        "style_examples": style_block(template, style_examples),
    }
    if template.needs_example:
        values.update(example=example.strip(), example_words=example_words(example))
    missing = sorted(f for f in template.fields if values.get(f) is None)
    if missing:
        raise MedsynError(f"template {template.name!r} needs prior field(s) {', '.join(missing)}")
    return template.user.format(**values)


def _style_blocks(template: Template, examples):
    """``style_block`` over a list array (null or empty lists: "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    before, after = template.style
    lines = pc.binary_join(examples, "\n" + STYLE_BULLET)
    block = pc.binary_join_element_wise(before + STYLE_BULLET, lines, after + "\n\n", "")
    shown = pc.fill_null(pc.greater(pc.list_value_length(examples), 0), False)
    return pc.if_else(shown, block, pa.scalar("", pa.string()))


def render_users(template_idx, symptoms, code, code_name_ru, example, patient, style_examples=None):
    """``render_user`` over Arrow columns (``template_idx`` indexes TEMPLATE_NAMES): same text, no per-row Python."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    template_idx = np.asarray(template_idx)
    example = pc.utf8_trim_whitespace(example)
    n_words = pc.list_value_length(pc.utf8_split_whitespace(example)).cast(pa.float64())  # as in example_words
    words = pc.max_element_wise(pc.round(n_words, ndigits=-1, round_mode="half_to_even"), 10).cast(pa.int64())
    values = {
        "symptoms": pc.binary_join(symptoms, ", "),
        "code": code,
        "code_name_ru": code_name_ru,
        "patient": patient,
        "example": example,
        "example_words": words.cast(pa.string()),
    }
    shown = style_examples if style_examples is not None else pa.nulls(len(template_idx), pa.list_(pa.string()))
    out, rows = [], []
    for t in np.unique(template_idx):
        template = TEMPLATES[TEMPLATE_NAMES[t]]
        where = np.flatnonzero(template_idx == t)
        take = pa.array(where)
        if "style_examples" in template.fields:  # the block's wording is the template's own
            values["style_examples"] = _style_blocks(template, shown)
        pieces = [
            piece
            for literal, field in template.parts
            for piece in (pa.scalar(literal) if literal else None, values[field].take(take) if field else None)
            if piece is not None
        ]
        rendered = pc.binary_join_element_wise(*pieces, "")
        if rendered.null_count:
            raise MedsynError(f"template {template.name!r} is missing a field ({', '.join(sorted(template.fields))})")
        out.append(rendered)
        rows.append(where)
    order = np.argsort(np.concatenate(rows), kind="stable")
    return pa.concat_arrays(out).take(pa.array(order))


def render_messages(prior: dict, template: str) -> list[dict]:
    """Chat messages for one prior (keys as in PRIORS_FEATURES; only ``symptoms`` is always required)."""
    tpl = get_template(template)
    age = prior.get("age")
    patient = patient_description(
        prior.get("sex"),
        None if age is None else int(age),
        prior.get("location"),
        prior.get("marital"),
        prior.get("smoking"),
    )
    user = render_user(
        tpl,
        list(prior.get("symptoms") or ()),
        prior.get("code"),
        prior.get("code_name_ru"),
        prior.get("example"),
        patient,
        prior.get("style_examples"),
    )
    return [{"role": "system", "content": tpl.system}, {"role": "user", "content": user}]
