"""Compile the source files into the MKG file: deterministic (same inputs -> byte-identical output) and compact.

Weights from different sources go on one 0..10 scale, per code and source:
  * weighted sources (HSDN TF-IDF, GPT-note frequencies): ``10 * w / max_w`` over that code's symptoms in that source;
  * unweighted lists (MedSyn's hand-made Russian lists): ``UNWEIGHTED`` (the middle of the scale);
  * an edge's weight is the maximum over its sources; each source's own scaled weight is kept on the edge.
Codes from ICD-10-CM-flavoured tables are mapped onto the Russian tree: the exact code, else its first five
characters (``B96.20`` -> ``B96.2``), else its three-character category.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from medsyn_hf.io import check_output, safe_output
from medsyn_hf.kg import sources as src
from medsyn_hf.normalize import lemmas, surface, symptom_key

FORMAT = "medsyn-mkg/1"
COMMAND = "medsyn kg build"
UNWEIGHTED = 5.0
# MeSH "symptoms" in HSDN-derived lists that are measurements or findings, not complaints a patient voices.
NOT_SYMPTOMS = frozenset({"вес тело", "вес при рождение", "масса тело", "рост", "ожирение"})
MAX_SYMPTOM_WORDS = 12


def _level(code: str) -> str:
    if "-" in code:
        return "block"
    if "." in code:
        return "subcategory"
    return "category" if code[:1].isalpha() and code[1:3].isdigit() else "chapter"


def map_code(code: str, known: set[str]) -> str | None:
    code = code.strip().upper().rstrip(".")
    for candidate in (code, code[:5], code[:3]):
        if candidate in known:
            return candidate
    return None


def _tree(rows: list[dict]) -> dict[str, dict]:
    """Actual codes with their nearest actual ancestor as parent (retired rows dropped, their children re-linked)."""
    by_code = {r["code"]: r for r in rows}

    def actual_parent(code):
        parent = by_code[code]["parent"]
        while parent and not by_code[parent]["actual"]:
            parent = by_code[parent]["parent"]
        return parent

    return {
        r["code"]: {
            "level": _level(r["code"]),
            "parent": actual_parent(r["code"]),
            "name_ru": r["name"],
            "name_en": "",
            "sex": None,
            "description": "",
        }
        for r in rows
        if r["actual"]
    }


def _sex_restrictions(codes: dict[str, dict], listed: dict[str, str]) -> None:
    """A code is restricted when it or an ancestor is listed."""
    for code, info in codes.items():
        node = code
        while node and node not in listed:
            node = codes[node]["parent"]
        if node:
            info["sex"] = listed[node]


_SENTENCE = re.compile(r"[.;!?\n]+")
_CLAUSE = re.compile(r"[,:()]+")
_NEGATION = frozenset({"не", "нет", "без", "отрицать", "отсутствовать"})
_FUNCTION = frozenset({"в", "на", "с", "и", "при", "по", "от", "до", "за", "из", "к", "о", "у", "под", "над", "или"})


def complaint_symptoms(complaints: list[dict], vocabulary: dict[str, Counter]) -> dict[str, Counter]:
    """Known symptoms voiced in real complaints, per category: category -> {surface form: number of complaints}.

    A symptom is voiced when all its content lemmas occur in one clause of the complaint; sentences with a
    negation ('Повышения температуры, тошноты не было', 'без температуры') are skipped whole.
    """
    content = {key: frozenset(w for w in key.split() if w not in _FUNCTION) for key in vocabulary}
    content = {key: words for key, words in content.items() if 0 < len(words) <= 4}
    frequency = Counter(w for words in content.values() for w in words)
    by_anchor: dict[str, list[str]] = defaultdict(list)  # rarest lemma -> symptoms containing it
    for key, words in sorted(content.items()):
        by_anchor[min(words, key=lambda w: (frequency[w], w))].append(key)
    out: dict[str, Counter] = defaultdict(Counter)
    for complaint in complaints:
        voiced = set()
        for sentence in _SENTENCE.split(complaint["text"]):
            clauses = [set(lemmas(clause)) for clause in _CLAUSE.split(sentence)]
            if any(c & _NEGATION for c in clauses):
                continue
            for lemmas_ in clauses:
                for anchor in lemmas_ & by_anchor.keys():
                    voiced.update(k for k in by_anchor[anchor] if content[k] <= lemmas_)
        # The symptom's most common surface form stands for it, so add() maps it back to the same key.
        out[complaint["code"]].update(vocabulary[k].most_common(1)[0][0] for k in voiced)
    return out


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compile_graph(sources: Path) -> dict:
    """The MKG as one JSON-ready dict (see ``medsyn_hf.kg.graph`` for how it is read)."""
    sources = Path(sources)
    codes = _tree(src.read_icd_tree(sources / src.ICD_TREE))
    known = set(codes)
    evidence: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)  # (code, key) -> source -> 0..10
    forms: dict[str, Counter] = defaultdict(Counter)

    def add(source: str, code: str | None, items: list[tuple[str, float | None]]):
        """Put one source's symptoms of one code on the common scale."""
        if code is None:
            return
        keyed: dict[str, list[float]] = defaultdict(list)  # key -> the source's weights of it ([] if unweighted)
        for text, weight in items:
            form = surface(text)
            key = symptom_key(form)
            if not key or key in NOT_SYMPTOMS or len(key.split()) > MAX_SYMPTOM_WORDS or len(key) < 3:
                continue
            forms[key][form] += 1
            keyed[key] += [] if weight is None else [weight]
        top = max([max(ws) for ws in keyed.values() if ws], default=0.0) or 1.0
        for key, weights in keyed.items():
            scaled = 10.0 * max(weights) / top if weights else UNWEIGHTED
            previous = evidence[(code, key)].get(source, 0.0)
            evidence[(code, key)][source] = round(max(previous, scaled), 4)

    aliases: dict[str, set] = defaultdict(set)

    def name(code: str | None, name_ru: str, name_en: str, exact: bool):
        """Other sources' names of a code become search aliases; an English name only from an exact match."""
        if code is None or not exact:
            return
        if name_en and not codes[code]["name_en"]:
            codes[code]["name_en"] = name_en
        if name_ru and name_ru.lower() != codes[code]["name_ru"].lower():
            aliases[code].add(name_ru.strip())

    for row in src.read_main_proc(sources / src.MAIN_PROC):
        code = map_code(row["code"], known)
        exact = code == row["code"].strip().upper()
        name(code, row["name_ru"], row["name_en"], exact)
        if code and exact and row["description"] and not codes[code]["description"]:
            codes[code]["description"] = row["description"]
        add("hsdn_medsyn", code, row["weighted"])
        add("medsyn_ru", code, [(s, None) for s in row["unweighted"]])
    for row in src.read_icd_symp_ru(sources / src.ICD_SYMP_RU):
        code = map_code(row["code"], known)
        name(code, row["name_ru"], row["name_en"], code == row["code"].strip().upper())
        add("medsyn_ru", code, [(s, None) for s in row["unweighted"]])

    translations = src.read_symptom_translations(sources / src.SYMPTOMS_EN_RU)
    mesh_icd = src.read_mesh_icd10(sources / src.MESH_ICD10_CSV, sources / src.MESH_ICD10_TXT)
    hsdn: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row in src.read_hsdn(sources / src.HSDN):
        if row["symptom_en"] in translations:
            for icd, description in mesh_icd.get(row["mesh"], []):
                code = map_code(icd, known)
                if code:
                    hsdn[code].append((translations[row["symptom_en"]].split(",")[0], row["tfidf"]))
                    name(code, "", description, code == icd.strip().upper())
    for code in sorted(hsdn):
        add("hsdn", code, hsdn[code])

    by_code: dict[str, Counter] = defaultdict(Counter)
    for note in src.read_gpt_notes(sources / src.GPT_NOTES):
        code = map_code(note["code"], known)
        name(code, note["name_ru"], "", code == note["code"].upper())
        if code:
            by_code[code].update(set(note["symptoms"]))
    for code in sorted(by_code):
        add("gpt_notes", code, sorted(by_code[code].items()))

    complaints = src.read_rumedtop3_train(sources / src.RUMEDTOP3_TRAIN)
    found = complaint_symptoms(complaints, {key: forms[key] for _, key in evidence})
    for code in sorted(found):
        add("rumedtop3_train", map_code(code, known), sorted(found[code].items()))

    _sex_restrictions(codes, src.read_gender_split(sources / src.GENDER_SPLIT))
    rumedtop3 = sorted({c["code"] for c in complaints})

    used = sorted({key for _, key in evidence})
    symptoms = [
        [key, sorted(forms[key].items(), key=lambda kv: (-kv[1], kv[0]))[0][0], sorted(forms[key])] for key in used
    ]
    edges = [[code, key, max(per.values()), sorted(per.items())] for (code, key), per in sorted(evidence.items())]
    return {
        "format": FORMAT,
        "weight_scale": {
            "range": [0, 10],
            "weighted_sources": "10 * w / max_w per code and source",
            "unweighted_sources": UNWEIGHTED,
            "edge": "max over sources",
        },
        "sources": {name: _file_digest(sources / name) for name in src.ALL_SOURCES},
        "codes": [
            [c, i["level"], i["parent"], i["name_ru"], i["name_en"], i["sex"], i["description"], sorted(aliases[c])]
            for c, i in sorted(codes.items())
        ],
        "symptoms": symptoms,
        "edges": edges,
        "rumedtop3_categories": rumedtop3,
    }


