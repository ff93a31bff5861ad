"""RuMedBench's linear ICD-code baseline in its fast form, shared by the label-consistency filter (which ranks
synthetic notes' codes with it) and `medsyn eval icd` (``medsyn_hf.evaluation.icd.classifier``).

The baseline is character 3–8-gram TF-IDF with one-vs-rest logistic regression, C=10 (RuMedBench,
``code/linear_models/single_text_classifier.py``). Its published form is slow: an exact n-gram vocabulary (760k
entries on RuMedTop3 train, tens of millions with long synthetic notes) and lbfgs on each of 105 binary problems.
The fast form keeps the model and changes where the time goes:

- n-grams are hashed into 2**18 buckets, counted once per run and re-weighted per training set (the idf of exactly
  the notes a classifier is trained on, as the vectorizer would fit it);
- each binary problem is solved in the dual by liblinear (coordinate descent over notes, cheap when features far
  outnumber notes) to tolerance 0.1, which already gives the rankings of the converged optimum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NGRAMS = (3, 8)
C = 10.0
HASH_BUCKETS = 2**18


def top_k(scores: np.ndarray, classes: Sequence[str], k: int = 3) -> list[list[str]]:
    """Codes ranked by score, best first, ``k`` per row."""
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.asarray(classes, dtype=object)[best].tolist()


def char_ngram_counts(texts: Sequence[str]):
    """Lower-cased character 3–8-gram counts, hashed: no vocabulary to fit, so any rows can be selected later."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(
        analyzer="char", ngram_range=NGRAMS, n_features=HASH_BUCKETS, alternate_sign=False, norm=None
    )
    return vectorizer.transform(texts)


def tfidf(train, *others):
    """TfidfVectorizer's weights (smooth idf, l2-normalised rows) with the idf of ``train``; buckets that no training
    note has weigh 0, like n-grams outside a fitted vocabulary."""
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    df = np.bincount(train.indices, minlength=train.shape[1])
    idf = np.where(df > 0, np.log((1 + train.shape[0]) / (1 + df)) + 1, 0.0)
    return [normalize(matrix @ sp.diags(idf)) for matrix in (train, *others)]


def fit_linear(train_counts, train_codes: Sequence[str], *others, seed: int = 0):
    """(the fitted one-vs-rest model, the TF-IDF rows of each of ``others`` with the training notes' idf), from
    precomputed :func:`char_ngram_counts`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    train, *rest = tfidf(train_counts, *others)
    solver = LogisticRegression(C=C, solver="liblinear", dual=True, tol=0.1, random_state=seed)
    return OneVsRestClassifier(solver).fit(train, np.asarray(train_codes)), rest


def code_ranks(
    train_texts: Sequence[str], train_codes: Sequence[str], texts: Sequence[str], codes: Sequence[str], seed: int = 0
) -> np.ndarray:
    """Where the baseline trained on (``train_texts``, ``train_codes``) ranks each note's own code among all
    training codes: 1 is its first choice; 0 when the code is not one of the training codes (nothing to rank).

    Defined for any training set with at least one note: with a single code every note of it ranks 1, and a code
    with one training note still has its own one-vs-rest problem."""
    classes = sorted(set(train_codes))
    known = np.array([code in classes for code in codes], dtype=bool)
    ranks = np.zeros(len(codes), dtype=np.int64)
    if len(classes) == 1 or not known.any():
        ranks[known] = 1
        return ranks
    counts = char_ngram_counts([*train_texts, *(t for t, k in zip(texts, known) if k)])
    model, (scored,) = fit_linear(counts[: len(train_texts)], train_codes, counts[len(train_texts) :], seed=seed)
    scores = model.decision_function(scored)
    if scores.ndim == 1:  # two codes: one binary problem, positive towards classes_[1]
        scores = np.stack([-scores, scores], axis=1)
    column = np.searchsorted(model.classes_, np.asarray(codes, dtype=object)[known])
    own = scores[np.arange(len(column)), column]
    ranks[known] = 1 + (scores > own[:, None]).sum(axis=1)
    return ranks
