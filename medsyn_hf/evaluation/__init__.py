"""Evaluation of synthetic notes: how well they follow their prompts, and what they add to an ICD-code classifier."""
