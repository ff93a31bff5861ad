"""Plan by deficit: count the user's real notes per code, and plan ``ceil((K − n) × F)`` priors for every code with
``n < K`` real notes (``K``: ``fill_to``, ``F``: ``fill_over``, the over-generation that selection later cuts back
to ``K − n``). A code with ``n >= K`` gets none.

The plan's codes are the user's: each counted at the sampler's ``level`` ('category': the 3-character category of
J06.9 is J06; 'code': as given) and looked up in the sampler's pool. A code the MKG lacks, or that has too few
symptoms to prompt (the pool's ``min_symptoms``), or that ``codes`` leaves out, is listed with its reason in the plan
table (and by `medsyn plan` on stderr), never dropped silently.

The options are declared once (``PlanOptions``): `medsyn plan`'s flags and the generate config's keys are made from
its fields. No ``from __future__ import annotations`` here: the generate config's parser reads the field types.

A plan is a folder: the priors (``Dataset.save_to_disk``, what `medsyn priors --out DIR` writes, so
`medsyn generate --dataset_name PLAN` takes it), ``plan.json`` (below) and ``plan.md`` (the same table to read).
The generation run and the published dataset carry ``plan.json`` along.

plan.json::

    {"format": "medsyn-plan/1", "fill_to": K, "fill_over": F, "level": "category", "seed": 0,
     "real": {"source": ..., "text_column": ..., "code_column": ..., "split": ..., "notes": N, "codes": C},
     "totals": {"codes": C, "planned_codes": ..., "full_codes": ..., "unplannable_codes": ..., "need": ...,
                "planned": ...},
     "codes": [{"code": "J02", "name": "...", "real": 3, "need": 77, "planned": 97, "status": "planned"}, ...]}

``need`` is ``max(0, K − n)`` and ``planned`` the priors sampled; ``status`` is one of STATUSES.
"""

import argparse
import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from medsyn_hf.data import load_labelled_notes
from medsyn_hf.errors import MedsynError
from medsyn_hf.priors.policy import PriorsPolicy
from medsyn_hf.priors.pool import LEVELS, build_pool, select_codes
from medsyn_hf.priors.sample import sample_priors
from medsyn_hf.priors.style import MAX_WORDS as MAX_STYLE_WORDS
from medsyn_hf.priors.style import StylePool, style_pool
from medsyn_hf.textfile import read_json
from medsyn_hf.validate import float_arg, int_arg

PLAN_FILE = "plan.json"
PLAN_TABLE = "plan.md"
FORMAT = "medsyn-plan/1"
MAX_FILL_TO = 1_000_000
MAX_OVER = 100.0
STATUSES = {
    "planned": "fewer than K real notes: ceil((K − n) × F) priors planned",
    "full": "K or more real notes: none planned",
    "not_in_mkg": "the MKG has no such code: none planned",
    "too_few_symptoms": "the MKG has too few symptoms of it to prompt (fewer than min_symptoms): none planned",
    "not_selected": "left out by `codes`: none planned",
}
_ICD = re.compile(r"^[A-Z]\d\d(?:\.\w+)?$")


