"""`medsyn eval judge DATASET --config ...`: an LLM scores every note 1-5 on the human assessment's criteria.

Why: the filters are lexical; nothing else checks that a note is plausible and fits its code. The judge asks a model
(through the generation backends: in process with transformers, or any OpenAI-compatible server) the Russian rubric of
``templates/judge.yaml`` per note — code, its name, the prompted symptoms, the note — and wants one JSON object with
a score per criterion (``schemas.ASSESSMENT_CRITERIA``, the same names annotators score in `medsyn assess`) and a
one-line reason; servers that enforce a JSON schema get it as ``response_format``.

- **Never invented**: a reply without a valid object (every criterion an integer 1-5, a non-empty reason) is asked
  again with a new seed, ``max_retries`` times, then the note's judge columns are null.
- **Cached per request**: a request's key is a hash of the model (weights or served name), sampling settings, messages
  and seed; its reply is appended to ``cache_dir/requests.jsonl`` once the chunk it was sent in is back (one write of
  whole lines; a torn last line of a killed run is ignored). A re-run sends only the requests it has no reply for, and
  none at all when everything was judged (then not even the model is loaded).
- **Output**: a new Hub-layout dataset folder (``--out``; the input is never touched) with the JUDGE_FEATURES columns,
  and a card section. With ``min_score`` the notes below it are marked ``keep: false``, ``filter_reason`` 'judge'
  (``FilterConfig.min_judge_score``'s rule) and, in a published train/rejected dataset, move to ``rejected``.
- **Agreement**: judging an assessment folder of `medsyn assess prepare` (its public items) reports, per criterion,
  the agreement with the annotators' answers there (Spearman's rho with their mean, quadratic-weighted kappa).
"""
