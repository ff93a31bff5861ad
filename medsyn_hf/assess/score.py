"""`medsyn assess score DIR --out REPORT`: what the annotators' answers say, per annotator and pooled.

- **Telling real from synthetic**: accuracy with a Wilson 95 % interval and an exact two-sided binomial test against
  50 % (chance: the set is balanced); also the share of real and of synthetic items judged real. Pooled answers of
  several annotators are not independent (the same items), so the pooled interval is optimistic.
- **Scores**: per criterion, the mean score of real and of synthetic items with t 95 % intervals, and a two-sided
  Mann–Whitney U test of the difference (scores are ordinal).
- **Agreement** on the items several annotators answered: Cohen's κ (two annotators) or Fleiss' κ (more) on the
  real/synthetic guesses, Krippendorff's α (nominal) on the guesses and (ordinal) on each criterion's scores; α uses
  every item with at least two answers.

The statistics are the libraries' where they have them (scipy.stats: the Wilson interval, the binomial, t and
Mann–Whitney tests; scikit-learn: Cohen's κ); Fleiss' κ and Krippendorff's α are plain numpy here, checked in
tests/test_assess.py against published worked examples (Fleiss 1971, Krippendorff 2011): neither scipy nor
scikit-learn has them, statsmodels (Fleiss) is not a dependency, and the maintained `krippendorff` package is GPL-3.0,
which this MIT toolkit does not take on for one function (it agrees with ours to 1e-15).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from medsyn_hf.assessment_folder import ANSWERS_DIR, ORIGINS, collect_answers, load_items, load_key
from medsyn_hf.errors import MedsynError
from medsyn_hf.io import safe_output
from medsyn_hf.schemas import ASSESSMENT_CRITERIA

COMMAND = "medsyn assess score"


# -- statistics -------------------------------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n (good coverage for small n and proportions near 0 or 1)."""
    from scipy.stats import binomtest  # optional (`train` extra), heavy: for scoring only

    if n == 0:
        return (math.nan, math.nan)
    interval = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))


