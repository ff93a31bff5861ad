"""`medsyn eval report SYNTHETIC --real REAL --out DIR`: one folder that says whether synthetic notes are realistic,
diverse and private (and, with ``--eval``, useful): ``report.md``, ``report.json`` and PNG plots.

- fidelity (``fidelity.py``): a real-vs-synthetic discriminator's cross-validated ROC AUC (0.5 = indistinguishable)
  on code-matched samples of the same view of the text, lengths, sections, the most over- and under-represented
  n-grams;
- diversity (``diversity.py``): distinct-1/2/3, near-duplicate share, the code distribution's entropy, per-code
  notes against the priors' plan (a generation run or a published folder: every generated note is a planned one);
- privacy (``privacy.py``): distance to the closest real note and the longest verbatim word run, against a
  real-to-real holdout baseline; copying from the example note; personal data still found;
- utility: `medsyn eval icd`'s real-only against real + synthetic when ``--eval`` is given.

`medsyn publish RUN --report DIR` puts the summary table and the plots into the dataset card.
"""
