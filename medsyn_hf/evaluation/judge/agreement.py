"""How the judge agrees with the annotators of an assessment folder: Spearman's rho with their mean score per item,
and the quadratic-weighted Cohen's kappa with each answer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from medsyn_hf.assessment_folder import ANSWERS_DIR, collect_answers
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.judge.prompt import CRITERIA
from medsyn_hf.schemas import SCORE_RANGE


def human_answers(folder: Path) -> list[dict]:
    """Every annotator's answers in an assessment folder (first answer per item, read strictly:
    ``assessment_folder.collect_answers``)."""
    if not folder.is_dir():
        raise MedsynError(f"assessment: {folder} is not a folder of `medsyn assess prepare`")
    return [a for rows in collect_answers(folder / ANSWERS_DIR)[0].values() for a in rows]


def agreement(judged: dict[str, dict], answers: list[dict]) -> dict | None:
    """Per criterion and for the overall score: Spearman's rho between the judge's score and the annotators' mean
    score of the same item, and the quadratic-weighted Cohen's kappa between the judge and each answer (pooled).
    ``judged`` maps item id -> the judge's scores (None: missing). None when no item has both."""
    from scipy.stats import spearmanr  # optional (`train` extra), heavy: for agreement only
    from sklearn.metrics import cohen_kappa_score

    criteria = CRITERIA
    pairs = [
        (judged[a["item_id"]], a)
        for a in answers
        if judged.get(a["item_id"]) is not None and all(isinstance(a.get(c), int) for c in criteria)
    ]
    if not pairs:
        return None
    report = {
        "items": len({a["item_id"] for _, a in pairs}),
        "answers": len(pairs),
        "annotators": len({a.get("annotator") for _, a in pairs}),
    }
    low, high = SCORE_RANGE
    for criterion in (*criteria, "overall"):

        def score(s, c=criterion):
            return float(np.mean([s[k] for k in criteria])) if c == "overall" else s[c]

        by_item: dict[str, list] = {}
        for j, a in pairs:
            by_item.setdefault(a["item_id"], [score(j), []])[1].append(score(a))
        judge = [v[0] for v in by_item.values()]
        human = [float(np.mean(v[1])) for v in by_item.values()]
        rho = spearmanr(judge, human).statistic if len(judge) > 2 else math.nan
        entry = {"spearman": None if math.isnan(rho) else round(float(rho), 4)}
        if criterion != "overall":
            js, hs = [score(j) for j, _ in pairs], [score(a) for _, a in pairs]
            kappa = cohen_kappa_score(js, hs, weights="quadratic", labels=list(range(low, high + 1)))
            entry["kappa_quadratic"] = None if math.isnan(kappa) else round(float(kappa), 4)
        entry.update(judge_mean=round(float(np.mean(judge)), 3), human_mean=round(float(np.mean(human)), 3))
        report[criterion] = entry
    return report
