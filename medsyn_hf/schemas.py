"""Every dataset this project reads or writes, described once: code, dataset cards and tests all import from here.

Each schema is a ``datasets.Features`` plus a ``*_COLUMNS_DOC`` mapping column -> one-line meaning (rendered into
cards).
"""

from __future__ import annotations

from datasets import Features, Sequence, Value  # noqa: F401  (used by the schemas below)

# -- priors (medsyn_hf/priors): what one synthetic note is to be about, and the prompt that asks for it ------------
PRIORS_FEATURES = Features(
    {
        "code": Value("string"),
        "code_name_ru": Value("string"),
        "category": Value("string"),
        "symptoms": Sequence(Value("string")),
        "symptom_weights": Sequence(Value("float32")),
        "age": Value("int32"),
        "sex": Value("string"),
        "location": Value("string"),
        "marital": Value("string"),
        "smoking": Value("bool"),
        "example": Value("string"),
        "example_source": Value("string"),
        "template": Value("string"),
        "style_examples": Sequence(Value("string")),
        "messages": [{"role": Value("string"), "content": Value("string")}],
        "seed": Value("int64"),
    }
)
# Columns every priors dataset has: `style_examples` came later, and priors written before it load without it (null).
PRIORS_REQUIRED = tuple(c for c in PRIORS_FEATURES if c != "style_examples")
PRIORS_COLUMNS_DOC = {
    "code": "ICD-10 code the note is about (a 3-character category or a subcategory of the MKG)",
    "code_name_ru": "Russian name of the code (official МКБ-10 directory)",
    "category": "3-character ICD-10 category of the code (the unit of RuMedTop3 labels and of example notes)",
    "symptoms": "2-5 symptoms of the code drawn without replacement, p ∝ softmax(score / T) under the symptom policy "
    "(medsyn_hf.priors.symptoms), in random order",
    "symptom_weights": "MKG weight (0..10) of each symptom (a subcode's inherited one: its category's; a user list's "
    "own weight), same order as `symptoms`",
    "age": "patient age in years (Rosstat 2022 age pyramid, at least the sampler's min_age)",
    "sex": "'male' or 'female' (Rosstat; sex-specific codes only get patients of their sex)",
    "location": "'city' or 'countryside' (Rosstat 2022)",
    "marital": "'married' or 'single' (by sex and age group, from Rosstat marriages by age)",
    "smoking": "whether the patient smokes (34.6 % of men, 8.3 % of women, from age 16)",
    "example": "a real RuMedTop3 train note of the same category shown to the model, or null",
    "example_source": "where `example` comes from ('rumedtop3/train:<idx>'), or null",
    "template": "name of the prompt template in medsyn_hf/templates/prompts.yaml",
    "style_examples": "real notes of other categories the prompt showed as style exemplars (medsyn_hf.priors.style; "
    "templates with a style block, e.g. complaints), or null",
    "messages": "chat messages (system + user, Russian) asking for the note",
    "seed": "per-record seed derived from (run seed, index): with `code` it determines every other column",
}

# -- instruction-following dataset (medsyn_hf/ift): TRL conversational prompt-completion rows -------------------------
IFT_FEATURES = Features(
    {
        "id": Value("string"),
        "task": Value("string"),
        "prompt": [{"role": Value("string"), "content": Value("string")}],
        "completion": [{"role": Value("string"), "content": Value("string")}],
        "source": Value("string"),
        "icd10": Value("string"),
    }
)
IFT_COLUMNS_DOC = {
    "id": "stable hash of (task, prompt, completion): the same example has the same id in every build",
    "task": "task family, also the config name (note_writing, complaint_to_icd, code_to_symptoms, "
    "symptoms_to_diagnosis, disease_description, note_continuation, complaint_writing)",
    "prompt": "chat messages given to the model: a system message and a Russian user message",
    "completion": "the one assistant message SFT trains on (TRL prompt-completion format: loss on the completion "
    "only)",
    "source": "where the example comes from: medsyn_gpt_notes, rumedtop3_train, mkg or ru_wikipedia",
    "icd10": "ICD-10 code or 3-character category the example is about ('' if none); hold-out splits use its category",
}


# -- note filters (medsyn_hf/filters): columns apply_filters adds to generated notes. Each filter declares its own
# columns (feature and meaning) in its class, so FILTER_FEATURES / FILTER_COLUMNS_DOC and the notes schema built on
# them are read from the filter registry when accessed (module __getattr__ at the end): a registered filter's columns
# are part of them. --------------------------------------------------------------------------------------------------
def _filter_schema() -> tuple[Features, dict[str, str]]:
    from medsyn_hf.filters import filter_columns, verdict_columns

    columns = {**filter_columns(), **verdict_columns()}
    return Features({c: f for c, (f, _) in columns.items()}), {c: doc for c, (_, doc) in columns.items()}


