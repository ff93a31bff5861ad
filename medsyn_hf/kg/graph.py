"""The MKG in memory: a networkx graph plus the lookups everything downstream needs (codes, symptoms, search)."""

from __future__ import annotations

import os
import re
from collections import Counter, namedtuple
from functools import lru_cache
from importlib import resources
from pathlib import Path

import networkx as nx

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.textfile import check_file, read_json

Symptom = namedtuple("Symptom", "name key weight sources")

SYMPTOM = "sym:"
LEVELS = ("chapter", "block", "category", "subcategory")
_CODE_LIKE = re.compile(r"^[A-ZА-Я]\d{2}(\.\d{1,2})?$|^[IVXL]+$|^[A-Z]\d{2}-[A-Z]\d{2}$")
_LATIN = str.maketrans("АВЕКМНОРСТХ", "ABEKMHOPCTX")  # Cyrillic look-alikes typed in codes


def default_path() -> Path:
    return Path(str(resources.files("medsyn_hf") / "resources" / "mkg.json.gz"))


class MKG:
    """Read-only view over the compiled graph. Codes are node ids as-is; symptoms are ``sym:<key>`` nodes."""

    def __init__(self, data: dict):
        g = nx.DiGraph(format=data["format"], sources=data["sources"], weight_scale=data["weight_scale"])
        for code, level, parent, name_ru, name_en, sex, description, aliases in data["codes"]:
            g.add_node(
                code,
                kind="code",
                level=level,
                name_ru=name_ru,
                name_en=name_en,
                sex=sex,
                description=description,
                aliases=aliases,
            )
            if parent:
                g.add_edge(code, parent, kind="is_a")
        for key, name, forms in data["symptoms"]:
            g.add_node(SYMPTOM + key, kind="symptom", name=name, forms=forms)
        for code, key, weight, per_source in data["edges"]:
            g.add_edge(
                code,
                SYMPTOM + key,
                kind="has_symptom",
                weight=weight,
                sources=[s for s, _ in per_source],
                source_weights=dict(per_source),
            )
        self.graph = g
        self.rumedtop3_categories: list[str] = data["rumedtop3_categories"]
        self._codes = sorted(n for n, a in g.nodes(data=True) if a["kind"] == "code")
        self._symptoms: dict[str, list[Symptom]] = {}
        self._index: dict[str, dict[str, list[str]]] = {}

    # -- codes and hierarchy -------------------------------------------------------------------------------------
    def has_code(self, code: str) -> bool:
        return self.graph.nodes.get(code, {}).get("kind") == "code"

    def resolve(self, code: str) -> str:
        """The node id of a code as a user may type it ('j06.9', 'Ј06' with a Cyrillic letter); unknown -> error."""
        candidate = code.strip().upper().translate(_LATIN)
        if self.has_code(candidate):
            return candidate
        from rapidfuzz import fuzz, process

        if re.match(r"^[A-Z]\d", candidate):
            close = [
                c for c, _, _ in process.extract(candidate, self._codes, scorer=fuzz.ratio, limit=3, score_cutoff=60)
            ]
        else:
            close = [c for c, _, _ in self.search(code, limit=3)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise MedsynError(f"unknown ICD-10 code {code!r}{hint}")

    def code(self, code: str) -> dict:
        code = self.resolve(code)
        a = self.graph.nodes[code]
        return {
            "code": code,
            "name_ru": a["name_ru"],
            "name_en": a["name_en"],
            "level": a["level"],
            "sex": a["sex"],
            "description": a["description"],
            "aliases": a["aliases"],
        }

    def codes(self, level: str | None = None) -> list[str]:
        if level is not None and level not in LEVELS:
            raise MedsynError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
        return [c for c in self._codes if level is None or self.graph.nodes[c]["level"] == level]

    def parents(self, code: str) -> list[str]:
        code = self.resolve(code)
        return [p for p in self.graph.successors(code) if self.graph.edges[code, p]["kind"] == "is_a"]

    def children(self, code: str) -> list[str]:
        code = self.resolve(code)
        return sorted(c for c in self.graph.predecessors(code) if self.graph.edges[c, code]["kind"] == "is_a")

    def path(self, code: str) -> list[str]:
        """Chapter -> block(s) -> category -> code."""
        chain = [self.resolve(code)]
        while parents := self.parents(chain[-1]):
            chain.append(parents[0])
        return chain[::-1]

    def descendants(self, code: str) -> list[str]:
        code = self.resolve(code)
        out, stack = [], self.children(code)
        while stack:
            child = stack.pop()
            out.append(child)
            stack.extend(self.children(child))
        return sorted(out)

    # -- symptoms -------------------------------------------------------------------------------------------------
    def symptoms(self, code: str) -> list[Symptom]:
        """Symptoms of a code and its subcodes (max weight per symptom), heaviest first."""
        code = self.resolve(code)
        if code not in self._symptoms:
            best: dict[str, tuple[float, set]] = {}
            for node in [code, *self.descendants(code)]:
                for _, sym, e in self.graph.out_edges(node, data=True):
                    if e["kind"] == "has_symptom":
                        weight, sources = best.get(sym, (0.0, set()))
                        best[sym] = (max(weight, e["weight"]), sources | set(e["sources"]))
            self._symptoms[code] = sorted(
                (
                    Symptom(self.graph.nodes[s]["name"], s[len(SYMPTOM) :], w, sorted(src))
                    for s, (w, src) in best.items()
                ),
                key=lambda s: (-s.weight, s.key),
            )
        return self._symptoms[code]

    def codes_with_symptom(self, key: str) -> list[str]:
        node = SYMPTOM + key
        return sorted(self.graph.predecessors(node)) if node in self.graph else []

    def _symptom_index(self, level: str) -> dict[str, list[str]]:
        """symptom key -> codes of ``level`` having it (with their subcodes'), built once per level."""
        if level not in self._index:
            index: dict[str, list[str]] = {}
            for code in self.codes(level):
                for s in self.symptoms(code):
                    index.setdefault(s.key, []).append(code)
            self._index[level] = index
        return self._index[level]

    def related(self, code: str, limit: int = 10) -> list[tuple[str, int]]:
        """Codes of the same level sharing symptoms with ``code`` (MedSyn's multi-hop links): (code, shared count).

        Ranked by Jaccard similarity of the symptom sets, so codes with huge HSDN lists do not crowd out close ones.
        """
        code = self.resolve(code)
        index = self._symptom_index(self.graph.nodes[code]["level"])
        own = self.symptoms(code)
        shared = Counter(other for s in own for other in index.get(s.key, ()) if other != code)

        def jaccard(other: str) -> float:
            return shared[other] / (len(own) + len(self.symptoms(other)) - shared[other])

        return [(c, shared[c]) for c in sorted(shared, key=lambda c: (-jaccard(c), c))[:limit]]

    def neighbourhood(self, code: str, radius: int = 1, limit: int = 10) -> nx.DiGraph:
        """The code, its parent and children, its symptoms; with radius >= 2 also the ``limit`` most related codes."""
        code = self.resolve(code)
        sub = nx.DiGraph()
        sub.add_node(code, **self.graph.nodes[code])
        for other in [*self.parents(code), *self.children(code)]:
            sub.add_node(other, **self.graph.nodes[other])
            edge = (other, code) if other in self.children(code) else (code, other)
            sub.add_edge(*edge, kind="is_a")
        keys = set()
        for s in self.symptoms(code):
            keys.add(s.key)
            sub.add_node(SYMPTOM + s.key, **self.graph.nodes[SYMPTOM + s.key])
            sub.add_edge(code, SYMPTOM + s.key, kind="has_symptom", weight=s.weight, sources=s.sources)
        if radius >= 2:
            for other, _ in self.related(code, limit=limit):
                sub.add_node(other, **self.graph.nodes[other])
                for s in self.symptoms(other):
                    if s.key in keys:
                        sub.add_edge(other, SYMPTOM + s.key, kind="has_symptom", weight=s.weight, sources=s.sources)
        return sub

    # -- search ---------------------------------------------------------------------------------------------------
    @property
    def _names(self) -> tuple[list[str], list[str]]:
        if not hasattr(self, "_name_index"):
            labels, owners = [], []
            for c in self._codes:
                a = self.graph.nodes[c]
                for name in (a["name_ru"], a["name_en"], *a["aliases"]):
                    if name:
                        labels.append(name.lower().replace("ё", "е"))
                        owners.append(c)
            self._name_index = (labels, owners)
        return self._name_index

    def search(self, text: str, limit: int = 10) -> list[tuple[str, str, float]]:
        """Codes by code or Russian/English name, case-insensitive and typo tolerant: (code, name_ru, score 0..100)."""
        from rapidfuzz import fuzz, process

        query = text.strip()
        if not query:
            return []
        code_query = query.upper().translate(_LATIN)
        if _CODE_LIKE.match(code_query):
            hits = [c for c in self._codes if c.startswith(code_query)][:limit]
            if hits:
                return [(c, self.graph.nodes[c]["name_ru"], 100.0 if c == code_query else 90.0) for c in hits]
        labels, owners = self._names
        query = query.lower().replace("ё", "е")
        # Fuzzy score, plus a bonus when every query word's stem (first four letters) is in the name, so
        # 'острый гастрит' ranks gastritis above other 'острый ...' names.
        stems = [w[:4] for w in re.findall(r"\w+", query)]
        scored = process.extract(query, labels, scorer=fuzz.WRatio, limit=max(300, limit * 4), score_cutoff=60)
        ranked = sorted(
            ((score + 10 * all(s in labels[i] for s in stems), i) for _, score, i in scored),
            key=lambda t: (-t[0], len(labels[t[1]]), owners[t[1]]),
        )
        out, seen = [], set()
        for score, i in ranked:
            if owners[i] not in seen:
                seen.add(owners[i])
                out.append((owners[i], self.graph.nodes[owners[i]]["name_ru"], round(min(score, 100.0), 1)))
        return out[:limit]

    # -- summary --------------------------------------------------------------------------------------------------
    def stats(self) -> dict:
        g = self.graph
        nodes = Counter(a["level"] if a["kind"] == "code" else a["kind"] for _, a in g.nodes(data=True))
        edges = Counter(e["kind"] for *_, e in g.edges(data=True))
        sampleable = [c for c in self._codes if g.nodes[c]["level"] in ("category", "subcategory")]
        three_plus = [c for c in sampleable if len(self.symptoms(c)) >= 3]
        direct = [
            c for c in sampleable if sum(1 for *_, e in g.out_edges(c, data=True) if e["kind"] == "has_symptom") >= 3
        ]
        covered = [
            c
            for c in self.rumedtop3_categories
            if self.has_code(c) and g.nodes[c]["name_ru"] and len(self.symptoms(c)) >= 3
        ]
        return {
            "nodes": dict(sorted(nodes.items())),
            "edges": dict(sorted(edges.items())),
            "codes_with_3plus_symptoms": len(three_plus),
            "codes_with_3plus_direct_symptoms": len(direct),
            "rumedtop3_categories": len(self.rumedtop3_categories),
            "rumedtop3_categories_covered": len(covered),
            "rumedtop3_categories_missing": sorted(set(self.rumedtop3_categories) - set(covered)),
        }


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> MKG:
    try:
        data = read_json(path, "MKG file")
    except MedsynError as err:
        raise MedsynError(f"{err}: not a readable MKG file (write one with `medsyn kg build`)") from None
    if not isinstance(data, dict) or data.get("format") != "medsyn-mkg/1":
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise MedsynError(f"{path}: unsupported MKG format {found!r} (write one with `medsyn kg build`)")
    try:
        return MKG(data)
    except (KeyError, TypeError, ValueError) as err:
        raise MedsynError(f"{path}: not a readable MKG file ({type(err).__name__}: {first_line(err)})") from None


def load_graph(path: str | os.PathLike | None = None) -> MKG:
    """The packaged MKG, or the one at ``path``; cached per file version, so repeated calls are free."""
    path = Path(path) if path else default_path()
    if not path.exists():
        raise MedsynError(f"{path}: MKG file not found (build it with `medsyn kg build`)")
    path = check_file(path, "MKG file")
    return _load(str(path.resolve()), path.stat().st_mtime)
