"""`medsyn eval report SYNTHETIC --real REAL --out DIR`: one folder that says whether synthetic notes are realistic,
diverse and private (and, with ``--eval``, useful): ``report.md``, ``report.json`` and PNG plots.

- fidelity (``fidelity.py``): a real-vs-synthetic discriminator's cross-validated ROC AUC (0.5 = indistinguishable)
  on code-matched samples of the same view of the text, lengths, sections, the most over- and under-represented
  n-grams;
- diversity (``diversity.py``): distinct-1/2/3, near-duplicate share, the code distribution's entropy, per-code
  notes against the priors' plan (a generation run or a published folder: every generated note is a planned one);
- privacy (``privacy.py``): distance to the closest real note and the longest verbatim word run, against a
  real-to-real holdout baseline; copying from the example note; personal data still found;
- utility: `medsyn eval icd`'s real-only against real + synthetic when ``--eval`` is given.

`medsyn publish RUN --report DIR` puts the summary table and the plots into the dataset card.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsyn_hf.data import CODE_COLUMNS, TEXT_COLUMNS
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.evaluation.privacy import RUN_THRESHOLD
from medsyn_hf.guards import MOST, refuse, side_problems
from medsyn_hf.text_views import MAX_CHARS
from medsyn_hf.textfile import read_json

COMMAND = "medsyn eval report"
EXAMPLE_COLUMNS = ("anamnesis", "example")  # the example note's text (our notes' `example` is a flag)
COLORS = {"synthetic": "#3b7dd8", "real": "#e08214", "real holdout": "#e08214"}
PLOTS = {
    "fidelity.png": "Lengths and sections, real and synthetic",
    "diversity.png": "Notes per code",
    "privacy.png": "Distance to the closest real note and longest shared word run",
}


@dataclass
class NoteSet:
    """Notes of one side: texts, 3-character categories, codes as given, example notes, and the priors' plan."""

    source: str
    texts: list[str]
    categories: list[str]
    codes: list[str]
    examples: list[str | None] | None = None
    planned: Counter | None = None
    empty: int = 0


def _rows(source: str, split: str | None):
    """(rows to analyse, every generated row) of a notes dataset: a `medsyn generate` run folder (its notes.parquet),
    a published folder (split `train`, plus `rejected` for the plan), a file or a Hub id."""
    from medsyn_hf.data import load_dataset

    path = Path(source)
    if path.is_dir() and (path / "config.json").is_file() and (path / "notes.parquet").is_file():
        data = load_dataset(str(path / "notes.parquet"))
        return data, [data]
    data = load_dataset(source, split)
    everything = [data]
    if split in (None, "train") and path.is_dir() and "keep" in data.column_names:
        try:
            everything.append(load_dataset(source, "rejected"))
        except MedsynError:  # every note was kept
            pass
    return data, everything


def load_set(
    source: str, split: str | None = None, text_column: str | None = None, code_column: str | None = None
) -> NoteSet:
    """A side of the comparison through the project's dataset loader; notes the filters dropped (``keep`` false) are
    left out but count in the plan, empty texts are left out and counted, a missing or bad code is an error."""
    from medsyn_hf.data import pick_column
    from medsyn_hf.evaluation.icd_data import category

    data, everything = _rows(str(source), split)
    text_column = pick_column(
        data,
        text_column,
        TEXT_COLUMNS,
        "text",
        source,
        strings=True,
        flag="--text-column (synthetic) or --real-text-column",
    )
    code_column = pick_column(
        data,
        code_column,
        CODE_COLUMNS,
        "ICD-10 code",
        source,
        strings=True,
        flag="--code-column (synthetic) or --real-code-column",
    )
    example_column = next(
        (
            c
            for c in EXAMPLE_COLUMNS
            if c in data.column_names
            and c != text_column
            and getattr(data.features[c], "dtype", "") in ("string", "large_string")
        ),
        None,
    )
    planned = None
    if "keep" in data.column_names:
        planned = Counter(str(c) for part in everything for c in part[code_column])
        data = data.filter(lambda keep: bool(keep), input_columns="keep")
    texts, codes = data[text_column], data[code_column]
    examples = data[example_column] if example_column else None
    rows = [i for i, text in enumerate(texts) if text is not None and str(text).strip()]
    if not rows:
        raise MedsynError(f"{source}: no note with a text in column {text_column!r}")
    missing = [i for i in rows if codes[i] is None or not str(codes[i]).strip()]
    if missing:
        raise MedsynError(f"{source}: {len(missing)} notes have no {code_column!r} (first: row {missing[0]})")
    try:
        categories = [category(codes[i]) for i in rows]
    except MedsynError as err:
        raise MedsynError(f"{source}: {err}") from None
    return NoteSet(
        str(source),
        [str(texts[i]) for i in rows],
        categories,
        [str(codes[i]).strip() for i in rows],
        [examples[i] for i in rows] if examples is not None else None,
        planned,
        len(texts) - len(rows),
    )