def _option(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class PlanOptions:
    """What a plan by deficit reads and how much it plans: the generate config's keys (the field names) and, named
    as FLAGS says, `medsyn plan`'s flags."""

    real_dataset: str | None = _option(
        None,
        "the user's real notes (RuMedTop3 jsonl, a JSONL/parquet file with text and code columns, a folder or a Hub "
        "id): a plan counts them per code, selection compares the notes with them",
    )
    real_text_column: str | None = _option(
        None, "text column of the real notes (default: the first of response, text, symptoms)"
    )
    real_code_column: str | None = _option(
        None, "ICD-10 column of the real notes (default: the first of ICD-10, icd10, code)"
    )
    real_split: str | None = _option(None, "split of the real notes (default: train, or the only one)")
    fill_to: int | None = _option(
        None, "K: plan notes for every code with fewer than K real notes, K − n each (times fill_over)"
    )
    fill_over: float = _option(
        1.0, "F: plan ceil((K − n) × F) priors per code, F ≥ 1, for selection to keep the best K − n"
    )

    def __post_init__(self):
        check_options(self.fill_to, self.fill_over)


# `medsyn plan`'s flag and metavar for each PlanOptions field (a command line's brief names; the config keeps the
# long ones)
FLAGS = {
    "real_dataset": ("--real", "DATA"),
    "real_text_column": ("--text-column", "COLUMN"),
    "real_code_column": ("--code-column", "COLUMN"),
    "real_split": ("--split", "SPLIT"),
    "fill_to": ("--fill-to", "K"),
    "fill_over": ("--over", "F"),
}


def check_options(fill_to, fill_over) -> None:
    if fill_to is not None and not (isinstance(fill_to, int) and 1 <= fill_to <= MAX_FILL_TO):
        raise MedsynError(f"fill_to: {fill_to!r} is out of range; allowed: an integer from 1 to {MAX_FILL_TO:,}")
    if not (isinstance(fill_over, (int, float)) and 1 <= fill_over <= MAX_OVER):
        raise MedsynError(f"fill_over: {fill_over!r} is out of range; allowed: from 1 to {MAX_OVER:g}")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """`medsyn plan`'s flags from PlanOptions; ``--real`` and ``--fill-to`` are required there."""
    types = {"fill_to": int_arg(1, MAX_FILL_TO), "fill_over": float_arg(1, MAX_OVER)}
    for f in fields(PlanOptions):
        required = f.name in ("real_dataset", "fill_to")
        flag, metavar = FLAGS[f.name]
        parser.add_argument(
            flag,
            metavar=metavar,
            dest=f.name,
            type=types.get(f.name, str),
            default=f.default,
            required=required,
            help=f.metadata["help"],
        )


@dataclass(frozen=True)
class Plan:
    """A plan (the module docstring describes the fields, as in plan.json)."""

    fill_to: int
    fill_over: float
    level: str
    seed: int
    real: dict
    codes: list[dict]

    @property
    def counts(self) -> dict[str, int]:
        """Priors to sample per pool code."""
        return {row["code"]: row["planned"] for row in self.codes if row["planned"]}

    @property
    def need(self) -> dict[str, int]:
        """K − n per planned code: how many notes selection keeps at most."""
        return {row["code"]: row["need"] for row in self.codes if row["status"] == "planned"}

    @property
    def unplannable(self) -> list[dict]:
        return [row for row in self.codes if row["status"] not in ("planned", "full")]

    def totals(self) -> dict:
        status = Counter(row["status"] for row in self.codes)
        return {
            "codes": len(self.codes),
            "planned_codes": status["planned"],
            "full_codes": status["full"],
            "unplannable_codes": len(self.unplannable),
            "need": sum(self.need.values()),
            "planned": sum(self.counts.values()),
        }

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self), "totals": self.totals()}


def unit(code: str, level: str, kg=None) -> str:
    """What a real note's code counts as at ``level``: its node id in the MKG when it has one ('j06.9' and a
    Cyrillic 'Ј06' alike), cut to its 3-character category at level 'category'; an unknown code as given."""
    if kg is not None:
        try:
            code = kg.resolve(code)
        except MedsynError:
            pass
    return code[:3] if level == "category" and _ICD.match(code) else code


def planned_priors(need: int, fill_over: float) -> int:
    """ceil(need × F), robust to float error (80 × 1.1 is 88, not 89)."""
    return math.ceil(round(need * fill_over, 9)) if need > 0 else 0


def make_plan(
    kg,
    real_codes: list[str],
    fill_to: int,
    fill_over: float = 1.0,
    *,
    level: str = "code",
    seed: int = 0,
    real: dict | None = None,
    min_symptoms: int = 2,
    example_offset: int = 1,
    codes: list[str] | None = None,
) -> Plan:
    """The plan for these real notes' codes (``real``: where they came from, recorded in the plan)."""
    check_options(fill_to, fill_over)
    if level not in LEVELS:
        raise MedsynError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    counts = Counter(unit(code, level, kg) for code in real_codes)
    if not counts:
        raise MedsynError("the real notes have no codes to plan for")
    pool = build_pool(kg, level, min_symptoms, example_offset)
    index = {code: i for i, code in enumerate(pool.codes)}
    chosen = select_codes(kg, pool, codes) if codes else None
    rows = []
    for code in sorted(counts):
        n = counts[code]
        need = max(0, fill_to - n)
        if code in index:
            status = (
                "not_selected" if chosen is not None and not chosen[index[code]] else "planned" if need else "full"
            )
            name = pool.names[index[code]]
        elif kg.has_code(code):
            status, name = "too_few_symptoms", kg.code(code)["name_ru"]
        else:
            status, name = "not_in_mkg", ""
        planned = planned_priors(need, fill_over) if status == "planned" else 0
        rows.append({"code": code, "name": name, "real": n, "need": need, "planned": planned, "status": status})
    real = {**(real or {}), "notes": len(real_codes), "codes": len(counts)}
    return Plan(fill_to, float(fill_over), level, seed, real, rows)


