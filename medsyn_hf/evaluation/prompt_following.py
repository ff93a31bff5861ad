"""`medsyn eval prompt-following DATASET`: did the notes mention the symptoms they were prompted with, how much did
they copy the example note, and is their patient the prompt's (the age and sex a note states against the prior's
`age` and `sex`)? Distributions per model and template, from the very functions the filters use.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from medsyn_hf.data import load_dataset, role_column
from medsyn_hf.errors import MedsynError
from medsyn_hf.filters import FilterConfig, copy_ratio, symptom_recall
from medsyn_hf.filters.builtin.patient_consistency import shows_patient
from medsyn_hf.filters.patient import age_gap, stated_sex
from medsyn_hf.guards import require_text
from medsyn_hf.io import check_output, safe_output

COMMAND = "medsyn eval prompt-following"
DEFAULT_GROUP_BY = ("generation_model", "template")
_STATS = ("mean", "median", "p10", "p90")
STRING = ("string", "large_string")


def add_cli(eval_subparsers) -> None:
    parser = eval_subparsers.add_parser(
        "prompt-following",
        help="symptom recall and copy ratio of generated notes, by model and template",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "dataset", type=Path, help="a save_to_disk folder, a Hub-layout folder, or a .parquet / .jsonl(.gz) file"
    )
    parser.add_argument("--split", help="split of a multi-split dataset (default: train, or the only split)")
    parser.add_argument("--text-column", default="response")
    parser.add_argument("--symptoms-column", default="symptoms")
    parser.add_argument(
        "--example-column",
        help="text column of the example note shown in the prompt (default: "
        "the schema's: 'anamnesis' in notes, 'example' in priors; none if the dataset has neither)",
    )
    parser.add_argument(
        "--group-by", help="comma-separated columns (default: whichever of generation_model,template exist)"
    )
    parser.add_argument("--age-column", default="age", help="the prior patient's age (skipped if absent)")
    parser.add_argument("--sex-column", default="sex", help="the prior patient's sex, male/female (skipped if absent)")
    parser.add_argument("--symptom-match-share", type=float, help="see FilterConfig (default: the filters' default)")
    parser.add_argument("--copy-ngram", type=int, help="see FilterConfig (default: the filters' default)")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the markdown table")
    parser.add_argument(
        "--out",
        type=Path,
        help="also write prompt_following.{md,json,png} into this folder (replaced "
        "atomically; an existing one only if this command wrote it, or with --overwrite)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an --out folder this command did not write")
    parser.set_defaults(func=_run)


def _stats(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    mean, median, p10, p90 = arr.mean(), np.median(arr), np.percentile(arr, 10), np.percentile(arr, 90)
    return {"n": len(arr), **{k: round(float(v), 4) for k, v in zip(_STATS, (mean, median, p10, p90))}}


def prompt_following(
    data,
    text_column: str = "response",
    symptoms_column: str = "symptoms",
    example_column: str | None = None,
    group_by: list[str] | None = None,
    config=None,
    source="the dataset",
    age_column: str = "age",
    sex_column: str = "sex",
) -> dict:
    """Per-note scores and per-group summaries. ``example_column=None`` uses the example-text column of the dataset's
    schema (``data.role_column``: notes keep a boolean ``example`` flag and the text in ``anamnesis``);
    ``group_by=None`` the default grouping columns that are present. Copy ratio is summarised over notes that had an
    example; the patient's consistency (when the dataset has ``age_column`` or ``sex_column``) over notes whose
    prompt showed the patient (``filters.patient_consistency``)."""
    config = config or FilterConfig()
    columns = data.column_names
    if example_column is None:
        example_column = role_column(data, "example_text", None, source, flag="--example-column", required=False)
    group_by = [c for c in DEFAULT_GROUP_BY if c in columns] if group_by is None else group_by
    for column in [text_column, symptoms_column, example_column, *group_by]:
        if column is not None and column not in columns:
            raise MedsynError(f"column {column!r} not in the dataset (columns: {', '.join(columns)})")
    _check_types(data, text_column, symptoms_column, source)
    kind = getattr(data.features[example_column], "dtype", "nested") if example_column else "string"
    if kind not in ("string", "large_string"):
        raise MedsynError(
            f"example column {example_column!r} holds {kind} values, not the example note's text "
            "(notes: --example-column anamnesis)"
        )
    notes = [note or "" for note in data[text_column]]
    symptoms = [s or [] for s in data[symptoms_column]]
    examples = list(data[example_column]) if example_column else [None] * len(notes)
    groups = [" / ".join(map(str, values)) for values in zip(*(data[c] for c in group_by))] or ["all"] * len(notes)
    recall = [symptom_recall(n, s, config.symptom_match_share) for n, s in zip(notes, symptoms)]
    copy = [copy_ratio(n, e, config.copy_ngram, s) if e else None for n, e, s in zip(notes, examples, symptoms)]
    ages = list(data[age_column]) if age_column in columns else None
    sexes = list(data[sex_column]) if sex_column in columns else None
    shown = [shows_patient(t) for t in data["template"]] if "template" in columns else [True] * len(notes)
    gaps = [age_gap(n, a) for n, a in zip(notes, ages)] if ages is not None else None
    stated = [stated_sex(n) for n in notes] if sexes is not None else None

    def patient(rows: list[int]) -> dict | None:
        judged = [i for i in rows if shown[i]]
        if (ages is None and sexes is None) or not judged:
            return None
        out = {"judged": len(judged)}
        if gaps is not None:
            told = [gaps[i] for i in judged if gaps[i] is not None]
            out["age_stated"] = round(len(told) / len(judged), 4)
            limit = config.max_age_gap
            out["age_mismatch"] = round(sum(limit is not None and g > limit for g in told) / len(judged), 4)
        if stated is not None:
            out["sex_stated"] = round(sum(stated[i] is not None for i in judged) / len(judged), 4)
            out["sex_mismatch"] = round(
                sum(stated[i] is not None and stated[i] != sexes[i] for i in judged) / len(judged), 4
            )
        return out

    def summary(rows: list[int]) -> dict:
        copied = [copy[i] for i in rows if copy[i] is not None]
        return {
            "symptom_recall": _stats([recall[i] for i in rows]),
            "all_symptoms": round(sum(recall[i] == 1.0 for i in rows) / len(rows), 4),
            "copy_ratio": _stats(copied) if copied else None,
            "patient": patient(rows),
        }

    by_group: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        by_group.setdefault(group, []).append(i)
    return {
        "n": len(notes),
        "group_by": group_by,
        "example_column": example_column,
        "symptom_match_share": config.symptom_match_share,
        "copy_ngram": config.copy_ngram,
        "overall": summary(list(range(len(notes)))),
        "groups": {group: summary(rows) for group, rows in sorted(by_group.items())},
        "max_age_gap": config.max_age_gap,
        "scores": {
            "group": groups,
            "symptom_recall": recall,
            "copy_ratio": copy,
            "age_gap": gaps,
            "stated_sex": stated,
        },
    }


def _check_types(data, text_column: str, symptoms_column: str, source) -> None:
    """Texts must be strings and not all empty (``guards.require_text``), symptoms lists of strings: anything else
    would score as zeros, not fail."""
    texts, symptoms = data.features[text_column], data.features[symptoms_column]
    if getattr(texts, "dtype", None) not in STRING:
        raise MedsynError(f"{source}: column {text_column!r} holds {_kind(texts)} values, not note texts")
    if getattr(getattr(symptoms, "feature", None), "dtype", None) not in STRING:
        raise MedsynError(f"{source}: column {symptoms_column!r} holds {_kind(symptoms)}, not lists of symptoms")
    require_text(data[text_column], source, text_column)


def _kind(feature) -> str:
    return getattr(feature, "dtype", None) or type(feature).__name__


def markdown_table(result: dict) -> str:
    """Mean/median/p10/p90 of recall and copy ratio per group, then (when measured) the patient's consistency per
    group; the overall row last."""
    header = [
        " / ".join(result["group_by"]) or "group",
        "n",
        *(f"recall {s}" for s in _STATS),
        "all symptoms",
        "n with example",
        *(f"copy {s}" for s in _STATS),
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, summary in [*result["groups"].items(), ("**all**", result["overall"])]:
        recall, copy = summary["symptom_recall"], summary["copy_ratio"]
        cells = [
            name,
            recall["n"],
            *(f"{recall[s]:.3f}" for s in _STATS),
            f"{summary['all_symptoms']:.3f}",
            copy["n"] if copy else 0,
            *((f"{copy[s]:.3f}" for s in _STATS) if copy else ["–"] * len(_STATS)),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    rows = [*result["groups"].items(), ("**all**", result["overall"])]
    if result["overall"]["patient"]:
        keys = [
            k
            for k in ("age_stated", "age_mismatch", "sex_stated", "sex_mismatch")
            if k in result["overall"]["patient"]
        ]
        lines += [
            "",
            f"Patient (notes whose prompt showed it; age mismatch: more than {result['max_age_gap']} years off):",
            "",
            "| "
            + " | ".join([" / ".join(result["group_by"]) or "group", "judged", *(k.replace("_", " ") for k in keys)])
            + " |",
            "|" + "---|" * (len(keys) + 2),
        ]
        for name, summary in rows:
            p = summary["patient"]
            cells = [name, p["judged"], *(f"{p[k]:.3f}" for k in keys)] if p else [name, 0, *("–" for _ in keys)]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def plot_histograms(result: dict, path: Path) -> None:
    """One panel per measure, one histogram of note shares per group (groups of any size compare)."""
    try:  # optional (the `train` extra), and heavy: imported only to draw
        import matplotlib
    except ImportError as err:
        raise MedsynError("--out draws histograms with matplotlib: pip install 'medsyn-hf[train]'") from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = result["scores"]
    measures = ["symptom_recall"] + (["copy_ratio"] if result["overall"]["copy_ratio"] else [])
    fig, axes = plt.subplots(1, len(measures), figsize=(6 * len(measures), 4), squeeze=False)
    bins = np.linspace(-0.05, 1.05, 12)
    for ax, measure in zip(axes[0], measures):
        for group in result["groups"]:
            values = [v for g, v in zip(scores["group"], scores[measure]) if g == group and v is not None]
            if values:
                ax.hist(
                    values,
                    bins=bins,
                    weights=np.full(len(values), 1 / len(values)),
                    histtype="step",
                    linewidth=1.5,
                    label=f"{group} (n={len(values)})",
                )
        ax.set_xlabel(measure.replace("_", " "))
        ax.set_ylabel("share of notes")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def _run(args) -> int:
    overrides = {"symptom_match_share": args.symptom_match_share, "copy_ngram": args.copy_ngram}
    config = replace(FilterConfig(), **{k: v for k, v in overrides.items() if v is not None})
    group_by = [c.strip() for c in args.group_by.split(",") if c.strip()] if args.group_by is not None else None
    output = dict(command=COMMAND, inputs=[args.dataset], overwrite=args.overwrite)
    if args.out is not None:
        check_output(args.out, **output)
    data = load_dataset(args.dataset, args.split)
    result = prompt_following(
        data,
        args.text_column,
        args.symptoms_column,
        args.example_column,
        group_by,
        config,
        args.dataset,
        args.age_column,
        args.sex_column,
    )
    summary = {"dataset": str(args.dataset), **{k: v for k, v in result.items() if k != "scores"}}
    table = markdown_table(result)
    if args.out:
        with safe_output(args.out, **output) as tmp:
            tmp.mkdir()
            (tmp / "prompt_following.md").write_text(table, encoding="utf-8")
            (tmp / "prompt_following.json").write_text(
                json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            plot_histograms(result, tmp / "prompt_following.png")
    print(json.dumps(summary, ensure_ascii=False) if args.json else table, end="\n" if args.json else "")
    return 0