def _seconds(start: float) -> float:
    return round(time.perf_counter() - start, 2)


def build_report(
    synthetic: NoteSet,
    real: NoteSet,
    *,
    view: str = "complaint",
    max_chars: int = MAX_CHARS,
    max_notes: int = 5000,
    folds: int = 5,
    n_bootstrap: int = 1000,
    holdout: float = 0.2,
    run_threshold: int = RUN_THRESHOLD,
    seed: int = 0,
) -> tuple[dict, dict]:
    """(report, what the plots need). Fidelity on code-matched samples; diversity and privacy on every note."""
    from medsyn_hf.evaluation.diversity import diversity
    from medsyn_hf.evaluation.fidelity import fidelity, matched_sample
    from medsyn_hf.evaluation.privacy import privacy
    from medsyn_hf.filters.ngrams import tokenize, word_counts
    from medsyn_hf.text_views import view as text_view

    seconds = {}
    start = time.perf_counter()
    real_index, synthetic_index = matched_sample(real.categories, synthetic.categories, max_notes, seed)
    real_view = [text_view(t, view, max_chars) for t in real.texts]
    synthetic_view = [text_view(t, view, max_chars) for t in synthetic.texts]
    seconds["views"] = _seconds(start)
    start = time.perf_counter()
    matched = {"real": [real_view[i] for i in real_index], "synthetic": [synthetic_view[i] for i in synthetic_index]}
    fid = fidelity(
        matched["real"],
        matched["synthetic"],
        [real.texts[i] for i in real_index],
        [synthetic.texts[i] for i in synthetic_index],
        folds,
        n_bootstrap,
        seed,
    )
    fid["codes"] = len(set(real.categories) & set(synthetic.categories))
    seconds["fidelity"] = _seconds(start)
    start = time.perf_counter()
    tokens = tokenize(real.texts), tokenize(synthetic.texts)
    div = diversity(
        synthetic.texts,
        synthetic.categories,
        real.categories,
        matched,
        real.texts,
        synthetic.planned,
        synthetic.codes,
        tokens[1],
    )
    seconds["diversity"] = _seconds(start)
    start = time.perf_counter()
    priv, per_note = privacy(
        real_view,
        real.texts,
        synthetic_view,
        synthetic.texts,
        synthetic.examples,
        holdout,
        run_threshold,
        seed,
        tokens,
    )
    seconds["privacy"] = _seconds(start)
    report = {
        "synthetic": {
            "source": synthetic.source,
            "notes": len(synthetic.texts),
            "empty_dropped": synthetic.empty,
            "codes": len(set(synthetic.codes)),
        },
        "real": {
            "source": real.source,
            "notes": len(real.texts),
            "empty_dropped": real.empty,
            "codes": len(set(real.categories)),
        },
        "view": view,
        "max_chars": max_chars,
        "seed": seed,
        "fidelity": fid,
        "diversity": div,
        "privacy": priv,
        "utility": None,
        "seconds": seconds,
    }
    plots = {
        "words": {"real": _word_counts(matched["real"]), "synthetic": _word_counts(matched["synthetic"])},
        "words_full": {
            "real": word_counts(tokens[0], len(real.texts)),  # counted by tokenize already
            "synthetic": word_counts(tokens[1], len(synthetic.texts)),
        },
        "categories": synthetic.codes,
        **per_note,
    }
    return report, plots