def real_style_pool(kg, texts: list[str], codes: list[str], source) -> StylePool:
    """The user's real notes as style exemplars, each under its code's MKG category as a plan counts it (a code
    typed 'j06.9' or with a Cyrillic letter is J06's), so that a prior is never shown a note of its own category."""
    category = {code: unit(code, "category", kg) for code in set(codes)}
    pool = style_pool([category[code] for code in codes], texts)
    if not len(pool.texts):
        raise MedsynError(f"{source}: no real note of 1 to {MAX_STYLE_WORDS} words to show as a style exemplar")
    return pool


def sample_plan(kg, options: PlanOptions, *, seed: int = 0, num_proc: int = 1, flags=None, **policy):
    """(the plan for ``options.real_dataset``'s notes, its priors): ``policy`` are ``sample_priors``' options
    (PriorsPolicy fields), which the plan's pool follows too; its ``style_examples`` are drawn from these real notes
    (of other categories than each prior's). ``flags`` name the real notes' column options in messages (the
    generate config's keys by default)."""
    if options.real_dataset is None or options.fill_to is None:
        raise MedsynError("a plan needs the real notes (real_dataset / --real) and K (fill_to / --fill-to)")
    texts, codes = load_labelled_notes(
        options.real_dataset,
        options.real_text_column,
        options.real_code_column,
        options.real_split,
        flags=flags or ("real_text_column", "real_code_column"),
    )
    defaults = PriorsPolicy()
    plan = make_plan(
        kg,
        codes,
        options.fill_to,
        options.fill_over,
        level=policy.get("level", defaults.level),
        seed=seed,
        real={
            "source": str(options.real_dataset),
            "text_column": options.real_text_column,
            "code_column": options.real_code_column,
            "split": options.real_split,
        },
        min_symptoms=policy.get("min_symptoms", defaults.min_symptoms),
        example_offset=policy.get("example_offset", defaults.example_offset),
        codes=policy.get("codes"),
    )
    total = sum(plan.counts.values())
    if not total:
        status = Counter(row["status"] for row in plan.codes)
        raise MedsynError(
            f"nothing to plan: of the {len(plan.codes)} codes of {options.real_dataset}, "
            + ", ".join(f"{n} {name}" for name, n in sorted(status.items()))
            + f" ({STATUSES['full'].split(':')[0]} at K={plan.fill_to}); raise fill_to / --fill-to or check the codes"
        )
    style = real_style_pool(kg, texts, codes, options.real_dataset) if policy.get("style_examples") else None
    return plan, sample_priors(kg, total, seed=seed, num_proc=num_proc, counts=plan.counts, style_pool=style, **policy)


def plan_table(plan: Plan) -> str:
    """plan.md: the totals, then one row per code (code, name, real, need, planned, status)."""
    totals = plan.totals()
    lines = [
        f"# Plan: fill every code up to {plan.fill_to} notes (over-generation × {plan.fill_over:g})",
        "",
        f"Real notes: {plan.real.get('source', '?')} — {plan.real['notes']:,} notes, {plan.real['codes']:,} codes "
        f"(level {plan.level}). Planned: {totals['planned']:,} priors for {totals['planned_codes']:,} codes "
        f"(need {totals['need']:,}); {totals['full_codes']:,} codes already have {plan.fill_to} or more; "
        f"{totals['unplannable_codes']:,} cannot be planned.",
        "",
        "| code | name | real | need | planned | status |",
        "|---|---|---:|---:|---:|---|",
        *(
            f"| {r['code']} | {r['name']} | {r['real']} | {r['need']} | {r['planned']} | {r['status']} |"
            for r in plan.codes
        ),
        "",
        *(f"- `{status}`: {doc}" for status, doc in STATUSES.items()),
    ]
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan) -> bytes:
    """The bytes of plan.json."""
    return (json.dumps(plan.to_json(), ensure_ascii=False, indent=1) + "\n").encode()


def write_plan(folder: Path, plan: Plan) -> None:
    """plan.json and plan.md into ``folder`` (the caller's temporary: outputs are swapped in by io.safe_output)."""
    (folder / PLAN_FILE).write_bytes(plan_json(plan))
    (folder / PLAN_TABLE).write_text(plan_table(plan), encoding="utf-8")


def read_plan(folder: str | Path) -> Plan | None:
    """The plan.json in ``folder``, or None if it has none; a damaged one is an error naming it."""
    path = Path(folder) / PLAN_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    try:
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, not {FORMAT!r}")
        return Plan(**{f: data[f] for f in ("fill_to", "fill_over", "level", "seed", "real", "codes")})
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise MedsynError(f"{path}: not a readable plan ({err}); rerun `medsyn plan`") from None


def plan_of(source: str | Path) -> Plan | None:
    """The plan a dataset carries: plan.json in its folder, or beside it for a file; None for a Hub id or none."""
    path = Path(source)
    folder = path if path.is_dir() else path.parent if path.is_file() else None
    return read_plan(folder) if folder is not None else None
