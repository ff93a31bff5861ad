"""The train-only validation split of the writer's complaint stage: RuMedTop3 *train* complaints held out of the
run (`medsyn tiny-model --pretrain --complaint-val-rows N`), on which the stage's settings are chosen
(benchmarks/tiny_writer_complaints.py) — never dev.

A complaint is held out by a hash of its text alone, so the split does not move with ``--seed`` or ``--limit`` order,
and every copy of a duplicated complaint goes the same way (RuMedTop3 train repeats some verbatim).
"""

from __future__ import annotations

import hashlib


def held_out_texts(complaints: list[dict], n: int) -> set[str]:
    """The texts (stripped) of ``n`` distinct train complaints to hold out."""
    texts = sorted({c["text"].strip() for c in complaints}, key=lambda t: hashlib.sha256(f"0|{t}".encode()).digest())
    return set(texts[:n])


def split_complaints(complaints: list[dict], n: int) -> tuple[list[dict], list[dict]]:
    """(complaints to train on, one of each held-out complaint) for ``n`` held-out texts."""
    held = held_out_texts(complaints, n) if n else set()
    kept = [c for c in complaints if c["text"].strip() not in held]
    first = {}
    for c in complaints:
        if c["text"].strip() in held:
            first.setdefault(c["text"].strip(), c)
    return kept, list(first.values())
