"""Blind human assessment of notes (MedSyn §4.5): prepare a real-vs-synthetic set, collect answers in the Space's
Assess tab, score accuracy, real-vs-synthetic scores and inter-annotator agreement.

The folder they share (items, key, answers) and its readers are ``medsyn_hf.assessment_folder``.
"""
