"""Blind human assessment of notes (MedSyn §4.5): prepare a real-vs-synthetic set, collect answers in the Space's
Assess tab, score accuracy, real-vs-synthetic scores and inter-annotator agreement.

A prepared folder holds the public part (``items.jsonl``: item id, text, code, code name), the key (``key/``: which
item is real or synthetic and where it came from; only `medsyn assess score` reads it) and the annotators' answers
(``answers/<annotator>.jsonl``, appended one line per answer).
"""

ITEMS = "items.jsonl"
KEY_DIR = "key"
KEY = "key/key.jsonl"
ANSWERS_DIR = "answers"
ORIGINS = ("real", "synthetic")