# -- synthetic notes (medsyn_hf/generation): MedSyn-synthetic's columns first (idx ... anamnesis_precision, with its
# `example` a flag and the example text in `anamnesis`), then the prior, sampling and filter columns ------------------
_PRIOR_COLUMNS = (
    "code_name_ru",
    "category",
    "symptom_weights",
    "age",
    "sex",
    "location",
    "marital",
    "smoking",
    "template",
    "messages",
)
_NOTES_OWN_FEATURES = Features(
    {  # every notes column but the filters' (symptoms_recall: the symptom_recall filter's)
        "idx": Value("int64"),
        "ICD-10": Value("string"),
        "generation_model": Value("string"),
        "prompt": Value("string"),
        "prior": Value("string"),
        "example": Value("bool"),
        "example_source": Value("string"),
        "anamnesis": Value("string"),
        "response": Value("string"),
        "symptoms": Sequence(Value("string")),
        "symptoms_recall": Value("float32"),
        "anamnesis_precision": Value("float32"),
        **{k: PRIORS_FEATURES[k] for k in _PRIOR_COLUMNS},
        "prior_seed": PRIORS_FEATURES["seed"],
        "seed": Value("int64"),
        "prompt_tokens": Value("int32"),
        "completion_tokens": Value("int32"),
        "finish_reason": Value("string"),
    }
)
_NOTES_OWN_COLUMNS_DOC = {
    "idx": "row number of the note's prior in the run (unique within the dataset)",
    "ICD-10": "ICD-10 code the note was generated for (MKG category or subcategory)",
    "generation_model": "model (and LoRA adapter) that wrote the note",
    "prompt": "the user message asking for the note (the system message is in `messages`)",
    "prior": "kinds of prior data in the prompt, '+'-joined: symptoms, patient, diagnosis, example",
    "example": "whether the prompt showed a real example note",
    "example_source": "where the example note comes from ('rumedtop3/train:<idx>'), or null",
    "anamnesis": "the real example note shown in the prompt (RuMedTop3 train), or null",
    "response": "the generated note, personal data replaced by placeholders",
    "symptoms": "the symptoms the prompt asked for",
    "symptoms_recall": " (MedSyn: BERTScore recall against the symptoms)",  # after the symptom_recall filter's doc
    "anamnesis_precision": "share of the note's distinct lemmas that occur in the example note; null without one "
    "(MedSyn: BERTScore precision against the example)",
    **{k: PRIORS_COLUMNS_DOC[k] for k in _PRIOR_COLUMNS},
    "prior_seed": "per-record seed of the note's prior, derived from (run seed, index): with `ICD-10` it determines "
    "the prior's other columns",
    "seed": "the note's sampling seed, from (run seed, prior_seed); sent as `seed` to OpenAI-compatible servers",
    "prompt_tokens": "tokens of the chat-formatted prompt",
    "completion_tokens": "generated tokens, the end-of-sequence token included",
    "finish_reason": "'stop' (the model ended the note) or 'length' (max_new_tokens reached)",
}


# Filter columns that notes carry under another name: MedSyn's `symptoms_recall` is the symptom_recall filter's column.
# What describes notes (the card's filter table, its text) names the notes' column, read from here.
NOTES_RENAMED = {"symptom_recall": "symptoms_recall"}


def _notes_schema() -> tuple[Features, dict[str, str]]:
    """NOTES_FEATURES and NOTES_COLUMNS_DOC: our columns, then the filters' (symptom_recall under MedSyn's name)."""
    features, docs = _filter_schema()
    renamed = {new: old for old, new in NOTES_RENAMED.items()}
    return (
        Features(
            {
                **_NOTES_OWN_FEATURES,
                **{new: features[old] for new, old in renamed.items()},
                **{k: v for k, v in features.items() if k not in NOTES_RENAMED},
            }
        ),
        {
            **_NOTES_OWN_COLUMNS_DOC,
            **{new: docs[old] + _NOTES_OWN_COLUMNS_DOC[new] for new, old in renamed.items()},
            **{k: v for k, v in docs.items() if k not in NOTES_RENAMED},
        },
    )


_FROM_REGISTRY = {  # schemas read from the filter registry on access
    "FILTER_FEATURES": lambda: _filter_schema()[0],
    "FILTER_COLUMNS_DOC": lambda: _filter_schema()[1],
    "NOTES_FEATURES": lambda: _notes_schema()[0],
    "NOTES_COLUMNS_DOC": lambda: _notes_schema()[1],
}


