"""Symptom recall as an `evaluate` metric: `evaluate.load(metric_path("symptom_recall"))`.

A thin wrapper: the measure itself is ``medsyn_hf.filters.recall.symptom_recall``, the one the generation filters use.
"""

import datasets
import evaluate

from medsyn_hf.filters.recall import symptom_recall
from medsyn_hf.metrics import metric_info

_DESCRIPTION = """\
Share of the prompted symptoms a generated note mentions. A symptom is mentioned when at least `min_share` of its
content lemmas (pymorphy3 normal forms, prepositions and conjunctions dropped) occur in the note, so inflected
mentions count ("болями в горле" for "боль в горле").
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): generated notes.
    references (list of list of str): the symptoms each note was prompted with.
    min_share (float): share of a symptom's content lemmas that must occur in the note (default 1.0: all).
Returns:
    symptom_recall (float): mean per-note recall.
    all_symptoms (float): share of notes that mention every prompted symptom.
Examples:
    >>> from medsyn_hf.metrics import metric_path
    >>> metric = evaluate.load(metric_path("symptom_recall"))
    >>> metric.compute(predictions=["Жалобы на боли в горле."], references=[["боль в горле", "кашель"]])
    {'symptom_recall': 0.5, 'all_symptoms': 0.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SymptomRecall(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, datasets.Sequence(datasets.Value("string")))

    def _compute(self, predictions, references, min_share=1.0):
        scores = [symptom_recall(note, symptoms, min_share) for note, symptoms in zip(predictions, references)]
        n = max(len(scores), 1)
        return {"symptom_recall": sum(scores) / n, "all_symptoms": sum(s == 1.0 for s in scores) / n}
