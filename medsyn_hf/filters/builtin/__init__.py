"""The built-in filters, one file each; ``medsyn_hf.filters`` registers ``BUILTIN`` in this order."""

from medsyn_hf.filters.builtin.copying import Copying
from medsyn_hf.filters.builtin.duplicates import NearDuplicates
from medsyn_hf.filters.builtin.judge_score import JudgeScore
from medsyn_hf.filters.builtin.label_consistency import LabelConsistency
from medsyn_hf.filters.builtin.language import Language
from medsyn_hf.filters.builtin.length import Length
from medsyn_hf.filters.builtin.patient_consistency import PatientConsistency
from medsyn_hf.filters.builtin.pii_scrub import PiiScrub
from medsyn_hf.filters.builtin.plan_quota import PlanQuota
from medsyn_hf.filters.builtin.real_copy import RealCopy
from medsyn_hf.filters.builtin.realism import Realism
from medsyn_hf.filters.builtin.symptom_recall import SymptomRecall

# The order of the notes' filter columns, of the reasons in `filter_reason` and of FilterConfig's fields. Set filters
# run in this order too, each on the notes that passed so far: the selection filters that compare with the real notes
# (real_copy, label_consistency, realism) before near-duplicate removal, and the plan's per-code quota last.
BUILTIN = (
    SymptomRecall,
    Copying,
    Length,
    Language,
    PiiScrub,
    PatientConsistency,
    RealCopy,
    LabelConsistency,
    Realism,
    NearDuplicates,
    JudgeScore,
    PlanQuota,
)