def is_graph_file(path: Path) -> bool:
    """An MKG file (what `medsyn kg build` writes), which a new build may replace."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f).get("format") == FORMAT
    except (OSError, EOFError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def _output(inputs, overwrite: bool) -> dict:
    """``medsyn_hf.io.check_output``'s arguments for an MKG file."""
    return dict(command=COMMAND, inputs=inputs, overwrite=overwrite, kind="file", owned=is_graph_file)


def write_graph(data: dict, out: Path, *, inputs=(), overwrite: bool = False) -> None:
    """gzip'd JSON with sorted keys and a zero timestamp: identical inputs give identical bytes. An existing file is
    replaced only if it is an MKG file (or ``overwrite``)."""
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with safe_output(out, **_output(inputs, overwrite)) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(payload)


def build(sources: Path, out: Path, overwrite: bool = False) -> dict:
    check_output(out, **_output([sources], overwrite))
    data = compile_graph(sources)
    write_graph(data, out, inputs=[sources], overwrite=overwrite)
    return data


# Which source files each figure of `graph_stats` comes from: a drop names them.
STAT_SOURCES = {
    "codes": [src.ICD_TREE],
    "sex_limited_codes": [src.GENDER_SPLIT],
    "rumedtop3_categories": [src.RUMEDTOP3_TRAIN],
    "edges_from_hsdn_medsyn": [src.MAIN_PROC],
    "edges_from_medsyn_ru": [src.MAIN_PROC, src.ICD_SYMP_RU],
    "edges_from_hsdn": [src.HSDN, src.MESH_ICD10_CSV, src.MESH_ICD10_TXT, src.SYMPTOMS_EN_RU],
    "edges_from_gpt_notes": [src.GPT_NOTES],
    "edges_from_rumedtop3_train": [src.RUMEDTOP3_TRAIN],
}
MAX_DROP = 0.03  # a figure this much below the packaged graph's is a warning


