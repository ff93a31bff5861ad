"""What `medsyn eval icd` prints and writes: the comparison's small table, the grid's table and plot, and the
validation table of --choose-on-train."""

from __future__ import annotations

import json
from pathlib import Path

from medsyn_hf.evaluation.icd.choice import label
from medsyn_hf.evaluation.icd.experiment import baseline_of, cell_label
from medsyn_hf.evaluation.icd.metrics import excludes_zero
from medsyn_hf.evaluation.icd.rule import standard_error

PLOTTED = {"acc1": "acc@1", "hit3": "hit@3", "rare_acc1": "rare codes: acc@1", "rare_hit3": "rare codes: hit@3"}
SHOWN = ("acc1", "hit3", "macro_hit3", "rare_acc1", "rare_hit3")
NAMES = {"acc1": "acc@1", "hit3": "hit@3", "macro_hit3": "macro hit@3", "rare_acc1": "rare acc@1"}
NAMES["rare_hit3"] = "rare hit@3"


def report_text(result: dict) -> str:
    """The comparison as a small table: real only, with synthetic notes, their paired difference and its interval."""
    added = result.get("upsampled")
    how = (
        f"top-up to {result['topup']} notes per code"
        if result["topup"]
        else f"synthetic fraction {result['synthetic_fraction']:g}"
    )
    lines = [
        f"train: {result['real_only']['train_real']:.0f} real notes"
        + (f" + {added['train_synthetic']:.0f} synthetic ({how}, {result['view']} view)" if added else ", 0 synthetic")
        + (
            f" ({result['synthetic_dropped']} synthetic notes dropped: codes outside the real ones)"
            if result["synthetic_dropped"]
            else ""
        )
        + f"; eval: {result['n']} notes"
        + (f" ({result['eval_dropped']} dropped)" if result["eval_dropped"] else "")
        + f"; rare codes (< {result['rare_k']} real training notes): {len(result['rare_codes'])} codes, "
        f"{result['n_rare']} eval notes; seeds {','.join(map(str, result['seeds']))}",
        f"{'':16s} {'real only':>10s}" + (f" {'+ synthetic':>12s}  difference [95% CI]" if added else ""),
    ]
    names = {"acc1": "acc@1", "hit3": "hit@3", "macro_acc1": "macro acc@1", "macro_hit3": "macro hit@3"}
    for prefix in ("", "rare_"):
        for key, name in names.items():
            key = prefix + key
            value = result["real_only"][key]
            line = f"{('rare ' if prefix else '') + name:16s} {'—' if value is None else f'{value:.2f}':>10s}"
            difference = result.get("paired_diff", {}).get(key)
            if added and difference:
                low_high = difference["ci"]
                line += (
                    f" {added[key]:12.2f}  {difference['diff']:+.2f}"
                    + (f" [{low_high[0]:+.2f}, {low_high[1]:+.2f}]" if low_high else "")
                    + (" *" if excludes_zero(difference) else "")
                )
            lines.append(line)
    lines.append(f"(* the interval excludes 0; {result['real_only']['seconds']:.1f} s per real-only fit)")
    return "\n".join(lines)


def grid_table(summary: list[dict]) -> str:
    """One row per cell: mean ± std over seeds, and the paired difference to real only with the same real notes,
    starred where its 95 % interval excludes 0."""
    lines = [
        "| real | synthetic | training notes (real + synthetic) | " + " | ".join(PLOTTED.values()) + " |",
        "|---:|---:|---:|" + "---:|" * len(PLOTTED),
    ]
    for row in summary:
        cells = []
        for key in PLOTTED:
            if row[key] is None:
                cells.append("—")
                continue
            difference = row.get("paired_diff", {}).get(key)
            delta = f" ({difference['diff']:+.2f}{'*' if excludes_zero(difference) else ''})" if difference else ""
            cells.append(f"{row[key]:.2f} ± {row[f'{key}_std']:.2f}{delta}")
        lines.append(
            f"| {row['real_fraction']:g} | {cell_label(row)} | {row['train_real']:.0f} + "
            f"{row['train_synthetic']:.0f} | " + " | ".join(cells) + " |"
        )
    return (
        "\n".join(lines) + "\n\nMean ± std over seeds; in brackets the paired difference to real only with the same "
        "real notes (synthetic only: the most real notes), * where its 95 % bootstrap interval excludes 0.\n"
    )


