"""`evaluate` metrics, each a module folder in the `evaluate` template (``<name>.py``, a ``README.md`` metric card,
``requirements.txt``), loadable offline by path from any folder: ``evaluate.load(metric_path("symptom_recall"))``.

Each is one thin ``evaluate.Metric`` over the functions in ``medsyn_hf`` (the same code as the filters and `medsyn
eval icd`), so the module is not self-contained: its ``requirements.txt`` declares ``medsyn-hf``.
"""

from pathlib import Path

import datasets
import evaluate

from medsyn_hf.provenance import MEDSYN_CITATION

METRICS_DIR = Path(__file__).resolve().parent
NAMES = ("copy_ratio", "icd_accuracy", "symptom_recall")


def metric_path(name: str) -> str:
    """The folder ``evaluate.load`` takes for one of NAMES, wherever the package is installed."""
    if name not in NAMES:
        raise ValueError(f"no medsyn metric {name!r}; choose from {', '.join(NAMES)}")
    return str(METRICS_DIR / name)


def metric_info(description: str, inputs_description: str, references: datasets.Value | datasets.Sequence):
    """The MetricInfo both note metrics share: a note per prediction, MedSyn as the citation."""
    return evaluate.MetricInfo(
        description=description,
        citation=MEDSYN_CITATION,
        inputs_description=inputs_description,
        features=datasets.Features({"predictions": datasets.Value("string"), "references": references}),
    )
