"""The folder `medsyn eval report` writes, as its readers see it: the files in it, the summary table of its headline
figures (report.md's first table and the dataset card's), and the reader that checks a folder before a card shows it.

It lies below both the report (``medsyn_hf.evaluation.report``, which writes the folder) and `medsyn publish`
(``medsyn_hf.generation.publish``, which puts the table and the plots into the dataset card): publishing is not
evaluating, and needs only the folder's format.
"""

from __future__ import annotations

from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.io import written_by
from medsyn_hf.textfile import read_json

COMMAND = "medsyn eval report"
PLOTS = {
    "fidelity.png": "Lengths and sections, real and synthetic",
    "diversity.png": "Notes per code",
    "privacy.png": "Distance to the closest real note and longest shared word run",
}

UTILITY_SCORES = {"acc1": "acc@1", "hit3": "hit@3", "rare_acc1": "rare-code acc@1", "rare_hit3": "rare-code hit@3"}


def utility_rows(utility_: dict) -> list[tuple[str, str, str, str]]:
    """The summary table's rows of `medsyn eval icd`'s comparison (``--eval``)."""
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


def number(value, digits: int = 3) -> str:
    """A figure as the report prints it: floats to ``digits`` places, a missing one as a dash."""
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def share(value) -> str:
    """A share (0..1) as a percentage, a missing one as a dash."""
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
            number(fid["words"]["synthetic"]["median"], 0),
            number(fid["words"]["real"]["median"], 0),
            "the discriminator compares this view",
        ),
        (
            "distinct-2 (code-matched samples)",
            number(matched["synthetic"]["distinct_2"]),
            number(matched["real"]["distinct_2"]),
            "lower than real: repetitive wording",
        ),
        (
            "near-duplicate notes",
            share(div["near_duplicates"]["synthetic"]),
            share(div["near_duplicates"]["real"]),
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
            number(dcr["synthetic"]["median"]),
            number(dcr["holdout"]["median"]),
            "real baseline: held-out real notes; much lower: memorised",
        ),
        (
            "notes with DCR 0 (a real note's words)",
            share(dcr["zero"]["synthetic"]),
            share(dcr["zero"]["holdout"]),
            "should not exceed the baseline",
        ),
        (
            f"notes sharing ≥ {runs['threshold']} words verbatim with a real note",
            share(runs["synthetic"]["share_above"]),
            share(runs["holdout"]["share_above"]),
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
                number(copy["mean"]),
                "—",
                f"{share(copy['share_above'])} of {copy['notes']} notes above {copy['above']}",
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
        rows.extend(utility_rows(report["utility"]))
    return rows


def summary_table(report: dict) -> str:
    """The headline figures as a markdown table."""
    lines = ["| measure | synthetic | real baseline | how to read it |", "|---|---:|---:|---|"]
    lines += [f"| {' | '.join(row)} |" for row in summary_rows(report)]
    return "\n".join(lines) + "\n"


def load_report(folder: str | Path) -> tuple[dict, dict[str, bytes]]:
    """(report.json, {file name: bytes} of report.md and the plots) of a folder `medsyn eval report` wrote."""
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
