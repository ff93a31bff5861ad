"""ICD-code classifiers that rank codes for notes: RuMedBench's linear baseline (as published, and a fast equivalent
whose pieces live in ``medsyn_hf.filters.code_classifier``, shared with the label-consistency filter) and a
fine-tuned local encoder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import datasets
import numpy as np

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters.code_classifier import NGRAMS, C, char_ngram_counts, fit_linear, top_k

__all__ = ["char_ngram_counts", "linear_rank", "reference_rank", "top_k", "transformer_rank"]


def _check_classes(codes: Sequence[str]) -> None:
    if len(set(codes)) < 3:
        raise MedsynError(f"the training notes have {len(set(codes))} distinct codes; hit@3 needs at least 3")


def linear_rank(train_counts, train_codes: Sequence[str], eval_counts, k: int = 3, seed: int = 0) -> list[list[str]]:
    """The fast baseline on precomputed :func:`char_ngram_counts`."""
    _check_classes(train_codes)
    model, (evaluation,) = fit_linear(train_counts, train_codes, eval_counts, seed=seed)
    return top_k(model.decision_function(evaluation), model.classes_, k)


def reference_rank(
    train_texts: Sequence[str], train_codes: Sequence[str], eval_texts: Sequence[str], k: int = 3
) -> list[list[str]]:
    """RuMedBench's baseline as published: its ``multi_class='ovr'`` is ``OneVsRestClassifier`` in scikit-learn 1.7+,
    and since 1.2 lbfgs minimises the loss divided by the number of notes, so the published stopping rule (gradient
    below 1e-4 of the undivided loss, scikit-learn 1.0) is ``tol=1e-4 / n``. At the default tol lbfgs stops early:
    47.88 / 69.10 on dev instead of 46.82 / 71.23."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # optional (`train` extra): the published baseline
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    _check_classes(train_codes)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS)
    solver = LogisticRegression(C=C, tol=1e-4 / len(train_codes))
    model = OneVsRestClassifier(solver).fit(vectorizer.fit_transform(train_texts), train_codes)
    return top_k(model.predict_proba(vectorizer.transform(eval_texts)), model.classes_, k)


def transformer_rank(
    model_path: str,
    train_texts: Sequence[str],
    train_codes: Sequence[str],
    eval_texts: Sequence[str],
    k: int = 3,
    seed: int = 0,
    epochs: float = 3.0,
    learning_rate: float = 5e-5,
    batch_size: int = 16,
    max_length: int = 256,
) -> list[list[str]]:
    """Fine-tune a local encoder (AutoModelForSequenceClassification, a fresh head over the training codes) with the
    Trainer, then rank codes by its logits."""
    from transformers import (  # optional (`train` extra), heavy: fine-tuning only
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    _check_classes(train_codes)
    classes = sorted(set(train_codes))
    label = {code: i for i, code in enumerate(classes)}
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path, num_labels=len(classes), id2label=dict(enumerate(classes)), label2id=label
        )
    except OSError as err:
        raise MedsynError(f"{model_path}: not a local model folder ({str(err).splitlines()[0]})") from err
    if tokenizer.pad_token is None:
        raise MedsynError(f"{model_path}: the tokenizer has no pad token, which batching needs")
    model.config.pad_token_id = tokenizer.pad_token_id

    def encode(texts, labels=None):
        columns = {"text": list(texts)} | ({"label": [label[c] for c in labels]} if labels is not None else {})
        return datasets.Dataset.from_dict(columns).map(
            lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length),
            batched=True,
            remove_columns=["text"],
        )

    with tempfile.TemporaryDirectory(prefix="medsyn-icd-") as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=epochs,
            learning_rate=learning_rate,
            per_device_train_batch_size=batch_size,
            per_device_eval_batch_size=batch_size,
            seed=seed,
            save_strategy="no",
            report_to="none",
            logging_strategy="no",
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=encode(train_texts, train_codes),
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
        )
        trainer.train()
        logits = trainer.predict(encode(eval_texts)).predictions
    return top_k(np.asarray(logits), classes, k)
