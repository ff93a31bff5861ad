"""`evaluate` metrics, loadable offline by path: ``evaluate.load(".../medsyn_hf/metrics/symptom_recall")``.

Each subfolder holds one thin ``evaluate.Metric`` over the functions in ``medsyn_hf.filters``.
"""

import datasets
import evaluate

MEDSYN_CITATION = """\
@article{kumichev2024medsyn,
  title={MedSyn: LLM-Based Synthetic Medical Text Generation Framework},
  author={Kumichev, Gleb and Blinov, Pavel and Kuzkina, Yulia and Goncharov, Vasily and Zubkova, Galina and
          Zenovkin, Nikolai and Goncharov, Aleksei and Savchenko, Andrey},
  journal={arXiv preprint arXiv:2408.02056},
  year={2024}
}
"""


def metric_info(description: str, inputs_description: str, references: datasets.Value | datasets.Sequence):
    """The MetricInfo both metrics share: a note per prediction, MedSyn as the citation."""
    return evaluate.MetricInfo(
        description=description,
        citation=MEDSYN_CITATION,
        inputs_description=inputs_description,
        features=datasets.Features({"predictions": datasets.Value("string"), "references": references}),
    )
