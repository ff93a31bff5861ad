"""Drops notes an LLM judge (`medsyn eval judge`, its `judge_score` column) scored low; off by default."""

from __future__ import annotations

import logging

from medsyn_hf.filters.base import NoteFilter, Threshold
from medsyn_hf.schemas import FILTER_REASONS, SCORE_RANGE

logger = logging.getLogger(__name__)


def below_min_score(score: float | None, config) -> bool:
    """Is a judge score (None: the judge gave no valid answer, kept) below ``config.min_judge_score``?"""
    return config.min_judge_score is not None and score is not None and score < config.min_judge_score


def judge_failed(scores, config) -> list[bool]:
    """Per note: is its judge score (None: the judge gave no valid answer) below ``config.min_judge_score``?"""
    return [below_min_score(score, config) for score in scores]


class JudgeScore(NoteFilter):
    """LLM judge: the notes' `judge_score` (mean of the judge's 1-5 criterion scores), when they carry one."""

    name = "judge_score"
    reads = ("judge_score",)
    reasons = FILTER_REASONS[name]
    thresholds = {
        "min_judge_score": Threshold(
            None,
            "Drop notes whose LLM-judge `judge_score` (1-5, `medsyn eval judge`) is below this; a note the judge "
            "gave no valid answer for is kept. Off (None) by default; no effect on notes without judge columns.",
            low=SCORE_RANGE[0],
            high=SCORE_RANGE[1],
            kind=float | None,
        )
    }

    def check_inputs(self, column_names, config):
        if config.min_judge_score is not None and "judge_score" not in column_names:
            logger.warning(
                "min_judge_score=%s has no effect: the notes have no judge_score (run `medsyn eval judge`)",
                config.min_judge_score,
            )

    def score(self, notes, config):
        return {}

    def reject(self, note, config):
        return ["judge"] if below_min_score(note.get("judge_score"), config) else []
