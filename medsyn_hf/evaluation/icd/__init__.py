"""`medsyn eval icd`: what synthetic notes add to an ICD-10 classifier trained on real ones, above all on rare codes.

The classifier is trained on real notes (RuMedTop3's JSON lines: ``symptoms``, ``code``), optionally plus synthetic
notes, and scored on ``--eval`` with RuMedBench's acc@1 / hit@3, per code, macro, and on the rare codes (fewer than
``--rare-k`` real training notes). Synthetic notes are added in one of two ways:

- ``--topup K``: every code is brought up to K training notes with synthetic notes of that code (codes that already
  have K get none) — the notes go where the real ones are few, i.e. to the rare codes. A synthetic dataset made
  from a plan (`medsyn plan`) carries it: its K is the default, and ``--topup`` without K;
- ``--synthetic-fraction F``: a stratified share of the whole synthetic set (MedSyn's design; default 1).

Each is compared with real only on the same eval notes and seeds (``--seeds``): the difference of every score with a
paired bootstrap 95 % interval, averaged over seeds. ``--grid`` runs MedSyn's design — real fraction {0.5, 0.75, 1} x
synthetic fraction {0, 0.25, 0.5, 1}, plus synthetic only — and a top-up axis, K in {0, 20, 40, 80}, over seeds.

Real RuMedTop3 notes are complaints (median 117 characters), a generated note a whole 2,000-character anamnesis.
``--synthetic-view`` decides what of it the classifier sees: ``head`` its first ``--synthetic-max-chars`` characters
(default 300), ``complaint`` its complaints section (medsyn_hf/text_views.py, same cap), ``full`` all of it (slow: the
rest multiplies the classifier's cost). Synthetic notes whose code no real training note has are dropped (the
classifier's codes are the real ones); eval notes with such codes are an error unless ``--drop-unseen``.

--json prints one line. Without --grid: classifier, view, rare_k, rare_codes, eval_dropped, synthetic_dropped, seeds,
real_fraction, synthetic_fraction, topup, n, n_rare, total_seconds and
  real_only, upsampled: the means over seeds (and *_std) of acc1, hit3, macro_acc1, macro_hit3 and rare_* of each,
    train_real, train_synthetic, seconds (upsampled: real + synthetic notes; only with --synthetic);
  paired_diff: {score: {diff, ci: [low, high], se (bootstrap standard error), per_seed}} upsampled minus real only
    (only with --synthetic);
  runs: every run with its bootstrap intervals (ci) and per-code scores (per_code).
With --grid: out, the same metadata, baseline (the real-only cell with the most real notes) and cells: one per
  (real_fraction, synthetic_fraction, topup) with the means, *_std and paired_diff against real only with the same
  real notes (synthetic only: against the baseline). Scores are percent; differences are percentage points.
"""
