"""report.md: the summary table (``medsyn_hf.report_folder``), then each part's detail in words and tables."""

from __future__ import annotations

import json

from medsyn_hf.report_folder import UTILITY_SCORES, number, share, summary_table


def utility_table(utility_: dict) -> str:
    lines = ["| score | real only | real + synthetic | difference [95 % CI] |", "|---|---:|---:|---|"]
    for key, name in UTILITY_SCORES.items():
        diff, upsampled = utility_["paired_diff"].get(key), utility_["upsampled"].get(key)
        if diff is not None and upsampled is not None:
            ci = f" [{diff['ci'][0]:+.2f}, {diff['ci'][1]:+.2f}]" if diff.get("ci") else ""
            lines.append(f"| {name} | {utility_['real_only'][key]:.2f} | {upsampled:.2f} | {diff['diff']:+.2f}{ci} |")
    return "\n".join(lines) + "\n"


def _ngram_table(rows: list[dict]) -> str:
    lines = ["| n-gram | synthetic notes | real notes | log2 ratio |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r['ngram']} | {share(r['synthetic_share'])} | {share(r['real_share'])} | {r['log2_ratio']:+.2f} |"
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
            f"| {name} | {share(sections['synthetic'][name])} | {share(sections['real'][name])} |"
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
            f"| {name} | " + " | ".join(number(d[f"distinct_{n}"]) for n in (1, 2, 3)) + " |"
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
            f"({share(plan['kept_share'])}); codes without a kept note: "
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
            f"{share(dcr['closer_than_holdout_p5'])} of synthetic notes are closer than the baseline's 5th "
            "percentile. "
            f"Longest word run shared verbatim with a real note (full texts): median {runs['synthetic']['median']:g} "
            f"words, {share(runs['synthetic']['share_above'])} at least {runs['threshold']} "
            f"(baseline {share(runs['holdout']['share_above'])}).\n"
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
            utility_table(use),
        ]
    parts.append(f"Seconds: {json.dumps(report['seconds'])}\n")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:120]
