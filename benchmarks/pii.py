"""PII scrubber: planted personal data caught and clinical sentences left alone, on the labelled fixture, and speed on
real notes; the scrubber before issue 12 (``git show <baseline>:medsyn_hf/filters/pii.py``) is measured in the same
run as the baseline. Prints one JSON line.

    python benchmarks/pii.py [--baseline-rev a85821d] [--notes 2000] [--show-errors]

The fixture (``tests/fixtures/pii/``) has a ``dev`` split, which the patterns were developed against, and a ``heldout``
split, written before the patterns and scored only at the end: its figures are the honest estimate. Targets: recall
>= 0.98 with a false-positive rate <= 0.02 (a clinical sentence with anything detected in it counts as one). Speed is
notes/s of ``find_pii`` over the first ``--notes`` MedSyn GPT notes, each scrubber warmed up once on them (pymorphy's
caches), and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import subprocess
import tempfile
import time
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.pii_detection import load_fixture, score

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "pii"
NOTES = ROOT / "data" / "sources" / "medsyn_gpt_notes" / "notes.jsonl.gz"
BASELINE_REV = "a85821dbe972b514bb4951509cf1fad6ecb0139b"  # the last commit before issue 12's scrubber


def baseline_finder(rev: str, folder: Path):
    """``find_pii`` of the scrubber as committed at ``rev``, read from git into ``folder`` (the working tree is not
    touched) and imported from there."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:medsyn_hf/filters/pii.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise MedsynError(
            f"cannot read the baseline scrubber at {rev!r} from git ({err}); pass --baseline-rev"
        ) from None
    path = folder / "pii_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("pii_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.find_pii


def notes_per_second(find, texts: list[str]) -> float:
    for text in texts:  # warm-up: pymorphy's and the scrubber's caches
        find(text)
    start = time.process_time()
    for text in texts:
        find(text)
    return len(texts) / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--notes", type=int, default=2000, help="real notes for the speed measurement")
    parser.add_argument("--show-errors", action="store_true", help="list our misses and false positives")
    args = parser.parse_args()

    from medsyn_hf.filters.pii import find_pii

    with tempfile.TemporaryDirectory() as tmp:
        finders = {"ours": find_pii, "baseline": baseline_finder(args.baseline_rev, Path(tmp))}
    with gzip.open(NOTES, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["response"] for _, line in zip(range(args.notes), f)]
    result = {"baseline_rev": args.baseline_rev}
    for split in ("dev", "heldout", None):
        planted, clinical = (
            load_fixture(FIXTURE / "planted.jsonl", split),
            load_fixture(FIXTURE / "clinical.jsonl", split),
        )
        for name, find in finders.items():
            scores = score(find, planted, clinical)
            if not (args.show_errors and name == "ours"):
                scores = {k: v for k, v in scores.items() if k not in ("missed", "flagged")}
            result.setdefault(split or "all", {})[name] = scores
    speed = {name: round(notes_per_second(find, texts), 1) for name, find in finders.items()}
    result["speed"] = {
        "notes": len(texts),
        "notes_per_cpu_second": speed,
        "ours_to_baseline": round(speed["ours"] / speed["baseline"], 2),
    }
    heldout = result["heldout"]["ours"]
    result["targets_met_heldout"] = heldout["recall"] >= 0.98 and heldout["false_positive_rate"] <= 0.02
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