def _word_counts(texts: Sequence[str]) -> np.ndarray:
    from medsyn_hf.normalize import words

    return np.array([len(words(t)) for t in texts])


UTILITY_SCORES = {"acc1": "acc@1", "hit3": "hit@3", "rare_acc1": "rare-code acc@1", "rare_hit3": "rare-code hit@3"}


def utility(
    real: NoteSet,
    evaluation: NoteSet,
    synthetic: NoteSet,
    *,
    topup: int = 40,
    view: str = "complaint",
    seeds: Sequence[int] = (0, 1, 2),
    max_chars: int = MAX_CHARS,
    n_bootstrap: int = 1000,
) -> dict:
    """`medsyn eval icd`'s comparison (``medsyn_hf.evaluation.icd.compare``): the classifier trained on the real
    notes against the same plus synthetic notes topping every code up to ``topup`` notes, on the eval notes and
    seeds, with paired differences. ``topup`` is fixed beforehand: choosing it on the eval notes would overstate it."""
    from medsyn_hf.evaluation.icd import compare
    from medsyn_hf.evaluation.icd_data import Notes

    result = compare(
        Notes(real.texts, real.categories),
        Notes(evaluation.texts, evaluation.categories),
        Notes(synthetic.texts, synthetic.categories),
        topup=topup,
        view=view,
        seeds=seeds,
        max_chars=max_chars,
        n_bootstrap=n_bootstrap,
        drop_unseen=True,
    )
    keep = (
        "view",
        "topup",
        "seeds",
        "rare_k",
        "n",
        "n_rare",
        "eval_dropped",
        "synthetic_dropped",
        "real_only",
        "upsampled",
        "paired_diff",
    )
    return {"eval": evaluation.source, **{key: result[key] for key in keep}}


