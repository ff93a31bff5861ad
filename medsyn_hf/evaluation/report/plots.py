"""The report's PNG plots (matplotlib's object API: no global pyplot state, safe in threads)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

COLORS = {"synthetic": "#3b7dd8", "real": "#e08214", "real holdout": "#e08214"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # optional (the `train` extra) and heavy: imported to draw

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
