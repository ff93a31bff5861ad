"""How well a PII detector does on a labelled fixture: planted personal data it catches, clinical sentences it flags.

A planted span counts as caught when every one of its non-space characters lies inside some detected span (of any
kind: a phone read as a policy number is still gone); ``typed`` also asks for the planted kind. A clinical sentence
is a false positive when anything in it is detected. Used by ``tests/test_pii_fixture.py`` and ``benchmarks/pii.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from medsyn_hf.errors import MedsynError

Finder = Callable[[str], list[tuple[int, int, str]]]


def load_fixture(path: str | Path, split: str | None = None) -> list[dict]:
    """Rows of a fixture JSONL file (``text``, ``split``, and ``pii`` spans for planted items); one split or all."""
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MedsynError(f"{path}: not a readable PII fixture ({err})") from None
    return [r for r in rows if split is None or r["split"] == split]


def _covered(spans: Iterable[tuple[int, int, str]], text: str, start: int, end: int, kind: str | None) -> bool:
    inside = [False] * (end - start)
    for s, e, k in spans:
        if kind is None or k == kind:
            for i in range(max(s, start), min(e, end)):
                inside[i - start] = True
    return all(ok or text[start + i].isspace() for i, ok in enumerate(inside))


def score(find: Finder, planted: list[dict], clinical: list[dict]) -> dict:
    """Recall on the planted spans (overall, typed, per kind) and the false-positive rate on clinical sentences, with
    the misses and false positives themselves for inspection."""
    caught, typed, total, missed = Counter(), 0, Counter(), []
    for row in planted:
        found = find(row["text"])
        for span in row["pii"]:
            total[span["type"]] += 1
            if _covered(found, row["text"], span["start"], span["end"], None):
                caught[span["type"]] += 1
                typed += _covered(found, row["text"], span["start"], span["end"], span["type"])
            else:
                missed.append(f"{span['type']}: {row['text'][span['start'] : span['end']]!r} in {row['text']!r}")
    flagged = [
        f"{row['text'][s:e]!r} as {k} in {row['text']!r}" for row in clinical for s, e, k in find(row["text"])[:1]
    ]
    n = sum(total.values())
    return {
        "planted": n,
        "caught": sum(caught.values()),
        "recall": round(sum(caught.values()) / max(n, 1), 4),
        "typed_recall": round(typed / max(n, 1), 4),
        "recall_by_type": {k: round(caught[k] / total[k], 4) for k in sorted(total)},
        "clinical": len(clinical),
        "false_positives": len(flagged),
        "false_positive_rate": round(len(flagged) / max(len(clinical), 1), 4),
        "missed": missed,
        "flagged": flagged,
    }
