"""Throughput of the note filters on the 11,480 MedSyn GPT notes; prints one JSON line.

Speed is machine-dependent, so each stage is also given as a ratio to a baseline measured in the same run: one
tokenisation pass (``medsyn_hf.normalize.words``) over the same notes, the least any word-level filter must do.

    python benchmarks/filters.py [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

NOTES = Path(__file__).resolve().parents[1] / "data" / "sources" / "medsyn_gpt_notes" / "notes.jsonl.gz"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N notes")
    args = parser.parse_args()

    import datasets

    from medsyn_hf import normalize
    from medsyn_hf.filters import apply_filters, copy_ratio, copy_span, deduplicate, scrub_pii, symptom_recall

    with gzip.open(NOTES, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][: args.limit]
    texts = [r["response"] for r in rows]
    examples = texts[1:] + texts[:1]  # another note as the "example": realistic n-gram statistics
    datasets.disable_progress_bars()
    dataset = datasets.Dataset.from_dict({"response": texts, "symptoms": [r["symptoms"] for r in rows]})

    seconds = {"baseline_tokenise": _timed(lambda: [normalize.words(t) for t in texts])}
    normalize.lemma.cache_clear()
    stages = {
        "symptom_recall_cold": lambda: [symptom_recall(t, r["symptoms"]) for t, r in zip(texts, rows)],
        "symptom_recall_warm": lambda: [symptom_recall(t, r["symptoms"]) for t, r in zip(texts, rows)],
        "copy_ratio": lambda: [copy_ratio(t, e) for t, e in zip(texts, examples)],
        "copy_span": lambda: [copy_span(t, e) for t, e in zip(texts, examples)],
        "scrub_pii": lambda: [scrub_pii(t) for t in texts],
        "deduplicate": lambda: deduplicate(texts),
        "apply_filters": lambda: apply_filters(dataset),
    }
    seconds.update({name: _timed(fn) for name, fn in stages.items()})
    base = seconds["baseline_tokenise"]
    print(
        json.dumps(
            {
                "notes": len(texts),
                "notes_per_second": {k: round(len(texts) / v, 1) for k, v in seconds.items()},
                "seconds": {k: round(v, 3) for k, v in seconds.items()},
                "ratio_to_baseline": {k: round(v / base, 2) for k, v in seconds.items() if k != "baseline_tokenise"},
            }
        )
    )


if __name__ == "__main__":
    main()
