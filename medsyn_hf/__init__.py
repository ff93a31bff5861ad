"""medsyn_hf: synthetic clinical notes grounded in a Medical Knowledge Graph (MedSyn, 2024)."""

__version__ = "0.1.0"