def binomial_p(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test of k successes in n trials against probability p."""
    from scipy.stats import binomtest  # optional (`train` extra), heavy: see wilson_interval

    return float(binomtest(k, n, p).pvalue) if n else math.nan


def mean_interval(values) -> dict:
    """Mean with a t 95 % interval (None where undefined)."""
    from scipy.stats import t  # optional (`train` extra), heavy: see wilson_interval

    x = np.asarray(values, dtype=float)
    if not len(x):
        return {"n": 0, "mean": None, "ci": None}
    mean = float(x.mean())
    if len(x) < 2:
        return {"n": 1, "mean": mean, "ci": None}
    half = float(t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return {"n": len(x), "mean": mean, "ci": [mean - half, mean + half]}


def mann_whitney_p(a, b) -> float | None:
    """Two-sided Mann–Whitney U test p-value (None when a side is empty or every value is the same)."""
    from scipy.stats import mannwhitneyu  # optional (`train` extra), heavy: see wilson_interval

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(a) or not len(b) or np.unique(np.concatenate([a, b])).size < 2:
        return None
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def cohen_kappa(rater_1, rater_2) -> float:
    """Cohen's κ of two raters' labels of the same items (scikit-learn's; NaN when both always give one label)."""
    from sklearn.metrics import cohen_kappa_score  # optional (`train` extra), heavy: for agreement only

    if len(set(rater_1) | set(rater_2)) < 2:
        return math.nan  # chance agreement is 1: κ is undefined (scikit-learn would warn and divide 0 by 0)
    return float(cohen_kappa_score(rater_1, rater_2))


def fleiss_kappa(counts) -> float:
    """Fleiss' κ from an items × categories table of how many raters chose each category (same raters per item)."""
    counts = np.asarray(counts, dtype=float)
    raters = counts.sum(axis=1)
    if len(set(raters)) != 1 or raters[0] < 2:
        raise MedsynError("Fleiss' kappa needs the same number (at least 2) of ratings for every item")
    m, total = raters[0], counts.sum()
    agreement = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    shares = counts.sum(axis=0) / total
    expected = float((shares**2).sum())
    return float((agreement.mean() - expected) / (1 - expected)) if expected < 1 else math.nan


def krippendorff_alpha(data, level: str = "ordinal") -> float:
    """Krippendorff's α for a raters × units array (NaN: no value), from the coincidence matrix (Krippendorff 2011).

    ``level``: ``nominal``, ``ordinal`` (distance: the ranks between two values, by how many values lie between) or
    ``interval`` (squared difference)."""
    data = np.asarray(data, dtype=float)
    values = np.unique(data[~np.isnan(data)])
    if len(values) < 2:
        return math.nan
    index = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in data.T:
        present = unit[~np.isnan(unit)]
        if len(present) < 2:
            continue  # an unpairable value tells nothing about agreement
        counts = np.zeros(len(values))
        for v in present:
            counts[index[v]] += 1
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (len(present) - 1)
    marginals = coincidence.sum(axis=1)
    n = marginals.sum()
    if n == 0:
        return math.nan
    if level == "nominal":
        delta = 1.0 - np.eye(len(values))
    elif level == "interval":
        delta = np.subtract.outer(values, values) ** 2
    elif level == "ordinal":
        cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
        i, j = np.meshgrid(np.arange(len(values)), np.arange(len(values)), indexing="ij")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        delta = (cumulative[hi + 1] - cumulative[lo] - (marginals[lo] + marginals[hi]) / 2) ** 2
    else:
        raise MedsynError(f"unknown level of measurement {level!r}; allowed: nominal, ordinal, interval")
    observed = float((coincidence * delta).sum())
    expected = float((np.outer(marginals, marginals) * delta).sum()) / (n - 1)
    return float(1 - observed / expected) if expected > 0 else math.nan


# -- the report -------------------------------------------------------------------------------------------------------
def _guess_block(rows: list[dict]) -> dict:
    n = len(rows)
    correct = sum(r["origin"] == r["truth"] for r in rows)
    judged_real = {origin: [r["origin"] == "real" for r in rows if r["truth"] == origin] for origin in ORIGINS}
    return {
        "answers": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "accuracy_ci": list(wilson_interval(correct, n)) if n else None,
        "p_vs_chance": binomial_p(correct, n),
        **{f"{origin}_judged_real": (sum(v) / len(v) if v else None) for origin, v in judged_real.items()},
    }


def _scores_block(rows: list[dict]) -> dict:
    out = {}
    for criterion in ASSESSMENT_CRITERIA:
        by_origin = {origin: [r[criterion] for r in rows if r["truth"] == origin] for origin in ORIGINS}
        out[criterion] = {
            **{origin: mean_interval(v) for origin, v in by_origin.items()},
            "p_mann_whitney": mann_whitney_p(by_origin["real"], by_origin["synthetic"]),
        }
    return out


def _agreement(rows: list[dict], annotators: list[str], item_ids: list[str]) -> dict:
    if len(annotators) < 2:
        return {"note": "agreement needs at least two annotators"}
    column = {item: j for j, item in enumerate(item_ids)}
    row = {name: i for i, name in enumerate(annotators)}

    def matrix(field, value=lambda v: v):
        m = np.full((len(annotators), len(item_ids)), np.nan)
        for r in rows:
            m[row[r["annotator"]], column[r["item_id"]]] = value(r[field])
        return m

    guesses = matrix("origin", lambda v: float(ORIGINS.index(v)))
    complete = ~np.isnan(guesses).any(axis=0)
    out = {"items_answered_by_all": int(complete.sum())}
    if complete.any():
        full = guesses[:, complete].astype(int)
        if len(annotators) == 2:
            out["cohen_kappa_origin"] = cohen_kappa(full[0], full[1])
        else:
            out["fleiss_kappa_origin"] = fleiss_kappa(np.stack([(full == k).sum(axis=0) for k in (0, 1)], axis=1))
    out["krippendorff_alpha_origin_nominal"] = krippendorff_alpha(guesses, "nominal")
    for criterion in ASSESSMENT_CRITERIA:
        out[f"krippendorff_alpha_{criterion}_ordinal"] = krippendorff_alpha(matrix(criterion), "ordinal")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def score(folder: str | Path) -> dict:
    """The report of an assessment folder's answers (see the module); answers to unknown items are an error, and so
    is an unreadable answers file or a bad line in one (``answers.collect_answers``: only a partial last line, what a
    crash leaves, is left out, and counted)."""
    folder = Path(folder)
    items = load_items(folder)
    key = load_key(folder)
    item_ids = [item["item_id"] for item in items]
    if set(item_ids) != set(key):
        raise MedsynError(f"{folder}: the key and {len(item_ids)} items do not match (was the folder edited?)")
    if not (folder / ANSWERS_DIR).is_dir():
        raise MedsynError(f"{folder}: no answers/ folder (not an assessment folder)")
    answers, read = collect_answers(folder / ANSWERS_DIR)
    annotators = list(answers)
    rows = []
    for name in annotators:
        for answer in answers[name]:
            if answer["item_id"] not in key:
                raise MedsynError(f"{folder / ANSWERS_DIR}: {name} answers an unknown item {answer['item_id']!r}")
            rows.append({**answer, "annotator": name, "truth": key[answer["item_id"]]["origin"]})
    scopes = {name: [r for r in rows if r["annotator"] == name] for name in annotators}
    if rows:  # none yet: the report says so (a study's progress can be checked at any time)
        scopes["pooled"] = rows
    report = {
        "items": len(items),
        "annotators": annotators,
        "answers": len(rows),
        "read": read,
        "scopes": {name: {"guess": _guess_block(r), "scores": _scores_block(r)} for name, r in scopes.items()},
        "agreement": _agreement(rows, annotators, item_ids),
    }
    return report


def _fmt(x, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _interval(block: dict) -> str:
    if block["mean"] is None:
        return "–"
    ci = f" [{_fmt(block['ci'][0])}, {_fmt(block['ci'][1])}]" if block["ci"] else ""
    return f"{_fmt(block['mean'])}{ci} (n={block['n']})"


def render_markdown(report: dict) -> str:
    lines = [
        "# Blind assessment: real vs synthetic notes",
        "",
        f"{report['items']} items (half real, half synthetic), {len(report['annotators'])} annotator(s), "
        f"{report['answers']} answers.",
        "",
    ]
    read = report.get("read")
    if read:
        files = ", ".join(f"{name} ({info['answers']})" for name, info in read["files"].items()) or "none"
        lines += [f"Answer files read: {files}."]
        if read["partial_last_lines"]:
            lines += [f"Left out: {read['partial_last_lines']} partial last line(s), an answer a crash cut short."]
        if read["duplicates_merged"]:
            lines += [f"Merged: {read['duplicates_merged']} answers found again in a file of the same annotator."]
        lines += [""]
    if not report["answers"]:
        return "\n".join([*lines, "No answers yet.", ""])
    lines += [
        "## Telling real from synthetic",
        "",
        "| annotator | answers | accuracy [Wilson 95 % CI] | p (binomial vs 50 %) | real judged real | "
        "synthetic judged real |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, scope in report["scopes"].items():
        g = scope["guess"]
        lines.append(
            f"| {name} | {g['answers']} | {_fmt(g['accuracy'])} [{_fmt(g['accuracy_ci'][0])}, "
            f"{_fmt(g['accuracy_ci'][1])}] | {_fmt(g['p_vs_chance'], 3)} | {_fmt(g['real_judged_real'])} | "
            f"{_fmt(g['synthetic_judged_real'])} |"
        )
    lines += [
        "",
        "## Scores (1-5): real vs synthetic",
        "",
        "| annotator | criterion | real: mean [t 95 % CI] | synthetic: mean [t 95 % CI] | p (Mann–Whitney) |",
        "|---|---|---|---|---:|",
    ]
    for name, scope in report["scopes"].items():
        for criterion, block in scope["scores"].items():
            lines.append(
                f"| {name} | {criterion} | {_interval(block['real'])} | {_interval(block['synthetic'])} | "
                f"{_fmt(block['p_mann_whitney'], 3)} |"
            )
    lines += ["", "## Agreement between annotators", ""]
    lines += [f"- {k}: {_fmt(v, 3) if isinstance(v, float) else v}" for k, v in report["agreement"].items()]
    lines += ["", "Criteria: " + "; ".join(f"**{c}** — {doc}" for c, doc in ASSESSMENT_CRITERIA.items()), ""]
    return "\n".join(lines)


def write_report(folder: str | Path, out: str | Path, overwrite: bool = False) -> dict:
    report = score(folder)
    with safe_output(out, command=COMMAND, inputs=[folder], overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return report
