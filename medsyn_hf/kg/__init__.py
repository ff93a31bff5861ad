"""The Medical Knowledge Graph: ICD-10 hierarchy (Russian names, sex restrictions) linked to weighted symptoms."""

from medsyn_hf.kg.graph import MKG, Symptom, load_graph

__all__ = ["MKG", "Symptom", "load_graph"]