def _utility_rows(utility_: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for key, name in UTILITY_SCORES.items():
        diff = utility_["paired_diff"].get(key)
        if diff is None or utility_["upsampled"].get(key) is None:
            continue
        ci = f" [{diff['ci'][0]:+.1f}, {diff['ci'][1]:+.1f}]" if diff.get("ci") else ""
        rows.append(
            (
                f"ICD classifier {name}, real + top-up to {utility_['topup']} (eval notes)",
                f"{utility_['upsampled'][key]:.1f} ({diff['diff']:+.1f}{ci})",
                f"{utility_['real_only'][key]:.1f}",
                f"real only: baseline; paired difference over {len(utility_['seeds'])} seeds",
            )
        )
    return rows


def _utility_table(utility_: dict) -> str:
    lines = ["| score | real only | real + synthetic | difference [95 % CI] |", "|---|---:|---:|---|"]
    for key, name in UTILITY_SCORES.items():
        diff, upsampled = utility_["paired_diff"].get(key), utility_["upsampled"].get(key)
        if diff is not None and upsampled is not None:
            ci = f" [{diff['ci'][0]:+.2f}, {diff['ci'][1]:+.2f}]" if diff.get("ci") else ""
            lines.append(f"| {name} | {utility_['real_only'][key]:.2f} | {upsampled:.2f} | {diff['diff']:+.2f}{ci} |")
    return "\n".join(lines) + "\n"


# -- the summary table (report.md and the dataset card) ---------------------------------------------------------------


def _f(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def summary_rows(report: dict) -> list[tuple[str, str, str, str]]:
    """(measure, synthetic, real baseline, how to read it) for the headline figures."""
    fid, div, priv = report["fidelity"], report["diversity"], report["privacy"]
    ci = fid["auc_ci"]
    auc = f"{fid['auc']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    matched = div["distinct_matched"]
    dcr, runs = priv["dcr"], priv["longest_run"]
    rows = [
        (
            "real-vs-synthetic discriminator, ROC AUC (95 % CI)",
            auc,
            "0.5",
            "0.5: indistinguishable; near 1: every note recognisable",
        ),
        (
            f"words per note, median ({report['view']} view)",
            _f(fid["words"]["synthetic"]["median"], 0),
            _f(fid["words"]["real"]["median"], 0),
            "the discriminator compares this view",
        ),
        (
            "distinct-2 (code-matched samples)",
            _f(matched["synthetic"]["distinct_2"]),
            _f(matched["real"]["distinct_2"]),
            "lower than real: repetitive wording",
        ),
        (
            "near-duplicate notes",
            _pct(div["near_duplicates"]["synthetic"]),
            _pct(div["near_duplicates"]["real"]),
            "MinHash, word 5-gram Jaccard ≥ 0.8",
        ),
        (
            "ICD-10 codes (code entropy, bits)",
            "{codes} ({entropy_bits})".format(**div["code_distribution"]["synthetic"]),
            f"{div['code_distribution']['real']['codes']} ({div['code_distribution']['real']['entropy_bits']})",
            "more bits: codes covered more evenly",
        ),
        (
            "distance to the closest real note (DCR), median",
            _f(dcr["synthetic"]["median"]),
            _f(dcr["holdout"]["median"]),
            "real baseline: held-out real notes; much lower: memorised",
        ),
        (
            "notes with DCR 0 (a real note's words)",
            _pct(dcr["zero"]["synthetic"]),
            _pct(dcr["zero"]["holdout"]),
            "should not exceed the baseline",
        ),
        (
            f"notes sharing ≥ {runs['threshold']} words verbatim with a real note",
            _pct(runs["synthetic"]["share_above"]),
            _pct(runs["holdout"]["share_above"]),
            (f"longest run: {runs['synthetic']['max']} words (baseline {runs['holdout']['max']})"),
        ),
    ]
    plan = div["plan"]
    if plan:
        rows.append(
            (
                "notes kept of those planned",
                f"{plan['kept']:,} / {plan['planned']:,}",
                "—",
                f"{len(plan['codes_without_kept_note'])} planned codes without a kept note",
            )
        )
    copy = priv["example_copy"]
    if copy:
        rows.append(
            (
                "copy ratio to the example note, mean",
                _f(copy["mean"]),
                "—",
                f"{_pct(copy['share_above'])} of {copy['notes']} notes above {copy['above']}",
            )
        )
    pii = priv["pii"]
    rows.append(
        (
            "notes with personal data found",
            f"{pii['notes_with_pii']:,}",
            "—",
            ", ".join(f"{k}: {n}" for k, n in pii["by_kind"].items()) or "none",
        )
    )
    if report.get("utility"):
        rows.extend(_utility_rows(report["utility"]))
    return rows


def summary_table(report: dict) -> str:
    lines = ["| measure | synthetic | real baseline | how to read it |", "|---|---:|---:|---|"]
    lines += [f"| {' | '.join(row)} |" for row in summary_rows(report)]
    return "\n".join(lines) + "\n"


def _ngram_table(rows: list[dict]) -> str:
    lines = ["| n-gram | synthetic notes | real notes | log2 ratio |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r['ngram']} | {_pct(r['synthetic_share'])} | {_pct(r['real_share'])} | {r['log2_ratio']:+.2f} |"
        for r in rows
    ]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """report.md: the summary table, then each part's detail."""
    fid, div, priv = report["fidelity"], report["diversity"], report["privacy"]
    syn, real = report["synthetic"], report["real"]
    sections = fid["sections"]
    parts = [
        "# Synthetic notes report\n",
        *(
            f"> **Warning: {problem}.** These figures do not compare different notes.\n"
            for problem in report.get("warnings", [])
        ),
        f"Synthetic: `{syn['source']}` ({syn['notes']:,} notes, {syn['codes']:,} codes"
        + (f", {syn['empty_dropped']} empty ones left out" if syn["empty_dropped"] else "")
        + "). "
        f"Real: `{real['source']}` ({real['notes']:,} notes, {real['codes']} codes). "
        f"Compared view: `{report['view']}` (at most {report['max_chars']} characters).\n",
        summary_table(report),
        "## Fidelity\n",
        (
            f"Discriminator (TF-IDF character and word n-grams, logistic regression, {fid['folds']}-fold out-of-fold "
            f"scores) on {fid['n_per_side']:,} notes per side, sampled code by code to the same counts over the "
            f"{fid['codes']} codes both sets have: ROC AUC {fid['auc']:.3f}.\n"
        ),
        "![Lengths and sections](fidelity.png)\n",
        "| section present | synthetic | real |\n|---|---:|---:|\n"
        + "\n".join(
            f"| {name} | {_pct(sections['synthetic'][name])} | {_pct(sections['real'][name])} |"
            for name in sections["real"]
        )
        + "\n",
        "Word n-grams over-represented in the synthetic notes (compared view):\n\n"
        + _ngram_table(fid["ngrams"]["over"])
        + "\n\nUnder-represented:\n\n"
        + _ngram_table(fid["ngrams"]["under"])
        + "\n",
        "## Diversity\n",
        "| | distinct-1 | distinct-2 | distinct-3 |\n|---|---:|---:|---:|\n"
        + "\n".join(
            f"| {name} | " + " | ".join(_f(d[f"distinct_{n}"]) for n in (1, 2, 3)) + " |"
            for name, d in (
                ("synthetic, all notes", div["distinct"]),
                ("synthetic, code-matched sample", div["distinct_matched"]["synthetic"]),
                ("real, code-matched sample", div["distinct_matched"]["real"]),
            )
        )
        + "\n",
        "![Notes per code](diversity.png)\n",
    ]
    plan = div["plan"]
    if plan:
        missing = plan["codes_without_kept_note"]
        parts.append(
            f"Plan: {plan['planned']:,} notes over {plan['codes_planned']:,} codes, {plan['kept']:,} kept "
            f"({_pct(plan['kept_share'])}); codes without a kept note: "
            + (", ".join(missing[:30]) + (" …" if len(missing) > 30 else "") if missing else "none")
            + ".\n"
        )
    dcr, runs = priv["dcr"], priv["longest_run"]
    parts += [
        "## Privacy\n",
        (
            f"DCR: cosine distance of word 1–2-gram TF-IDF vectors (compared view) to the closest of the "
            f"{real['notes']:,} real notes; baseline: {priv['holdout_notes']:,} held-out real notes against the "
            f"others. Synthetic median "
            f"{dcr['synthetic']['median']:.3f} (5th percentile {dcr['synthetic']['p5']:.3f}), baseline "
            f"{dcr['holdout']['median']:.3f} ({dcr['holdout']['p5']:.3f}); "
            f"{_pct(dcr['closer_than_holdout_p5'])} of synthetic notes are closer than the baseline's 5th percentile. "
            f"Longest word run shared verbatim with a real note (full texts): median {runs['synthetic']['median']:g} "
            f"words, {_pct(runs['synthetic']['share_above'])} at least {runs['threshold']} "
            f"(baseline {_pct(runs['holdout']['share_above'])}).\n"
        ),
        "![DCR and word runs](privacy.png)\n",
        "Synthetic notes closest to a real one (compared view):\n\n"
        "| note | DCR | longest run | synthetic | closest real |\n"
        "|---:|---:|---:|---|---|\n"
        + "\n".join(
            f"| {c['note']} | {c['dcr']:.3f} | {c['longest_run']} | {_cell(c['synthetic'])} | {_cell(c['real'])} |"
            for c in priv["closest"]
        )
        + "\n",
    ]
    if report.get("utility"):
        use = report["utility"]
        parts += [
            "## Utility\n",
            (
                f"`medsyn eval icd` (TF-IDF baseline) on `{use['eval']}` ({use['n']:,} notes, {use['n_rare']} of "
                f"rare codes: fewer than {use['rare_k']} real training notes), real notes only against real notes "
                f"plus synthetic ones ({use['view']} view) topping every code up to {use['topup']}, seeds "
                f"{', '.join(map(str, use['seeds']))}; percent, differences in points with a paired bootstrap 95 % "
                "interval. The top-up K was fixed beforehand, not chosen on these eval notes.\n"
            ),
            _utility_table(use),
        ]
    parts.append(f"Seconds: {json.dumps(report['seconds'])}\n")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:120]


# -- plots ------------------------------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _hist(axes, values: dict, bins, xlabel: str) -> None:
    for name, data in values.items():
        data = np.asarray(data, dtype=float)
        if len(data):
            axes.hist(
                data,
                bins=bins,
                weights=np.full(len(data), 1 / len(data)),
                histtype="step",
                linewidth=1.5,
                color=COLORS[name],
                label=f"{name} (n={len(data):,})",
            )
    axes.set(xlabel=xlabel, ylabel="share of notes")
    axes.legend(fontsize=8)


def plot_fidelity(report: dict, plots: dict, path: Path) -> None:
    figure = _figure(15, 4)
    axes = figure.subplots(1, 3)
    top = max(1, max(np.percentile(v, 99) for v in plots["words"].values()))
    _hist(axes[0], plots["words"], np.linspace(0, top, 40), f"words per note ({report['view']} view)")
    full = np.concatenate(list(plots["words_full"].values()))
    _hist(axes[1], plots["words_full"], np.geomspace(1, max(2, full.max()) + 1, 40), "words per note (full text)")
    axes[1].set_xscale("log")
    sections = report["fidelity"]["sections"]
    names = list(sections["real"])
    y = np.arange(len(names))
    for offset, side in ((0.2, "synthetic"), (-0.2, "real")):
        axes[2].barh(y + offset, [sections[side][n] for n in names], height=0.4, color=COLORS[side], label=side)
    axes[2].set_yticks(y, names, fontsize=8)
    axes[2].set(xlabel="share of notes with the section", xlim=(0, 1))
    axes[2].legend(fontsize=8)
    figure.suptitle(f"Fidelity: discriminator ROC AUC {report['fidelity']['auc']:.3f} (0.5 = indistinguishable)")
    figure.savefig(path, dpi=100, metadata={"Software": None})


def plot_diversity(report: dict, plots: dict, path: Path, top: int = 30) -> None:
    plan = report["diversity"]["plan"]
    if plan:
        rows = plan["per_code"][:top]
    else:
        rows = [{"code": c, "kept": n} for c, n in Counter(plots["categories"]).most_common(top)]
    figure = _figure(10, 0.22 * len(rows) + 1.5)
    axes = figure.subplots()
    y = np.arange(len(rows))[::-1]
    if plan:
        axes.barh(y, [r["planned"] for r in rows], color="#c9d3e0", label="planned (generated)")
    axes.barh(y, [r["kept"] for r in rows], color=COLORS["synthetic"], height=0.5, label="kept" if plan else "notes")
    axes.set_yticks(y, [r["code"] for r in rows], fontsize=7)
    axes.set(xlabel="notes", title=f"Notes per code (top {len(rows)})")
    axes.legend(fontsize=8)
    figure.savefig(path, dpi=100, metadata={"Software": None})


def plot_privacy(report: dict, plots: dict, path: Path) -> None:
    figure = _figure(12, 4)
    left, right = figure.subplots(1, 2)
    _hist(
        left,
        {"synthetic": plots["dcr"], "real holdout": plots["dcr_holdout"]},
        np.linspace(0, 1, 41),
        "distance to the closest real note (1 - cosine)",
    )
    runs = {"synthetic": plots["runs"], "real holdout": plots["runs_holdout"]}
    longest = max(int(max(v.max(), 1)) for v in runs.values())
    _hist(right, runs, np.arange(0, min(longest, 100) + 2) - 0.5, "longest word run shared with a real note")
    right.axvline(report["privacy"]["longest_run"]["threshold"] - 0.5, color="grey", linestyle="--")
    right.set_yscale("log")
    figure.savefig(path, dpi=100, metadata={"Software": None})


def write_report(out: str | Path, report: dict, plots: dict, *, inputs=(), overwrite: bool = False) -> Path:
    """The report folder, all or nothing (``medsyn_hf.io.safe_output``)."""
    from medsyn_hf.io import safe_output

    with safe_output(out, command=COMMAND, inputs=inputs, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        plot_fidelity(report, plots, tmp / "fidelity.png")
        plot_diversity(report, plots, tmp / "diversity.png")
        plot_privacy(report, plots, tmp / "privacy.png")
        (tmp / "report.md").write_text(markdown(report), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return Path(out)


def load_report(folder: str | Path) -> tuple[dict, dict[str, bytes]]:
    """(report.json, {file name: bytes} of report.md and the plots) of a folder `medsyn eval report` wrote."""
    from medsyn_hf.io import written_by

    folder = Path(folder)
    if not folder.is_dir() or written_by(folder) != COMMAND:
        raise MedsynError(
            f"{folder}: not a report folder (write one with `{COMMAND} SYNTHETIC --real REAL --out DIR`)"
        )
    try:
        report = read_json(folder / "report.json", "report file")
        files = {name: (folder / name).read_bytes() for name in ("report.md", *PLOTS)}
        summary_table(report)  # every figure the card shows is there
        int(report["synthetic"]["notes"]) + int(report["synthetic"]["empty_dropped"])
    except (MedsynError, OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        raise MedsynError(f"{folder}: incomplete report ({first_line(err)}); write it again") from None
    return report, files


# -- CLI --------------------------------------------------------------------------------------------------------------


def add_cli(eval_subparsers) -> None:
    from medsyn_hf.text_views import VIEWS

    parser = eval_subparsers.add_parser(
        "report",
        help="fidelity, diversity, privacy (and utility) of synthetic notes: report.md/.json and plots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "synthetic",
        help="synthetic notes: a `medsyn generate` run folder, a published folder, a "
        ".jsonl(.gz)/.parquet file or a Hub id",
    )
    parser.add_argument("--real", required=True, help="real notes (RuMedTop3 train_v1.jsonl or any notes dataset)")
    parser.add_argument(
        "--eval", help="real notes to score an ICD classifier on (RuMedTop3 dev_v1.jsonl): adds utility"
    )
    parser.add_argument("--out", required=True, type=Path, help="report folder (written atomically)")
    parser.add_argument(
        "--overwrite", action="store_true", help=f"replace a non-empty folder `{COMMAND}` did not write"
    )
    parser.add_argument(
        "--split", help="split of the synthetic dataset (default: train, plus `rejected` for the plan)"
    )
    parser.add_argument(
        "--text-column", help=f"synthetic text column (default: the first of {', '.join(TEXT_COLUMNS)})"
    )
    parser.add_argument(
        "--code-column", help=f"synthetic ICD-10 column (default: the first of {', '.join(CODE_COLUMNS)})"
    )
    parser.add_argument("--real-text-column", help="real text column (default: as for the synthetic notes)")
    parser.add_argument("--real-code-column", help="real ICD-10 column (default: as for the synthetic notes)")
    parser.add_argument(
        "--view",
        choices=VIEWS,
        default="complaint",
        help="text both sides are compared on: the complaints section (real RuMedTop3 notes are "
        "complaints), the head, or the full note (default: %(default)s)",
    )
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS, help="length cap of the complaint/head view")
    parser.add_argument("--max-notes", type=int, default=5000, help="discriminator: at most this many notes per side")
    parser.add_argument("--folds", type=int, default=5, help="discriminator: cross-validation folds")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the AUC's 95%% interval (0: none)")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of real notes held out for the baselines")
    parser.add_argument(
        "--run-threshold",
        type=int,
        default=RUN_THRESHOLD,
        help="privacy: a shared verbatim run of this many words counts as copied",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--topup",
        type=int,
        default=40,
        help="utility (--eval): bring every code up to K training notes with synthetic ones",
    )
    parser.add_argument("--seeds", default="0,1,2", help="utility (--eval): comma-separated classifier seeds")
    parser.add_argument(
        "--allow-overlap",
        action="store_true",
        help="report even when real and synthetic (or --real and --eval) are the same data or share most notes "
        "(refused otherwise); the report's header then warns",
    )
    parser.add_argument("--json", action="store_true", help="print report.json's headline figures as one JSON line")
    parser.set_defaults(func=_run)


def _check(args) -> None:
    if args.folds < 2 or args.max_notes < 2 or args.bootstrap < 0 or args.run_threshold < 1 or args.max_chars < 0:
        raise MedsynError(
            "--folds and --max-notes must be at least 2, --run-threshold at least 1, --bootstrap and "
            "--max-chars at least 0"
        )
    if not 0 < args.holdout < 1:
        raise MedsynError(f"--holdout {args.holdout}: a share strictly between 0 and 1")
    if args.topup < 1:
        raise MedsynError(
            f"--topup {args.topup}: the number of training notes to bring each code up to must be at least 1"
        )
    try:
        args.seeds = tuple(int(seed) for seed in args.seeds.split(","))
    except ValueError:
        raise MedsynError(f"--seeds {args.seeds!r}: comma-separated integers, e.g. 0,1,2") from None


def _run(args) -> int:
    import datasets

    from medsyn_hf.io import check_output

    _check(args)
    inputs = [args.synthetic, args.real, args.eval]
    check_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite)  # fail before the work
    datasets.disable_progress_bars()
    start = time.perf_counter()
    synthetic = load_set(args.synthetic, args.split, args.text_column, args.code_column)
    real = load_set(args.real, None, args.real_text_column, args.real_code_column)
    evaluation = load_set(args.eval, None, args.real_text_column, args.real_code_column) if args.eval else None
    problems = side_problems(args.real, args.synthetic, real.texts, synthetic.texts, MOST)
    if evaluation:  # utility measured on the notes the classifier trained on
        problems += side_problems(args.real, args.eval, real.texts, evaluation.texts, MOST, ("--real", "--eval"))
    if not args.allow_overlap:
        refuse(problems, "the comparison would be meaningless (pass --allow-overlap to report anyway, with a warning)")
    for problem in problems:
        print(f"medsyn: warning: {problem}; the report says so in its header", file=sys.stderr)
    report, plots = build_report(
        synthetic,
        real,
        view=args.view,
        max_chars=args.max_chars,
        max_notes=args.max_notes,
        folds=args.folds,
        n_bootstrap=args.bootstrap,
        holdout=args.holdout,
        run_threshold=args.run_threshold,
        seed=args.seed,
    )
    report["warnings"] = problems
    if evaluation:
        utility_start = time.perf_counter()
        report["utility"] = utility(
            real,
            evaluation,
            synthetic,
            topup=args.topup,
            view=args.view,
            seeds=args.seeds,
            max_chars=args.max_chars,
            n_bootstrap=args.bootstrap,
        )
        report["seconds"]["utility"] = _seconds(utility_start)
    report["seconds"]["total"] = _seconds(start)
    write_report(args.out, report, plots, inputs=inputs, overwrite=args.overwrite)
    headline = {
        "out": str(args.out),
        "auc": report["fidelity"]["auc"],
        "auc_ci": report["fidelity"]["auc_ci"],
        "dcr_median": report["privacy"]["dcr"]["synthetic"]["median"],
        "dcr_holdout_median": report["privacy"]["dcr"]["holdout"]["median"],
        "seconds": report["seconds"]["total"],
    }
    print(
        json.dumps(headline, ensure_ascii=False)
        if args.json
        else summary_table(report) + f"\nwritten: {args.out}/report.md, report.json, {', '.join(PLOTS)}"
    )
    return 0
