"""Keeps, per code, the best K − n notes a plan asked for (``medsyn_hf.priors.plan``: the plan over-generates, this
cuts back): among the notes that passed every other filter, the most real-looking first (`realism`), then the best
label rank, then the earliest."""

from __future__ import annotations

from medsyn_hf.filters.base import SetFilter, Threshold
from medsyn_hf.filters.builtin.label_consistency import note_units
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS


def _column(notes, name: str) -> list:
    """A column of the notes, all None if they have none (the filter that adds it is not registered)."""
    names = getattr(notes.columns, "column_names", notes.columns)  # a Dataset's, or a batch dict's keys
    return list(notes.columns[name]) if name in names else [None] * len(notes)


class PlanQuota(SetFilter):
    """Plan quota: each code keeps its best K − n notes (the plan's need), by `realism`, then `label_rank`."""

    name = "plan_quota"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "keep_best": Threshold(
            True, "With a plan, keep only the best K − n notes of each code (false: every note that passes)."
        )
    }

    def score(self, notes, passing, config):
        rank = [None] * len(notes)
        reference = notes.reference
        if reference is None or reference.need is None:
            return {"selection_rank": rank, "plan_need": [None] * len(notes)}
        units = note_units(notes)
        realism, labels = (_column(notes, name) for name in ("realism", "label_rank"))
        by_code: dict[str, list[int]] = {}
        for i, (code, ok) in enumerate(zip(units, passing)):
            if ok and code is not None:
                by_code.setdefault(code, []).append(i)
        for members in by_code.values():
            order = sorted(
                members,
                key=lambda i: (
                    -(realism[i] if realism[i] is not None else -1.0),
                    labels[i] if labels[i] is not None else float("inf"),
                    i,
                ),
            )
            for place, i in enumerate(order, 1):
                rank[i] = place
        return {"selection_rank": rank, "plan_need": [reference.need.get(code) for code in units]}

    def reject(self, note, config):
        rank, need = note["selection_rank"], note["plan_need"]
        return ["over_quota"] if config.keep_best and rank is not None and need is not None and rank > need else []
