"""The rule that picks a synthetic-data configuration from its validation cells (`medsyn eval icd --choose-on-train`).

A cell is one configuration (synthetic candidate, view, top-up K) compared with real only on validation notes: the
paired difference of every score (:func:`medsyn_hf.evaluation.icd.metrics.paired_differences`, averaged over seeds)
and its ``size``, the synthetic notes it adds. Real only is a cell too (size 0, every difference 0), so "add nothing"
can always be chosen.

- ``one-se`` (default): the admissible cells are those whose acc@1 is not below real only by more than
  ``max_acc1_drop`` points plus one standard error (no loss of overall acc@1 beyond noise); among them, find the
  largest gain in ``metric``; choose the smallest intervention (fewest synthetic notes; then the larger gain) whose
  gain is within one standard error of that best gain. This is the one-standard-error rule of cross-validation
  (Breiman et al. 1984; Hastie, Tibshirani & Friedman, ESL 7.10): the largest of several noisy validation gains is
  biased upwards, and on ~100 rare validation notes a gain is uncertain by 2–3 points, so a larger top-up that looks
  1 point better is as likely noise as a real improvement, and costs more.
- ``paired-se``: the same, but "within noise" is judged on the paired difference between the cell and the best
  cell (same validation notes, same seeds): gains of two top-ups are strongly correlated, so their difference is
  less noisy than either gain, and a cell is kept only if it is less than one standard error of that difference
  below the best.
- ``largest``: the rule used before it (README "Targeted upsampling"): the largest gain among the cells whose acc@1
  drops by at most ``max_acc1_drop`` points, no allowance for noise. Kept so that the benchmark can compare the two.

A difference's standard error joins its two sources of noise: which validation notes (the standard deviation of the
paired bootstrap of the mean over seeds, ``se``) and which synthetic notes were drawn (the spread over seeds: their
standard deviation over the square root of their number).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from medsyn_hf.errors import MedsynError

RULES = ("one-se", "paired-se", "largest")
ACC1 = "acc1"


def standard_error(difference: dict) -> float:
    """The noise of a paired difference averaged over seeds: bootstrap over notes and spread over seeds, added in
    quadrature (0 for real only against itself)."""
    per_seed = difference.get("per_seed") or []
    over_seeds = float(np.var(per_seed, ddof=1)) / len(per_seed) if len(per_seed) > 1 else 0.0
    return math.sqrt((difference.get("se") or 0.0) ** 2 + over_seeds)


def _figure(cell: dict, key: str) -> tuple[float, float]:
    """(difference, standard error) of a score in a cell; real only (no ``paired_diff``) is (0, 0)."""
    differences = cell.get("paired_diff")
    if not differences:
        return 0.0, 0.0
    if key not in differences:
        raise MedsynError(
            f"the validation notes have no {key!r} to choose by (no notes of rare codes?); "
            "choose by another score (--choose-by) or hold out more notes (--validation-fraction)"
        )
    return differences[key]["diff"], standard_error(differences[key])


def choose(
    cells: list[dict],
    rule: str = "one-se",
    metric: str = "rare_hit3",
    max_acc1_drop: float = 0.0,
    versus: Callable[[int, int], dict] | None = None,
) -> dict:
    """The chosen cell's index and every cell's verdict.

    ``cells``: dicts with ``size`` (synthetic notes added) and ``paired_diff`` (absent or empty for real only).
    ``versus(i, j)`` (``paired-se`` only): the paired difference in ``metric`` of cell ``j`` minus cell ``i`` on the
    same notes and seeds. Returns ``{"chosen": i, "best": j, "threshold": t, "verdicts": [...]}``: ``best`` is the
    admissible cell with the largest gain, ``threshold`` the smallest gain the rule accepts (``paired-se``: for each
    cell its own, so None), and each verdict holds the cell's ``gain``, ``gain_se``, ``acc1``, ``acc1_se``,
    ``admissible``, ``within_noise`` and (``paired-se``) ``below_best`` / ``below_best_se``."""
    if rule not in RULES:
        raise MedsynError(f"unknown choice rule {rule!r}; allowed: {', '.join(RULES)}")
    if not cells:
        raise MedsynError("no configurations to choose from")
    if not max_acc1_drop >= 0:
        raise MedsynError(f"--max-acc1-drop {max_acc1_drop}: must be at least 0 (points of acc@1)")
    if rule == "paired-se" and versus is None:
        raise MedsynError("the paired-se rule needs the cells' predictions to compare them with each other")
    verdicts = []
    for cell in cells:
        gain, gain_se = _figure(cell, metric)
        acc1, acc1_se = _figure(cell, ACC1)
        allowance = max_acc1_drop + (acc1_se if rule != "largest" else 0.0)
        verdicts.append(
            {"gain": gain, "gain_se": gain_se, "acc1": acc1, "acc1_se": acc1_se, "admissible": acc1 >= -allowance}
        )
    admissible = [i for i, v in enumerate(verdicts) if v["admissible"]]
    if not admissible:  # only when real only is not among the cells
        admissible = [max(range(len(cells)), key=lambda i: verdicts[i]["acc1"])]
    best = max(admissible, key=lambda i: (verdicts[i]["gain"], -cells[i]["size"]))
    threshold = verdicts[best]["gain"] - (verdicts[best]["gain_se"] if rule == "one-se" else 0.0)
    for i, verdict in enumerate(verdicts):
        if rule == "paired-se" and i in admissible:
            below = versus(i, best) if i != best else {"diff": 0.0, "se": 0.0, "per_seed": [0.0]}
            verdict["below_best"], verdict["below_best_se"] = below["diff"], standard_error(below)
            verdict["within_noise"] = below["diff"] <= verdict["below_best_se"]
        else:
            verdict["within_noise"] = i in admissible and verdict["gain"] >= threshold
    chosen = min(
        (i for i in admissible if verdicts[i]["within_noise"]),
        key=lambda i: (cells[i]["size"], -verdicts[i]["gain"], i),
    )
    return {
        "chosen": chosen,
        "best": best,
        "threshold": None if rule == "paired-se" else threshold,
        "verdicts": verdicts,
    }
