"""How realistic and how varied sampled priors are: symptom attestation in real notes, and symptom-set diversity.

Why: a model can only write realistic notes from realistic prompts. A drawn symptom is **attested** when all its
content lemmas occur within one real note of the prior's category (the lemma matching of the symptom-recall filter,
``medsyn_hf.normalize``: inflection and word order do not matter, function words are ignored). Only priors whose
category has real notes count. Which notes: the packaged RuMedTop3 *train* notes (``examples.parquet``) at run time;
``benchmarks/priors_realism.py`` also reads the dev split from ``data/sources`` — as a measurement only, never to
choose anything.

Diversity guards against the trivial fix (always the same heaviest symptoms): per code, the number of distinct
symptom sets among its priors, and the mean Jaccard similarity of its priors' symptom sets over all pairs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.normalize import note_lemmas, symptom_lemmas
from medsyn_hf.priors.resources import load_examples
from medsyn_hf.textfile import check_file, json_lines


class NoteIndex:
    """Real notes by category; each category's lemma sets are computed the first time a prior of it asks."""

    def __init__(self, notes):
        self._texts: dict[str, list[str]] = defaultdict(list)
        for category, text in notes:
            self._texts[category].append(text)
        self._lemmas: dict[str, list[frozenset]] = {}
        self._attested: dict[tuple[str, str], bool] = {}

    def __contains__(self, category: str) -> bool:
        return category in self._texts

    def __len__(self) -> int:
        return sum(map(len, self._texts.values()))

    def attested(self, category: str, symptom: str) -> bool:
        """Do all content lemmas of ``symptom`` occur within one note of ``category``?"""
        key = (category, symptom)
        if key not in self._attested:
            if category not in self._lemmas:
                self._lemmas[category] = [note_lemmas(t) for t in self._texts.get(category, ())]
            wanted = symptom_lemmas(symptom)
            self._attested[key] = bool(wanted) and any(wanted <= note for note in self._lemmas[category])
        return self._attested[key]


def train_notes() -> NoteIndex:
    """The packaged RuMedTop3 train notes (what ``medsyn priors --json`` measures against)."""
    table = load_examples()
    return NoteIndex(zip(table["code"].to_pylist(), table["text"].to_pylist()))


def read_notes(path: str | Path) -> NoteIndex:
    """RuMedTop3-style JSON lines (``code``, ``symptoms``), e.g. data/sources/rumedtop3/dev_v1.jsonl."""
    path = check_file(path, "notes file")
    rows = []
    for line, row in json_lines(path, "notes file"):
        if not isinstance(row.get("code"), str) or not isinstance(row.get("symptoms"), str):
            raise MedsynError(f"{path}:{line}: not a RuMedTop3 note (needs 'code' and 'symptoms' strings)")
        rows.append((row["code"], row["symptoms"]))
    return NoteIndex(rows)


def attestation(categories, symptom_lists, notes: NoteIndex) -> dict:
    """Share of drawn symptoms attested in a real note of the prior's category (priors of categories with notes)."""
    drawn = hits = priors = 0
    for category, symptoms in zip(categories, symptom_lists):
        if category in notes:
            priors += 1
            drawn += len(symptoms)
            hits += sum(notes.attested(category, s) for s in symptoms)
    return {"priors": priors, "symptoms": drawn, "attested": hits, "share": round(hits / drawn, 4) if drawn else None}


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def mean_pairwise_jaccard(counts: Counter) -> float:
    """Mean Jaccard over all pairs of a code's priors, given how many priors drew each distinct set: identical sets
    pair at 1, so the pairs compared are those of distinct sets, not of priors (fewer as --n grows)."""
    m = counts.total()
    same = sum(c * (c - 1) / 2 for c in counts.values())
    cross = sum(counts[a] * counts[b] * jaccard(a, b) for a, b in combinations(counts, 2))
    return (same + cross) / (m * (m - 1) / 2)


def diversity(codes, symptom_lists) -> dict:
    """Per code: distinct symptom sets and the mean pairwise Jaccard of its priors' sets; averaged over codes
    (the Jaccard over codes with two priors or more)."""
    by_code: dict[str, Counter] = defaultdict(Counter)
    for code, symptoms in zip(codes, symptom_lists):
        by_code[code][frozenset(symptoms)] += 1
    distinct = [len(counts) for counts in by_code.values()]
    pairwise = [mean_pairwise_jaccard(counts) for counts in by_code.values() if counts.total() > 1]
    return {
        "codes": len(by_code),
        "distinct_sets_per_code": round(sum(distinct) / len(distinct), 4) if distinct else None,
        "distinct_share": round(sum(distinct) / sum(c.total() for c in by_code.values()), 4) if distinct else None,
        "mean_pairwise_jaccard": round(sum(pairwise) / len(pairwise), 4) if pairwise else None,
    }


def realism(priors, notes: NoteIndex | None = None) -> dict:
    """Attestation (against ``notes``, default the packaged train notes) and diversity of a priors dataset."""
    columns = priors.select_columns(["code", "category", "symptoms"]).to_dict()
    notes = train_notes() if notes is None else notes
    return {
        "attestation": attestation(columns["category"], columns["symptoms"], notes),
        "diversity": diversity(columns["code"], columns["symptoms"]),
    }
