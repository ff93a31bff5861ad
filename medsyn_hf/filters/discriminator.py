"""A real-vs-synthetic discriminator: TF-IDF character and word n-grams with logistic regression. `medsyn eval
report` uses it as a two-sample test (``medsyn_hf.evaluation.fidelity``); the realism filter uses it to score each
synthetic note by how real it reads.

The realism scores are cross-fitted: the synthetic notes are split into folds (exact duplicates, case and spacing
aside, in one fold), and each fold is scored by a model trained on the other folds and the real notes, so no note is
scored by a model that saw it. A real note with the very text of a scored note is left out of that fold's training
too: the model never saw that text under either label. The real notes themselves are never scored, so every model
trains on all of them (but those twins) — a code with few real notes costs the discriminator nothing, it is one
model over all codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medsyn_hf.errors import MedsynError

FOLDS = 5


def discriminator_features(texts: Sequence[str]):
    """Character 1–4-grams within words plus word 1–2-grams, TF-IDF (sublinear tf), side by side."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True, dtype=np.float32)
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float32)
    blocks = []
    for vectorizer in (chars, words):
        try:
            blocks.append(vectorizer.fit_transform(texts))
        except ValueError:  # no n-gram in two notes (tiny sets): that block says nothing
            continue
    if not blocks:
        raise MedsynError("the notes have no words to compare")
    return sp.hstack(blocks).tocsr()


def text_groups(texts: Sequence[str]) -> np.ndarray:
    """One id per distinct text, case and spacing aside: the unit that stays in one fold."""
    _, groups = np.unique(np.asarray([" ".join(t.lower().split()) for t in texts], dtype=str), return_inverse=True)
    return groups.ravel()


def realism_scores(real: Sequence[str], synthetic: Sequence[str], folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Cross-fitted probability that each synthetic note is real (see the module docstring); NaN for every note when
    there are fewer than 2 distinct synthetic texts (nothing to cross-fit)."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    if not len(real):
        raise MedsynError("the realism score needs real notes to compare with")
    groups = text_groups([*real, *synthetic])
    real_groups, synthetic_groups = groups[: len(real)], groups[len(real) :]
    distinct = np.unique(synthetic_groups)
    folds = min(folds, len(distinct))
    scores = np.full(len(synthetic), np.nan)
    if folds < 2:
        return scores
    fold_of = np.full(groups.max() + 1, -1)
    fold_of[np.random.default_rng(seed).permutation(distinct)] = np.arange(len(distinct)) % folds
    synthetic_fold, real_fold = fold_of[synthetic_groups], fold_of[real_groups]  # a real twin shares its fold
    features = discriminator_features([*real, *synthetic])  # no labels involved: fitted once on all notes
    real_rows, synthetic_rows = features[: len(real)], features[len(real) :]
    for fold in range(folds):
        train_real, train_synthetic = real_rows[real_fold != fold], synthetic_rows[synthetic_fold != fold]
        if not train_real.shape[0]:  # every real note is a twin of a note of this fold: it stays unscored
            continue
        x = sp.vstack([train_real, train_synthetic]).tocsr()
        y = np.r_[np.ones(train_real.shape[0], dtype=int), np.zeros(train_synthetic.shape[0], dtype=int)]
        model = LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced", random_state=seed).fit(x, y)
        held = synthetic_fold == fold
        scores[held] = model.predict_proba(synthetic_rows[held])[:, 1]
    return scores