def __getattr__(name: str):
    if name in _FROM_REGISTRY:
        return _FROM_REGISTRY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- column roles: which column holds the ICD-10 code and which the example note's text, in each dataset above. Names
# alone cannot tell: notes keep MedSyn's boolean `example` flag (the text is in `anamnesis`), priors the text in
# `example`; the code is `ICD-10` in notes, `icd10` in instruction data, `code` in priors. ----------------------------
COLUMN_ROLES = {
    "code": (("ICD-10", _NOTES_OWN_FEATURES), ("icd10", IFT_FEATURES), ("code", PRIORS_FEATURES)),
    "example_text": (("anamnesis", _NOTES_OWN_FEATURES), ("example", PRIORS_FEATURES)),
}


def column_for(features: Features, role: str) -> str | None:
    """The column of a dataset (its ``Features``) that plays ``role`` (a key of COLUMN_ROLES): the first schema column
    it has with the schema's type (string and large_string alike); None if it has none."""

    def dtype(feature):
        kind = getattr(feature, "dtype", None)
        return "string" if kind == "large_string" else kind

    for column, schema in COLUMN_ROLES[role]:
        if column in features and dtype(features[column]) == dtype(schema[column]):
            return column
    return None


# -- assessment criteria: what a human annotator (medsyn_hf/assess) and the LLM judge (medsyn eval judge) score 1-5 ---
ASSESSMENT_CRITERIA = {
    "realism": "reads like a note a real doctor wrote (1: obviously artificial, 5: indistinguishable from a real one)",
    "plausibility": "clinical plausibility: the complaints, history and findings make medical sense together",
    "consistency": "consistency with the ICD-10 code: the note describes the coded disease",
    "language": "Russian language: grammar, medical terminology and style of a Russian medical record",
}
SCORE_RANGE = (1, 5)

# -- LLM judge (medsyn_hf/evaluation/judge.py): columns `medsyn eval judge` adds to a notes dataset -------------------
JUDGE_FEATURES = Features(
    {
        **{f"judge_{c}": Value("int8") for c in ASSESSMENT_CRITERIA},
        "judge_score": Value("float32"),
        "judge_reason": Value("string"),
        "judge_model": Value("string"),
        "judge_attempts": Value("int32"),
    }
)
JUDGE_COLUMNS_DOC = {
    **{
        f"judge_{c}": f"LLM judge's score 1-5 for {doc}; null when the judge gave no valid answer"
        for c, doc in ASSESSMENT_CRITERIA.items()
    },
    "judge_score": "mean of the judge's criterion scores (1-5); null when the judge gave no valid answer "
    "(FilterConfig.min_judge_score thresholds it)",
    "judge_reason": "the judge's one-line reason (Russian); null when it gave no valid answer",
    "judge_model": "model that judged the note (and its LoRA adapter)",
    "judge_attempts": "requests made for the note: 1 + retries after malformed replies",
}

# -- blind human assessment (medsyn_hf/assess): the public items an annotator sees, and one answer per line -----------
ASSESS_ITEM_FEATURES = Features(
    {
        "item_id": Value("string"),
        "text": Value("string"),
        "code": Value("string"),
        "code_name": Value("string"),
    }
)
ASSESS_ITEM_COLUMNS_DOC = {
    "item_id": "random id of the item; whether it is real or synthetic is only in the key, never beside the item",
    "text": "the note as annotators see it: the same text view (complaint, head or full) for real and synthetic notes",
    "code": "3-character ICD-10 category of the note (subcodes are cut: only synthetic notes would have them)",
    "code_name": "Russian name of the category (official МКБ-10 directory)",
}
ASSESS_KEY_FEATURES = Features(  # key/key.jsonl: only `medsyn assess score` reads it
    {
        "item_id": Value("string"),
        "origin": Value("string"),
        "source_id": Value("string"),
        "pair": Value("int64"),
        "same_code": Value("bool"),
        "n_chars": Value("int64"),
    }
)
ASSESS_ANSWER_FEATURES = Features(
    {
        "item_id": Value("string"),
        "annotator": Value("string"),
        "origin": Value("string"),
        **{c: Value("int8") for c in ASSESSMENT_CRITERIA},
        "answered_at": Value("string"),
    }
)
ASSESS_ANSWER_COLUMNS_DOC = {
    "item_id": ASSESS_ITEM_COLUMNS_DOC["item_id"],
    "annotator": "who answered: the name typed in the Space, or the Hugging Face username when it runs on a Space",
    "origin": "the annotator's guess: 'real' or 'synthetic'",
    **{c: f"score {SCORE_RANGE[0]}-{SCORE_RANGE[1]} for {doc}" for c, doc in ASSESSMENT_CRITERIA.items()},
    "answered_at": "UTC time the answer was stored (ISO 8601)",
}
