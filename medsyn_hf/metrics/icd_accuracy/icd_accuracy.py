"""ICD-code accuracy as an `evaluate` metric: `evaluate.load(metric_path("icd_accuracy"))`.

A thin wrapper: the scores are ``medsyn_hf.evaluation.icd.metrics.icd_scores``, the ones `medsyn eval icd` reports.
"""

import datasets
import evaluate

from medsyn_hf.evaluation.icd.metrics import icd_scores
from medsyn_hf.provenance import MEDSYN_CITATION, RUMEDBENCH_CITATION

_CITATION = MEDSYN_CITATION + RUMEDBENCH_CITATION

_DESCRIPTION = """\
RuMedTop3's scores of an ICD-10 code classifier: acc@1 (the first predicted code is right) and hit@3 (the right code is
among the first three), their macro forms (the mean over codes of each code's score), each code's own scores, and all
of these again on the rare codes you name. Percent, with percentile bootstrap confidence intervals.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of str): ranked codes per note, best first (three are enough).
    references (list of str): the right code of each note.
    rare_codes (list of str): codes to score separately as rare (default: none).
    n_bootstrap (int): bootstrap resamples of the notes (default 1000; 0: no intervals).
    confidence (float): interval coverage (default 0.95).
    seed (int): seed of the resampling (default 0).
Returns:
    n, acc1, hit3, macro_acc1, macro_hit3, and n_rare, rare_acc1, rare_hit3, rare_macro_acc1, rare_macro_hit3
    (None without rare notes); ci: {score: [low, high]}; per_code: {code: {n, acc1, hit3, rare}}.
Examples:
    >>> from medsyn_hf.metrics import metric_path
    >>> metric = evaluate.load(metric_path("icd_accuracy"))
    >>> result = metric.compute(predictions=[["J06", "J20", "J02"], ["K29", "J06", "K30"]], references=["J06", "J06"])
    >>> result["acc1"], result["hit3"]
    (50.0, 100.0)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class IcdAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("string")), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, rare_codes=(), n_bootstrap=1000, confidence=0.95, seed=0):
        return icd_scores(predictions, references, rare_codes, n_bootstrap, confidence, seed)
