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