def plot_grid(summary: list[dict], path: Path) -> None:
    """acc@1 and hit@3, overall and on rare codes, against the synthetic fraction (top row) and the top-up K (bottom
    row, when the grid has one): a line per real fraction, the real-only baseline dashed, synthetic only in words, a
    star where the paired difference to real only excludes 0."""
    from matplotlib.figure import Figure  # optional (the `train` extra) and heavy: only --grid draws

    baseline = baseline_of(summary)
    has_topup = any(row["topup"] for row in summary)
    axes_rows = [("synthetic_fraction", "synthetic fraction")] + ([("topup", "top-up: notes per code")] * has_topup)
    figure = Figure(figsize=(18, 4.5 * len(axes_rows)), layout="constrained")
    grid = figure.subplots(len(axes_rows), len(PLOTTED), squeeze=False)
    for (axis_key, axis_label), row_axes in zip(axes_rows, grid):
        other = "topup" if axis_key == "synthetic_fraction" else "synthetic_fraction"
        for axes, (key, title) in zip(row_axes, PLOTTED.items()):
            for real_fraction in sorted({row["real_fraction"] for row in summary} - {0.0}):
                rows = sorted(
                    (
                        r
                        for r in summary
                        if r["real_fraction"] == real_fraction and not r[other] and r[key] is not None
                    ),
                    key=lambda r: r[axis_key],
                )
                axes.errorbar(
                    [r[axis_key] for r in rows],
                    [r[key] for r in rows],
                    yerr=[r[f"{key}_std"] for r in rows],
                    marker="o",
                    capsize=3,
                    label=f"real {real_fraction:g}",
                )
                starred = [r for r in rows if excludes_zero(r.get("paired_diff", {}).get(key, {}))]
                axes.scatter(
                    [r[axis_key] for r in starred],
                    [r[key] for r in starred],
                    marker="*",
                    s=220,
                    color="black",
                    zorder=3,
                )
            if baseline[key] is not None:
                axes.axhline(baseline[key], color="grey", linestyle="--", label="real only")
            for row in summary:  # far below the others: as text, so that the axis keeps their differences readable
                if row["real_fraction"] == 0 and row[key] is not None and axis_key == "synthetic_fraction":
                    axes.text(
                        0.98,
                        0.03,
                        f"synthetic only: {row[key]:.2f} ± {row[f'{key}_std']:.2f}",
                        ha="right",
                        transform=axes.transAxes,
                    )
            axes.set(title=title, xlabel=axis_label, ylabel="%")
            axes.grid(alpha=0.3)
    grid[0][0].legend(fontsize=8)
    figure.suptitle(
        "mean ± std over seeds; ★ the 95 % paired bootstrap interval of the difference to real only excludes 0"
    )
    figure.savefig(path, dpi=100)


def write_grid(tmp: Path, runs: list[dict], summary: list[dict], meta: dict) -> None:
    """grid.md, grid.png and grid.json (every run, with per-code scores) into the temporary folder of safe_output."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "grid.md").write_text(grid_table(summary), encoding="utf-8")
    plot_grid(summary, tmp / "grid.png")
    (tmp / "grid.json").write_text(
        json.dumps({**meta, "summary": summary, "runs": runs}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def _difference(cell: dict, key: str) -> str:
    if not cell.get("paired_diff"):
        return "—" if cell.get(key) is None else f"{cell[key]:.1f}"
    difference = cell["paired_diff"].get(key)
    if difference is None:
        return "—"
    return f"{difference['diff']:+.1f} ± {standard_error(difference):.1f}"


def _why(cell: dict) -> str:
    """What the rule made of a cell, in words."""
    verdict = cell["verdict"]
    below = (
        f" ({-verdict['below_best']:+.1f} ± {verdict['below_best_se']:.1f} vs the best)"
        if "below_best" in verdict and not cell["best"]
        else ""
    )
    if cell["chosen"]:
        return "**chosen**" + below
    if not verdict["admissible"]:
        return "acc@1 loss beyond the allowance"
    if cell["best"]:
        return "largest gain; a smaller intervention is within noise of it"
    return ("within noise of the best" if verdict["within_noise"] else "below the best beyond noise") + below


def choice_table(summary: dict) -> str:
    """The validation cells: real only's scores, every other cell's paired difference ± its standard error (bootstrap
    and seeds), and what the rule made of it."""
    lines = [
        "| synthetic notes | view | top-up K (on the fit part) | notes added | "
        + " | ".join(NAMES[key] for key in SHOWN)
        + " | rule |",
        "|---|---|---:|---:|" + "---:|" * len(SHOWN) + "---|",
    ]
    for cell in summary["cells"]:
        k = f"{cell['topup']} ({cell['topup_applied']})" if cell["topup"] else "—"
        lines.append(
            f"| {cell['candidate'] or 'real only'} | {cell['view'] or '—'} | {k} | {cell['size']:,.0f} | "
            + " | ".join(_difference(cell, key) for key in SHOWN)
            + f" | {_why(cell)} |"
        )
    threshold = "" if summary["threshold"] is None else f"threshold {summary['threshold']:+.2f}, "
    allowance = " + 1 SE" if summary["rule"] != "largest" else ""
    return "\n".join(lines) + (
        f"\n\nValidation: {summary['validation_notes']} notes ({summary['validation_rare_notes']} of rare codes), "
        f"classifiers trained on the fit part ({summary['fit_notes']} notes). Real only: scores in %; other rows: "
        "paired difference in points ± its standard error (bootstrap over notes and spread over seeds). "
        f"Rule {summary['rule']} on {summary['choose_by']} ({threshold}acc@1 allowance "
        f"{summary['max_acc1_drop']:g} points{allowance}).\n\n{summary['caveat']}\n"
    )


def choice_text(result: dict) -> str:
    """The validation table, the choice, and the report on --eval."""
    summary = result["choose_on_train"]
    chosen = next(cell for cell in summary["cells"] if cell["chosen"])
    return (
        "## Chosen on validation (a split of the training notes)\n\n"
        + choice_table(summary)
        + f"\nChosen: {label(chosen)}.\n\n## Reported once on --eval, trained on all training notes\n\n"
        + report_text(result)
        + "\n"
    )
