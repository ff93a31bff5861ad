"""The report's figures: both sides' notes read through the project's loader, then fidelity, diversity, privacy and
(with eval notes) utility, each measured by its own module (``evaluation.fidelity``, ``.diversity``, ``.privacy``,
``.icd``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medsyn_hf.data import category, read_notes, role_column
from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.diversity import diversity
from medsyn_hf.evaluation.fidelity import fidelity, matched_sample
from medsyn_hf.evaluation.icd.experiment import compare
from medsyn_hf.evaluation.icd.sampling import LabelledNotes
from medsyn_hf.evaluation.privacy import RUN_THRESHOLD, privacy
from medsyn_hf.filters.ngrams import tokenize, word_counts
from medsyn_hf.normalize import words
from medsyn_hf.text_views import MAX_CHARS
from medsyn_hf.text_views import view as text_view


@dataclass
class NoteSet:
    """Notes of one side: texts, 3-character categories, codes as given, example notes, and the priors' plan."""

    source: str
    texts: list[str]
    categories: list[str]
    codes: list[str]
    examples: list[str | None] | None = None
    planned: Counter | None = None
    empty: int = 0


def load_set(
    source: str, split: str | None = None, text_column: str | None = None, code_column: str | None = None
) -> NoteSet:
    """A side of the comparison through the project's notes loader (``data.read_notes``: a `medsyn generate` run
    folder, a published folder, a file or a Hub id); notes the filters dropped (``keep`` false) are left out but count
    in the plan, empty texts are left out and counted, a missing or bad code is an error."""
    data, dropped = read_notes(str(source), split)
    text_column = role_column(
        data, "text", text_column, source, flag="--text-column (synthetic) or --real-text-column"
    )
    code_column = role_column(
        data, "code", code_column, source, flag="--code-column (synthetic) or --real-code-column"
    )
    example_column = role_column(data, "example_text", None, source, flag="", required=False, exclude=[text_column])
    planned = None
    if dropped is not None:
        planned = Counter(str(c) for part in (data, *dropped) for c in part[code_column])
    texts, codes = data[text_column], data[code_column]
    examples = data[example_column] if example_column else None
    rows = [i for i, text in enumerate(texts) if text is not None and str(text).strip()]
    if not rows:
        raise MedsynError(f"{source}: no note with a text in column {text_column!r}")
    missing = [i for i in rows if codes[i] is None or not str(codes[i]).strip()]
    if missing:
        raise MedsynError(f"{source}: {len(missing)} notes have no {code_column!r} (first: row {missing[0]})")
    try:
        categories = [category(codes[i]) for i in rows]
    except MedsynError as err:
        raise MedsynError(f"{source}: {err}") from None
    return NoteSet(
        str(source),
        [str(texts[i]) for i in rows],
        categories,
        [str(codes[i]).strip() for i in rows],
        [examples[i] for i in rows] if examples is not None else None,
        planned,
        len(texts) - len(rows),
    )


def _seconds(start: float) -> float:
    return round(time.perf_counter() - start, 2)


def build_report(
    synthetic: NoteSet,
    real: NoteSet,
    *,
    view: str = "complaint",
    max_chars: int = MAX_CHARS,
    max_notes: int = 5000,
    folds: int = 5,
    n_bootstrap: int = 1000,
    holdout: float = 0.2,
    run_threshold: int = RUN_THRESHOLD,
    seed: int = 0,
) -> tuple[dict, dict]:
    """(report, what the plots need). Fidelity on code-matched samples; diversity and privacy on every note."""
    seconds = {}
    start = time.perf_counter()
    real_index, synthetic_index = matched_sample(real.categories, synthetic.categories, max_notes, seed)
    real_view = [text_view(t, view, max_chars) for t in real.texts]
    synthetic_view = [text_view(t, view, max_chars) for t in synthetic.texts]
    seconds["views"] = _seconds(start)
    start = time.perf_counter()
    matched = {"real": [real_view[i] for i in real_index], "synthetic": [synthetic_view[i] for i in synthetic_index]}
    fid = fidelity(
        matched["real"],
        matched["synthetic"],
        [real.texts[i] for i in real_index],
        [synthetic.texts[i] for i in synthetic_index],
        folds,
        n_bootstrap,
        seed,
    )
    fid["codes"] = len(set(real.categories) & set(synthetic.categories))
    seconds["fidelity"] = _seconds(start)
    start = time.perf_counter()
    tokens = tokenize(real.texts), tokenize(synthetic.texts)
    div = diversity(
        synthetic.texts,
        synthetic.categories,
        real.categories,
        matched,
        real.texts,
        synthetic.planned,
        synthetic.codes,
        tokens[1],
    )
    seconds["diversity"] = _seconds(start)
    start = time.perf_counter()
    priv, per_note = privacy(
        real_view,
        real.texts,
        synthetic_view,
        synthetic.texts,
        synthetic.examples,
        holdout,
        run_threshold,
        seed,
        tokens,
    )
    seconds["privacy"] = _seconds(start)
    report = {
        "synthetic": {
            "source": synthetic.source,
            "notes": len(synthetic.texts),
            "empty_dropped": synthetic.empty,
            "codes": len(set(synthetic.codes)),
        },
        "real": {
            "source": real.source,
            "notes": len(real.texts),
            "empty_dropped": real.empty,
            "codes": len(set(real.categories)),
        },
        "view": view,
        "max_chars": max_chars,
        "seed": seed,
        "fidelity": fid,
        "diversity": div,
        "privacy": priv,
        "utility": None,
        "seconds": seconds,
    }
    plots = {
        "words": {"real": _word_counts(matched["real"]), "synthetic": _word_counts(matched["synthetic"])},
        "words_full": {
            "real": word_counts(tokens[0], len(real.texts)),  # counted by tokenize already
            "synthetic": word_counts(tokens[1], len(synthetic.texts)),
        },
        "categories": synthetic.codes,
        **per_note,
    }
    return report, plots


def _word_counts(texts: Sequence[str]) -> np.ndarray:
    return np.array([len(words(t)) for t in texts])


def utility(
    real: NoteSet,
    evaluation: NoteSet,
    synthetic: NoteSet,
    *,
    topup: int = 40,
    view: str = "complaint",
    seeds: Sequence[int] = (0, 1, 2),
    max_chars: int = MAX_CHARS,
    n_bootstrap: int = 1000,
) -> dict:
    """`medsyn eval icd`'s comparison (``medsyn_hf.evaluation.icd.experiment.compare``): the classifier trained on the
    real notes against the same plus synthetic notes topping every code up to ``topup`` notes, on the eval notes and
    seeds, with paired differences. ``topup`` is fixed beforehand: choosing it on the eval notes would overstate it."""
    result = compare(
        LabelledNotes(real.texts, real.categories),
        LabelledNotes(evaluation.texts, evaluation.categories),
        LabelledNotes(synthetic.texts, synthetic.categories),
        topup=topup,
        view=view,
        seeds=seeds,
        max_chars=max_chars,
        n_bootstrap=n_bootstrap,
        drop_unseen=True,
    )
    keep = (
        "view",
        "topup",
        "seeds",
        "rare_k",
        "n",
        "n_rare",
        "eval_dropped",
        "synthetic_dropped",
        "real_only",
        "upsampled",
        "paired_diff",
    )
    return {"eval": evaluation.source, **{key: result[key] for key in keep}}
