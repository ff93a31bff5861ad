"""The built-in filters, one file each; ``medsyn_hf.filters`` registers ``BUILTIN`` in this order."""

from medsyn_hf.filters.builtin.copying import Copying
from medsyn_hf.filters.builtin.duplicates import NearDuplicates
from medsyn_hf.filters.builtin.judge_score import JudgeScore
from medsyn_hf.filters.builtin.language import Language
from medsyn_hf.filters.builtin.length import Length
from medsyn_hf.filters.builtin.pii_scrub import PiiScrub
from medsyn_hf.filters.builtin.symptom_recall import SymptomRecall

# The order of the notes' filter columns, of the reasons in `filter_reason` and of FilterConfig's fields.
BUILTIN = (SymptomRecall, Copying, Length, Language, PiiScrub, NearDuplicates, JudgeScore)
