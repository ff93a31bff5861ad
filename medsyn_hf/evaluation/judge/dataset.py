"""The judged datasets: what is judged (a notes dataset's splits, or an assessment folder's items), the prompts of
their rows, the judge columns added to them, and ``min_score``'s keep/reject rule."""

from __future__ import annotations

from pathlib import Path

import datasets

from medsyn_hf.assessment_folder import is_assessment, load_items
from medsyn_hf.data import pick_column, read_dataset, role_column
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.judge.arguments import CODE_NAME_COLUMNS, COMMAND
from medsyn_hf.evaluation.judge.prompt import CRITERIA, render
from medsyn_hf.filters import FilterConfig, judge_failed
from medsyn_hf.kg import load_graph
from medsyn_hf.schemas import FILTER_FEATURES, JUDGE_FEATURES


def load_input(args) -> tuple[dict, Path | None]:
    """``{split: Dataset}`` to judge (first ``max_notes`` rows of each) and the assessment folder to compare with."""
    if not args.dataset_name:
        raise MedsynError(f"name the notes to judge: {COMMAND} DATASET --config ...")
    source = Path(args.dataset_name)
    assessment = Path(args.assessment) if args.assessment else None
    if is_assessment(source):  # judge its public items
        data = datasets.Dataset.from_list(load_items(source))
        assessment = assessment or source
    else:
        data = read_dataset(source)
    splits = dict(data) if isinstance(data, datasets.DatasetDict) else {"train": data}
    if args.split is not None:
        if args.split not in splits:
            raise MedsynError(f"{source}: no split {args.split!r} (have {', '.join(splits)})")
        splits = {args.split: splits[args.split]}
    splits = {name: ds.select(range(min(len(ds), args.max_notes or len(ds)))) for name, ds in splits.items()}
    splits = {name: ds.flatten_indices() for name, ds in splits.items() if len(ds)}
    if not splits:
        raise MedsynError(f"{source}: the dataset has no rows")
    return splits, assessment


def prompts_for(data, template, args, source) -> list[list[dict]]:
    """Judge messages for every row of ``data``; codes missing from the data are named from the packaged MKG."""
    text = role_column(data, "text", args.text_column, source, flag="--text_column")
    code = role_column(data, "code", args.code_column, source, flag="--code_column")
    name = pick_column(
        data, args.code_name_column, CODE_NAME_COLUMNS, "code_name", source, flag="--code_name_column", required=False
    )
    symptoms = args.symptoms_column or (
        "symptoms" if isinstance(data.features.get("symptoms"), (datasets.Sequence, list)) else None
    )
    if symptoms:
        pick_column(data, symptoms, (), "symptoms", source, flag="--symptoms_column")
    codes = [str(c or "").strip() for c in data[code]]
    if not all(codes):
        raise MedsynError(f"{source}: row {codes.index('')} has no code in column {code!r}")
    names = list(data[name]) if name else [_code_name(c) for c in codes]
    symptom_lists = list(data[symptoms]) if symptoms else [None] * len(data)
    return [
        render(template, note or "", c, n or c, s) for note, c, n, s in zip(data[text], codes, names, symptom_lists)
    ]


def _code_name(code: str) -> str:
    kg = load_graph()
    return kg.code(code)["name_ru"] if kg.has_code(code) else code


def judge_columns(results: list, attempts: list[int], model_name: str) -> dict[str, list]:
    """The JUDGE_FEATURES columns of the judged rows (null scores where the judge gave no valid reply)."""
    criteria = CRITERIA
    columns = {f"judge_{c}": [r[c] if r else None for r in results] for c in criteria}
    columns["judge_score"] = [sum(r[c] for c in criteria) / len(criteria) if r else None for r in results]
    columns["judge_reason"] = [r["reason"] if r else None for r in results]
    columns["judge_model"] = [model_name] * len(results)
    columns["judge_attempts"] = attempts
    return columns


def apply_min_score(splits: dict, min_score: float | None) -> dict:
    """``FilterConfig.min_judge_score`` on judged splits: below it, ``keep`` false and 'judge' in ``filter_reason``
    (the columns are added when missing; an earlier judge's 'judge' is replaced); a published train/rejected pair is
    re-split by ``keep``."""
    if min_score is None:
        return splits
    config = FilterConfig(min_judge_score=min_score)
    out = {}
    for name, ds in splits.items():
        low = judge_failed(ds["judge_score"], config)
        if "filter_reason" in ds.column_names:
            earlier = [[r for r in reason.split(",") if r and r != "judge"] for reason in ds["filter_reason"]]
            keep = [not reasons for reasons in earlier]
        else:
            earlier = [[] for _ in range(len(ds))]
            keep = ds["keep"] if "keep" in ds.column_names else [True] * len(ds)
        reasons = [",".join(r + ["judge"] if bad else r) for r, bad in zip(earlier, low)]
        ds = ds.remove_columns([c for c in ("keep", "filter_reason") if c in ds.column_names])
        ds = ds.add_column("keep", [k and not bad for k, bad in zip(keep, low)], feature=FILTER_FEATURES["keep"])
        out[name] = ds.add_column("filter_reason", reasons, feature=FILTER_FEATURES["filter_reason"])
    if set(out) <= {"train", "rejected"}:
        every = datasets.concatenate_datasets(list(out.values()))
        out = {
            "train": every.filter(lambda k: k, input_columns="keep").flatten_indices(),
            "rejected": every.filter(lambda k: not k, input_columns="keep").flatten_indices(),
        }
        if not len(out["train"]):
            raise MedsynError(f"no note has judge_score >= {min_score} (or the filters dropped it); lower min_score")
        out = {name: ds for name, ds in out.items() if len(ds)}
    return out


def with_columns(ds, columns: dict):
    """``ds`` with the JUDGE_FEATURES columns (replacing a former judge's)."""
    ds = ds.remove_columns([c for c in JUDGE_FEATURES if c in ds.column_names])  # judging a judged dataset again
    for name, feature in JUDGE_FEATURES.items():
        ds = ds.add_column(name, columns[name], feature=feature)
    return ds