def graph_stats(data: dict) -> dict:
    """The figures of a compiled graph that a bad source lowers: codes, symptoms, edges (in all and per source)."""
    per_source = Counter(name for *_, sources in data["edges"] for name, _ in sources)
    return {
        "codes": len(data["codes"]),
        "symptoms": len(data["symptoms"]),
        "has_symptom_edges": len(data["edges"]),
        "codes_with_symptoms": len({code for code, *_ in data["edges"]}),
        "sex_limited_codes": sum(1 for code in data["codes"] if code[5]),
        "rumedtop3_categories": len(data["rumedtop3_categories"]),
        **{name: 0 for name in STAT_SOURCES if name.startswith("edges_from_")},  # a source that gave none: 0
        **{f"edges_from_{name}": n for name, n in sorted(per_source.items())},
    }


def compare_stats(stats: dict, reference: dict, sources: Path, max_drop: float = MAX_DROP) -> list[str]:
    """One warning per figure more than ``max_drop`` below the ``reference`` graph's, naming its source files; the
    largest drop first (the complaints' edges also fall when another source loses symptoms: they are matched
    against every source's symptoms)."""
    drops = []
    for name, files in STAT_SOURCES.items():
        before, now = reference.get(name, 0), stats.get(name, 0)
        if before and now < (1 - max_drop) * before:
            checked = ", ".join(str(Path(sources) / file) for file in files)
            if name == "edges_from_rumedtop3_train":
                checked += " (or the source whose symptoms its complaints no longer voice)"
            drops.append(
                (
                    now / before,
                    f"{name} {now:,} against {before:,} in the packaged graph ({now / before - 1:+.0%}): "
                    f"check {checked}",
                )
            )
    return [warning for _, warning in sorted(drops, key=lambda drop: drop[0])]
