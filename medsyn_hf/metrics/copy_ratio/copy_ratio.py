"""Copy ratio as an `evaluate` metric: `evaluate.load(metric_path("copy_ratio"))`.

A thin wrapper: the measures are ``medsyn_hf.filters.overlap.copy_ratio`` and ``copy_span``, the ones the generation
filters use.
"""

import datasets
import evaluate

from medsyn_hf.filters.overlap import copy_ratio, copy_span
from medsyn_hf.metrics import metric_info

_DESCRIPTION = """\
How much a generated note copies the example note it was shown: the share of the note's word n-grams that also occur
in the example, and the longest word sequence the two share verbatim. Notes without an example (empty reference)
score 0.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): generated notes.
    references (list of str): the example note each was shown ("" when none).
    n (int): n-gram length in words (default 5).
    symptoms (list of list of str, optional): each note's prompted symptoms; n-grams made only of their words are not
        counted as copied (the generation filter's column does the same).
Returns:
    copy_ratio (float): mean per-note share of copied n-grams.
    copy_span (float): mean per-note longest verbatim span, in words.
    max_copy_span (int): the longest verbatim span of any note.
Examples:
    >>> from medsyn_hf.metrics import metric_path
    >>> metric = evaluate.load(metric_path("copy_ratio"))
    >>> metric.compute(predictions=["боль в горле три дня"], references=["боль в горле три дня"], n=2)
    {'copy_ratio': 1.0, 'copy_span': 5.0, 'max_copy_span': 5}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CopyRatio(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION, datasets.Value("string"))

    def _compute(self, predictions, references, n=5, symptoms=None):
        symptoms = symptoms or [()] * len(predictions)
        ratios = [copy_ratio(note, example, n, s) for note, example, s in zip(predictions, references, symptoms)]
        spans = [copy_span(note, example) for note, example in zip(predictions, references)]
        count = max(len(ratios), 1)
        return {
            "copy_ratio": sum(ratios) / count,
            "copy_span": sum(spans) / count,
            "max_copy_span": max(spans, default=0),
        }
