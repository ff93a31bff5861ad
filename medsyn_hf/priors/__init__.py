"""Priors: what each synthetic note is about (an ICD-10 code, 2-5 of its symptoms, a patient, maybe a real example
note) and the chat prompt asking for it. MedSyn's sampler, vectorised and made reproducible.

- Pool: codes with at least ``min_symptoms`` symptoms. ``level="code"`` (default): every category or subcategory with
  symptoms of its own in the MKG (a category's symptoms include its subcodes'); ``level="category"``: 3-character
  categories only, with their subcodes' symptoms. Either way example notes come from the code's category.
- Code weight ``w = J3(N_symp) * J3(N_exmp + example_offset)``, ``J3(x) = log(1+log(1+log(1+x)))``, N_exmp = RuMedTop3
  train notes of the category. MedSyn used ``example_offset=0``, which gives every code without a note weight 0;
  the default 1 keeps them in the pool at about half the weight of a code with ~10 notes.
- ``mode="plan"``: per-code counts ∝ w by largest remainder (each within 1 of n·w/Σw), in random order;
  ``mode="random"``: i.i.d. draws ∝ w.
- Symptoms: each code's list and scores come from the symptom policy (``medsyn_hf.priors.symptoms``: source weights,
  subcodes inheriting their category's symptoms, top-k / minimum-score cut, per-code overrides;
  ``medsyn_compatible=True``: the MKG's full lists and weights, T = 10).
  k uniform in [min_symptoms, min(max_symptoms, list length)], drawn without replacement with p ∝ softmax(score/T)
  (successive sampling, exact up to float resolution ~1e-13; as T -> 0 it becomes "the k heaviest"), then shuffled.
  Patients: ``medsyn_hf.demographics``.
- Templates: with probability ``example_p`` a prior gets a random train note of its category and the
  example-conditioned template; when it wanted one but the category has no notes (most non-RuMedTop3 codes), or
  otherwise, the template is drawn from the example-free ``templates`` mix. So the realised example rate is
  example_p × P(category has notes).
- Determinism: every random number of record i is a splitmix64 hash of (seed, i, stream), so the output is the same for
  any ``num_proc`` and on any machine (numpy's exp may differ by one ulp between CPUs; that moves an interval boundary
  by ~1e-16). The ``seed`` column holds the record's seed.
"""

from medsyn_hf.priors.pool import LEVELS, Pool, allocate, build_pool, j3, select_codes
from medsyn_hf.priors.resources import RESOURCES, build_examples, build_resources, load_examples, resources_dir
from medsyn_hf.priors.rng import record_seeds, uniforms
from medsyn_hf.priors.sample import EXAMPLE_SOURCE, MAX_PRIORS, MODES, sample_priors

__all__ = [
    "EXAMPLE_SOURCE",
    "LEVELS",
    "MAX_PRIORS",
    "MODES",
    "RESOURCES",
    "Pool",
    "allocate",
    "build_examples",
    "build_pool",
    "build_resources",
    "j3",
    "load_examples",
    "record_seeds",
    "resources_dir",
    "sample_priors",
    "select_codes",
    "uniforms",
]
