"""`medsyn eval report` on the 11,480 MedSyn GPT notes against RuMedTop3 train (no --eval); prints one JSON line.

Target: under 300 seconds on 2 CPU cores (``target_met``). Speed is machine-dependent, so the privacy search is also
given as a ratio to the straightforward way measured in the same run: for a sample of synthetic notes, the longest
common word run with every real note one pair at a time (``difflib``, as the filters' ``copy_span`` does for one
pair), extrapolated to all notes, against the hashed n-gram search (``medsyn_hf.filters.ngrams``) over all of
them. The sample's answers must equal the report's (``sample_agrees``).

    python benchmarks/report.py [--limit N] [--sample 20]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "data" / "sources" / "medsyn_gpt_notes" / "notes.jsonl.gz"
REAL = ROOT / "data" / "sources" / "rumedtop3" / "train_v1.jsonl"
TARGET_SECONDS = 300


def pairwise_runs(queries: list[str], corpus: list[str]) -> list[int]:
    """The longest common word run of each query with any corpus note, one pair at a time."""
    from difflib import SequenceMatcher

    from medsyn_hf.normalize import words

    corpus_words = [words(c) for c in corpus]
    best = []
    for query in queries:
        a = words(query)
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq1(a)
        longest = 0
        for b in corpus_words:
            matcher.set_seq2(b)
            longest = max(longest, matcher.find_longest_match(0, len(a), 0, len(b)).size)
        best.append(longest)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N synthetic notes")
    parser.add_argument("--sample", type=int, default=20, help="synthetic notes for the pairwise baseline")
    args = parser.parse_args()

    import datasets

    from medsyn_hf.evaluation.report.compute import build_report, load_set
    from medsyn_hf.filters.ngrams import longest_common_runs, tokenize

    datasets.disable_progress_bars()
    start = time.perf_counter()
    synthetic, real = load_set(str(NOTES)), load_set(str(REAL))
    if args.limit:
        synthetic.texts, synthetic.categories, synthetic.codes = (
            x[: args.limit] for x in (synthetic.texts, synthetic.categories, synthetic.codes)
        )
    loading = time.perf_counter() - start
    report, plots = build_report(synthetic, real)
    total = time.perf_counter() - start

    sample = synthetic.texts[: args.sample]
    started = time.perf_counter()
    naive = pairwise_runs(sample, real.texts)
    naive_seconds = (time.perf_counter() - started) * len(synthetic.texts) / len(sample)
    started = time.perf_counter()
    ours = longest_common_runs(tokenize(synthetic.texts), tokenize(real.texts), len(synthetic.texts))
    ours_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "synthetic_notes": len(synthetic.texts),
                "real_notes": len(real.texts),
                "cpus": os.cpu_count(),
                "load_average": [round(x, 1) for x in os.getloadavg()],
                "seconds": {"load": round(loading, 1), **report["seconds"], "total": round(total, 1)},
                "target_seconds": TARGET_SECONDS,
                "target_met": total < TARGET_SECONDS,
                "longest_run": {
                    "ours_seconds": round(ours_seconds, 2),
                    "pairwise_seconds_extrapolated": round(naive_seconds),
                    "speedup": round(naive_seconds / ours_seconds, 1),
                    "sample_agrees": naive == ours[: len(sample)].tolist() == plots["runs"][: len(sample)].tolist(),
                },
                "auc": report["fidelity"]["auc"],
                "dcr_median": report["privacy"]["dcr"]["synthetic"]["median"],
                "dcr_holdout_median": report["privacy"]["dcr"]["holdout"]["median"],
            }
        )
    )


if __name__ == "__main__":
    main()
