"""Every dataset this project reads or writes, described once: code, dataset cards and tests all import from here.

Each schema is a ``datasets.Features`` plus a ``*_COLUMNS_DOC`` mapping column -> one-line meaning (rendered into cards).
"""

from __future__ import annotations

from datasets import Features, Sequence, Value  # noqa: F401  (used by the schemas below)

# -- priors (medsyn_hf/priors.py): what one synthetic note is to be about, and the prompt that asks for it ----------------
PRIORS_FEATURES = Features({
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
    "messages": [{"role": Value("string"), "content": Value("string")}],
    "seed": Value("int64"),
})
PRIORS_COLUMNS_DOC = {
    "code": "ICD-10 code the note is about (a 3-character category or a subcategory of the MKG)",
    "code_name_ru": "Russian name of the code (official МКБ-10 directory)",
    "category": "3-character ICD-10 category of the code (the unit of RuMedTop3 labels and of example notes)",
    "symptoms": "2-5 symptoms of the code drawn without replacement, p ∝ softmax(weight / T), in random order",
    "symptom_weights": "MKG weight (0..10) of each symptom, same order as `symptoms`",
    "age": "patient age in years (Rosstat 2022 age pyramid, at least the sampler's min_age)",
    "sex": "'male' or 'female' (Rosstat; sex-specific codes only get patients of their sex)",
    "location": "'city' or 'countryside' (Rosstat 2022)",
    "marital": "'married' or 'single' (by sex and age group, from Rosstat marriages by age)",
    "smoking": "whether the patient smokes (34.6 % of men, 8.3 % of women, from age 16)",
    "example": "a real RuMedTop3 train note of the same category shown to the model, or null",
    "example_source": "where `example` comes from ('rumedtop3/train:<idx>'), or null",
    "template": "name of the prompt template in medsyn_hf/templates/prompts.yaml",
    "messages": "chat messages (system + user, Russian) asking for the note",
    "seed": "per-record seed derived from (run seed, index): with `code` it determines every other column",
}

# -- instruction-following dataset (medsyn_hf/ift): TRL conversational prompt-completion rows ----------------------------
IFT_FEATURES = Features({
    "id": Value("string"),
    "task": Value("string"),
    "prompt": [{"role": Value("string"), "content": Value("string")}],
    "completion": [{"role": Value("string"), "content": Value("string")}],
    "source": Value("string"),
    "icd10": Value("string"),
})
IFT_COLUMNS_DOC = {
    "id": "stable hash of (task, prompt, completion): the same example has the same id in every build",
    "task": "task family, also the config name (note_writing, complaint_to_icd, code_to_symptoms, "
            "symptoms_to_diagnosis, disease_description, note_continuation)",
    "prompt": "chat messages given to the model: a system message and a Russian user message",
    "completion": "the one assistant message SFT trains on (TRL prompt-completion format: loss on the completion only)",
    "source": "where the example comes from: medsyn_gpt_notes, rumedtop3_train, mkg or ru_wikipedia",
    "icd10": "ICD-10 code or 3-character category the example is about ('' if none); hold-out splits use its category",
}

# -- note filters (medsyn_hf/filters): columns apply_filters adds to generated notes -------------------------------------
FILTER_FEATURES = Features({
    "symptom_recall": Value("float32"),
    "copy_ratio": Value("float32"),
    "copy_span": Value("int32"),
    "n_chars": Value("int32"),
    "n_words": Value("int32"),
    "cyrillic_share": Value("float32"),
    "pii_found": Sequence(Value("string")),
    "is_duplicate": Value("bool"),
    "keep": Value("bool"),
    "filter_reason": Value("string"),
})
FILTER_COLUMNS_DOC = {
    "symptom_recall": "share of the prompted symptoms the note mentions (all content lemmas of a symptom in the note)",
    "copy_ratio": "share of the note's word 5-grams that also occur in the example note (0 without an example)",
    "copy_span": "longest word sequence the note shares verbatim with the example note, in words",
    "n_chars": "note length in characters",
    "n_words": "note length in words",
    "cyrillic_share": "share of the note's letters that are Cyrillic",
    "pii_found": "kinds of personal data replaced by placeholders (name, phone, snils, passport, policy, email, "
                 "address, birth_date)",
    "is_duplicate": "exact or near duplicate (word 5-gram Jaccard >= threshold) of an earlier note that passed the filters",
    "keep": "passes every filter",
    "filter_reason": "comma-separated failed filters (low_symptom_recall, high_copy_ratio, too_short, too_long, "
                     "not_russian, duplicate); empty when kept",
}

# -- synthetic notes (medsyn_hf/generation): MedSyn-synthetic's columns first (idx ... anamnesis_precision, with its
# `example` a flag and the example text in `anamnesis`), then the prior, sampling and filter columns -------------------
_PRIOR_COLUMNS = ("code_name_ru", "category", "symptom_weights", "age", "sex", "location", "marital", "smoking", "template",
                  "messages")
NOTES_FEATURES = Features({
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
    "symptoms_recall": FILTER_FEATURES["symptom_recall"],
    "anamnesis_precision": Value("float32"),
    **{k: PRIORS_FEATURES[k] for k in _PRIOR_COLUMNS},
    "prior_seed": PRIORS_FEATURES["seed"],
    "seed": Value("int64"),
    "prompt_tokens": Value("int32"),
    "completion_tokens": Value("int32"),
    "finish_reason": Value("string"),
    **{k: v for k, v in FILTER_FEATURES.items() if k != "symptom_recall"},
})
NOTES_COLUMNS_DOC = {
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
    "symptoms_recall": FILTER_COLUMNS_DOC["symptom_recall"] + " (MedSyn: BERTScore recall against the symptoms)",
    "anamnesis_precision": "share of the note's distinct lemmas that occur in the example note; null without one "
                           "(MedSyn: BERTScore precision against the example)",
    **{k: PRIORS_COLUMNS_DOC[k] for k in _PRIOR_COLUMNS},
    "prior_seed": PRIORS_COLUMNS_DOC["seed"],
    "seed": "the note's sampling seed, from (run seed, prior_seed); sent as `seed` to OpenAI-compatible servers",
    "prompt_tokens": "tokens of the chat-formatted prompt",
    "completion_tokens": "generated tokens, the end-of-sequence token included",
    "finish_reason": "'stop' (the model ended the note) or 'length' (max_new_tokens reached)",
    **{k: v for k, v in FILTER_COLUMNS_DOC.items() if k != "symptom_recall"},
}
