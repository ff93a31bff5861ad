"""Fidelity of synthetic notes: can a classifier tell them from real ones, and where do they differ?

A classifier two-sample test: TF-IDF character and word n-grams, logistic regression, stratified k-fold
out-of-fold scores (a text found on both sides kept in one fold), ROC AUC with a bootstrap 95 % interval. 0.5 means
the discriminator cannot tell the two sets apart, 1.0 that every synthetic note is recognisable. Both sets are
sampled code by code to the same counts (``matched_sample``), so the discriminator sees style, not a different code
mix. Lengths, section presence and the
word n-grams most over- and under-represented in the synthetic notes say what gives them away.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters.discriminator import discriminator_features, text_groups
from medsyn_hf.normalize import words

# What a clinical note may contain, by the wording of its heading or phrase (lower-cased text; RuMedTop3 complaints
# usually have only the first).
SECTIONS = {
    "complaints": r"жалоб|жалуется",
    "present illness": r"анамнез (?:заболевания|болезни)|истори[яи] (?:заболевания|болезни)|болеет|заболел",
    "life history": r"анамнез жизни|социальн\w* анамнез",
    "family history": r"семейн\w* (?:анамнез|истори)|наследственн",
    "allergies": r"аллерг",
    "examination": r"осмотр|обследовани|объективн|status|статус",
    "diagnosis": r"диагноз",
    "plan": r"рекомендац|план лечения|назначен|лечение:",
    "patient data": r"возраст|\bпол\b|семейное положение|професси",
}
_SECTIONS = {name: re.compile(pattern) for name, pattern in SECTIONS.items()}


def matched_sample(
    real_codes: Sequence[str], synthetic_codes: Sequence[str], max_per_side: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of real and synthetic notes, the same number of each code on both sides: min(real, synthetic) notes
    of every code the two sets share, scaled down (at least one per code) to at most ``max_per_side`` in all."""
    rng = np.random.default_rng(seed)
    real_codes, synthetic_codes = np.asarray(real_codes, dtype=str), np.asarray(synthetic_codes, dtype=str)
    common = np.intersect1d(real_codes, synthetic_codes)
    if not len(common):
        raise MedsynError(
            "the synthetic and the real notes have no ICD-10 category in common; compare notes of the same codes"
        )
    real_by, synthetic_by = (
        {code: np.flatnonzero(codes == code) for code in common} for codes in (real_codes, synthetic_codes)
    )
    counts = np.array([min(len(real_by[c]), len(synthetic_by[c])) for c in common])
    if counts.sum() > max_per_side:
        counts = np.maximum(1, np.floor(counts * max_per_side / counts.sum())).astype(int)
    real = [rng.choice(real_by[c], k, replace=False) for c, k in zip(common, counts)]
    synthetic = [rng.choice(synthetic_by[c], k, replace=False) for c, k in zip(common, counts)]
    return np.sort(np.concatenate(real)), np.sort(np.concatenate(synthetic))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC (scikit-learn's ``roc_auc_score``; ties count half)."""
    from sklearn.metrics import roc_auc_score  # optional (`train` extra), heavy: for reports only

    return float(roc_auc_score(labels, scores))


def resampled_auc(scores: np.ndarray, negatives: np.ndarray, positives: np.ndarray, chunk: int = 100) -> np.ndarray:
    """The ROC AUC of every resample: row ``i`` of ``negatives`` and ``positives`` indexes the scores of resample
    ``i``. AUC is the Mann–Whitney U of the positives against the negatives over their product (scipy.stats, ties
    half, the same value as :func:`auc`), vectorised over rows: several times faster than one ``roc_auc_score`` call
    per resample, whose checks of its input cost more than the AUC of a few thousand notes."""
    from scipy.stats import mannwhitneyu  # optional (`train` extra), heavy: see auc

    statistic = [
        mannwhitneyu(
            scores[positives[i : i + chunk]], scores[negatives[i : i + chunk]], axis=1, method="asymptotic"
        ).statistic
        for i in range(0, len(positives), chunk)
    ]
    return np.concatenate(statistic) / (positives.shape[1] * negatives.shape[1])


def two_sample_test(
    real: Sequence[str], synthetic: Sequence[str], folds: int = 5, n_bootstrap: int = 1000, seed: int = 0
) -> dict:
    """Out-of-fold ROC AUC of a real-vs-synthetic logistic regression, with a stratified bootstrap 95 % interval."""
    from sklearn.linear_model import LogisticRegression  # optional (`train` extra), heavy: see auc
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.r_[np.zeros(len(real), dtype=int), np.ones(len(synthetic), dtype=int)]
    # The same text on both sides stays in one fold: a twin with the other label in the training folds would push
    # the score of a shared text the wrong way and an identical set below 0.5.
    groups = text_groups([*real, *synthetic])
    folds = min(folds, len(real), len(synthetic))
    if folds < 2:
        raise MedsynError(
            f"{len(real)} real and {len(synthetic)} synthetic notes of shared codes: the discriminator "
            "needs at least 2 of each"
        )
    features = discriminator_features([*real, *synthetic])  # no labels involved: fitted once on all notes
    scores = np.zeros(len(labels))
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(features, labels, groups):
        if len(np.unique(labels[train])) < 2:  # one side is a few texts many times over: a fold holds all of them
            distinct = len(set(groups[: len(real)])), len(set(groups[len(real) :]))
            raise MedsynError(
                f"{distinct[0]} distinct real and {distinct[1]} distinct synthetic texts of shared codes: too few "
                "different notes on a side to train the discriminator"
            )
        model = LogisticRegression(C=1.0, solver="liblinear", random_state=seed).fit(features[train], labels[train])
        scores[test] = model.decision_function(features[test])
    value = auc(scores, labels)
    interval = None
    if n_bootstrap:  # resampled within each side: every resample keeps both sides' sizes
        rng = np.random.default_rng(seed)
        negatives, positives = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
        draws = [
            (rng.choice(negatives, len(negatives)), rng.choice(positives, len(positives))) for _ in range(n_bootstrap)
        ]
        resampled = resampled_auc(scores, *(np.stack(side) for side in zip(*draws)))
        interval = [round(float(q), 4) for q in np.percentile(resampled, [2.5, 97.5])]
    return {
        "auc": round(value, 4),
        "auc_ci": interval,
        "folds": folds,
        "n_per_side": len(real),
        "features": int(features.shape[1]),
    }


def length_stats(texts: Sequence[str]) -> dict:
    """Words per note: mean and quantiles."""
    n = np.array([len(words(t)) for t in texts], dtype=float)
    return {
        "mean": round(float(n.mean()), 1),
        **{name: float(np.percentile(n, q)) for name, q in (("p10", 10), ("median", 50), ("p90", 90))},
    }


def section_shares(texts: Sequence[str]) -> dict:
    """Share of notes in which each of :data:`SECTIONS` appears."""
    lowered = [t.lower() for t in texts]
    return {name: round(sum(bool(p.search(t)) for t in lowered) / len(lowered), 4) for name, p in _SECTIONS.items()}


def distinctive_ngrams(real: Sequence[str], synthetic: Sequence[str], top: int = 15, min_notes: int = 5) -> dict:
    """Word 1–3-grams most over- and under-represented in the synthetic notes: the log ratio of the shares of notes
    that contain them (add-one smoothed), among n-grams in at least ``min_notes`` notes."""
    from sklearn.feature_extraction.text import CountVectorizer  # optional (`train` extra), heavy: see auc

    vectorizer = CountVectorizer(ngram_range=(1, 3), binary=True, min_df=min(min_notes, len(real) + len(synthetic)))
    try:
        counts = vectorizer.fit_transform([*real, *synthetic])
    except ValueError:
        return {"over": [], "under": []}
    in_real = np.asarray(counts[: len(real)].sum(0)).ravel()
    in_synthetic = np.asarray(counts[len(real) :].sum(0)).ravel()
    share_real, share_synthetic = (in_real + 1) / (len(real) + 2), (in_synthetic + 1) / (len(synthetic) + 2)
    ratio = np.log2(share_synthetic / share_real)
    names = vectorizer.get_feature_names_out()

    def rows(order):
        return [
            {
                "ngram": str(names[i]),
                "synthetic_share": round(float(in_synthetic[i] / len(synthetic)), 4),
                "real_share": round(float(in_real[i] / len(real)), 4),
                "log2_ratio": round(float(ratio[i]), 2),
            }
            for i in order[:top]
        ]

    over, under = np.lexsort((names, -ratio)), np.lexsort((names, ratio))
    return {"over": rows(over[ratio[over] > 0]), "under": rows(under[ratio[under] < 0])}


def fidelity(
    real_view: Sequence[str],
    synthetic_view: Sequence[str],
    real_full: Sequence[str],
    synthetic_full: Sequence[str],
    folds: int = 5,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Everything above on code-matched samples: the discriminator and n-grams on the compared view of the text,
    lengths on the view and on the full notes, sections on the full notes."""
    return {
        **two_sample_test(real_view, synthetic_view, folds, n_bootstrap, seed),
        "words": {"real": length_stats(real_view), "synthetic": length_stats(synthetic_view)},
        "words_full": {"real": length_stats(real_full), "synthetic": length_stats(synthetic_full)},
        "sections": {"real": section_shares(real_full), "synthetic": section_shares(synthetic_full)},
        "ngrams": distinctive_ngrams(real_view, synthetic_view),
    }
