"""The seven instruction tasks, each a generator of examples in TRL's conversational prompt-completion format.

An example is ``{"task", "source", "icd10", "prompt": [system, user], "completion": [assistant], "doc"}``; ``doc`` is
the source text the example is made from (near-duplicate removal works on it, so the two continuations of one note
are not mistaken for near-duplicates of each other). Every random choice is a hash of (seed, task, item), so an
example does not change when other items are added or removed.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator

from medsyn_hf import provenance
from medsyn_hf.ift import phrasings as ph
from medsyn_hf.priors.from_notes import complaint_prior, note_seed
from medsyn_hf.priors.style import style_pool

TASKS = (
    "note_writing",
    "complaint_to_icd",
    "code_to_symptoms",
    "symptoms_to_diagnosis",
    "disease_description",
    "note_continuation",
    "complaint_writing",
)
# `source` column -> (what it is, origin, license); rendered into the card
SOURCES = {name: provenance.SOURCES[name] for name in ("medsyn_gpt_notes", "rumedtop3_train", "mkg", "ru_wikipedia")}
NOTE_TEMPLATES = ("anamnesis", "anamnesis_patient", "short", "examination", "hidden_diagnosis")
STYLE_CHOICES = (0, 0, 0, 1, 2, 3)  # style exemplars per complaint-writing prompt: none in half of them, else 1-3
MIN_NOTE_CHARS = 200
_REFUSAL = re.compile(r"виртуальн\w* помощник|языков\w* модел|не могу выполнить", re.IGNORECASE)
_WIKI_REF = re.compile(r"\[[^\]\n]{0,40}\]")  # footnote marks: [2], [источник не указан 100 дней]
_VERB_LEADS = {"представляет", "является", "относится", "характеризуется", "называется", "встречается", "возникает"}
CHUNK_CHARS = 1200
TOP_SYMPTOMS = 10


def rng(seed: int, *key) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, (seed, *key))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def chat(instruction: str, input: str = "") -> list[dict]:
    user = f"{instruction}\n\n{input}" if input else instruction
    return [{"role": "system", "content": ph.SYSTEM}, {"role": "user", "content": user}]


def example(
    task: str, source: str, icd10: str | None, prompt: list[dict], answer: str, doc: str | None = None
) -> dict:
    return {
        "task": task,
        "source": source,
        "icd10": icd10 or "",
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": answer}],
        "doc": doc if doc is not None else prompt[-1]["content"] + "\n" + answer,
    }


def to_instruction(row: dict) -> dict:
    """MedSyn-ift's instruction/input/output form of a row (the system message is dropped)."""
    instruction, _, input = row["prompt"][-1]["content"].partition("\n\n")
    return {"instruction": instruction, "input": input, "output": row["completion"][-1]["content"]}


def usable_note(note: dict) -> bool:
    text = note["response"].strip()
    return len(text) >= MIN_NOTE_CHARS and not _REFUSAL.search(text[:400]) and any(s.strip() for s in note["symptoms"])


def _smoking(value) -> bool | None:
    """The notes' smoking field mixes bools and words ('курящий', 'некурящая')."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and "куря" in value:
        return not value.strip().lower().startswith("не")
    return None


def _code_name(kg, code: str, fallback: str = "") -> str:
    return kg.graph.nodes[code]["name_ru"] if kg.has_code(code) else fallback


def note_writing(notes: list[dict], kg, seed: int) -> Iterator[dict]:
    """Each GPT note as the answer to our own note-writing prompt rendered from its code, symptoms and patient."""
    from medsyn_hf.prompts import TEMPLATES, render_messages

    for note in notes:
        code = note["icd10"].strip()
        prior = {
            "code": code,
            "code_name_ru": _code_name(kg, code, (note.get("disease_name_ru") or "").strip()),
            "symptoms": [s.strip() for s in note["symptoms"] if s.strip()],
            "sex": note.get("gender"),
            "marital": note.get("marital_state"),
            "smoking": _smoking(note.get("smoking")),
        }
        usable = [
            t for t in NOTE_TEMPLATES if all(prior.get(f) for f in TEMPLATES[t].fields - {"symptoms", "patient"})
        ]
        template = rng(seed, "note_writing", note["key"]).choice(usable)
        yield example(
            "note_writing",
            "medsyn_gpt_notes",
            code,
            render_messages(prior, template),
            note["response"].strip(),
            doc=note["response"].strip(),
        )


def split_point(text: str, fraction: float) -> int:
    """The line, sentence or word boundary nearest to ``fraction`` of the text."""
    target, window = len(text) * fraction, len(text) * 0.15
    for boundary in (r"\n+", r"(?<=[.!?])\s+", r"\s+"):
        ends = [m.end() for m in re.finditer(boundary, text)]
        ends = [e for e in ends if abs(e - target) <= window and 0 < e < len(text)]
        if ends:
            return min(ends, key=lambda e: (abs(e - target), e))
    return 0


def note_continuation(notes: list[dict], kg, seed: int) -> Iterator[dict]:
    """Each GPT note cut after its first half and after its first third; the rest is the answer."""
    for note in notes:
        text = note["response"].strip()
        for fraction in (1 / 2, 1 / 3):
            cut = split_point(text, fraction)
            head, tail = text[:cut].rstrip(), text[cut:].strip()
            if min(len(head), len(tail)) < MIN_NOTE_CHARS // 4:
                continue
            instruction = rng(seed, "note_continuation", note["key"], fraction).choice(ph.NOTE_CONTINUATION)
            yield example(
                "note_continuation", "medsyn_gpt_notes", note["icd10"].strip(), chat(instruction, head), tail, doc=text
            )


def complaint_to_icd(complaints: list[dict], kg, seed: int) -> Iterator[dict]:
    """RuMedTop3 train complaint -> its 3-character category with the official Russian name."""
    for row in complaints:
        text, code = row["text"].strip(), row["code"].strip()
        name = _code_name(kg, code)
        if not text or not name:
            continue
        instruction = rng(seed, "complaint_to_icd", text).choice(ph.COMPLAINT_TO_ICD)
        yield example(
            "complaint_to_icd",
            "rumedtop3_train",
            code,
            chat(instruction, ph.COMPLAINT_INPUT.format(text=text)),
            ph.COMPLAINT_ANSWER.format(code=code, name=name),
            doc=text,
        )


def _described_codes(kg, min_symptoms: int = 3) -> list[str]:
    return [
        c
        for c in kg.codes()
        if kg.graph.nodes[c]["level"] in ("category", "subcategory")
        and kg.graph.nodes[c]["name_ru"]
        and len(kg.symptoms(c)) >= min_symptoms
    ]


def code_to_symptoms(kg, seed: int) -> Iterator[dict]:
    """ICD code and/or name -> its heaviest MKG symptoms, asked twice per code: two of (by code, by name, by both)."""
    for code in _described_codes(kg):
        name = kg.graph.nodes[code]["name_ru"]
        answer = ph.CODE_TO_SYMPTOMS_ANSWER.format(
            code=code, name=name, symptoms=", ".join(s.name for s in kg.symptoms(code)[:TOP_SYMPTOMS])
        )
        r = rng(seed, "code_to_symptoms", code)
        for given in r.sample(sorted(ph.CODE_TO_SYMPTOMS), 2):
            instruction = r.choice(ph.CODE_TO_SYMPTOMS[given]).format(code=code, name=name)
            yield example("code_to_symptoms", "mkg", code, chat(instruction), answer)


def _category(kg, code: str) -> str | None:
    return next((c for c in kg.path(code) if kg.graph.nodes[c]["level"] == "category"), None)


def symptoms_to_diagnosis(kg, seed: int, per_code: int = 4, top: int = 5) -> Iterator[dict]:
    """2-4 symptoms of a code -> the categories having most of them (MedSyn's multi-hop questions over the MKG)."""
    categories = {}
    for code in kg.codes("category"):
        if kg.graph.nodes[code]["name_ru"] and (weights := {s.key: s.weight for s in kg.symptoms(code)}):
            categories[code] = weights
    asked = set()
    for code in _described_codes(kg):
        own = _category(kg, code)
        pool = kg.symptoms(code)[:8]
        for i in range(per_code):
            r = rng(seed, "symptoms_to_diagnosis", code, i)
            chosen = r.sample(pool, r.randint(2, min(4, len(pool))))
            keys = frozenset(s.key for s in chosen)
            if keys in asked or own not in categories:
                continue
            asked.add(keys)
            scored = []
            for cat, weights in categories.items():
                hits = [s for s in chosen if s.key in weights]
                if len(hits) >= 2:
                    scored.append((-len(hits), -sum(weights[s.key] for s in hits), cat, hits))
            lines = []
            for rank, (_, _, cat, hits) in enumerate(sorted(scored)[:top], 1):
                line = ph.DIAGNOSIS_LINE.format(rank=rank, code=cat, name=kg.graph.nodes[cat]["name_ru"])
                if len(hits) < len(chosen):
                    line += ph.PARTIAL_MATCH.format(symptoms=", ".join(s.name for s in hits))
                lines.append(line)
            instruction = r.choice(ph.SYMPTOMS_TO_DIAGNOSIS)
            yield example(
                "symptoms_to_diagnosis",
                "mkg",
                own,
                chat(instruction, ph.SYMPTOMS_INPUT.format(symptoms=", ".join(s.name for s in chosen))),
                ph.SYMPTOMS_TO_DIAGNOSIS_ANSWER.format(lines="\n".join(lines)),
            )


def chunks(paragraphs: list[str], limit: int = CHUNK_CHARS) -> Iterator[str]:
    """Consecutive paragraphs joined up to ``limit`` characters (a longer paragraph stands alone)."""
    current: list[str] = []
    for p in paragraphs:
        if current and len("\n\n".join([*current, p])) > limit:
            yield "\n\n".join(current)
            current = []
        current.append(p)
    if current:
        yield "\n\n".join(current)


def lead_sentence(name: str, text: str) -> str:
    """Restore the article's subject, which the scraped lead paragraph lacks ('это ...', 'представляет собой ...')."""
    if not text[:1].islower():
        return text
    return f"{name} {text}" if text.split()[0] in _VERB_LEADS else f"{name} — {text}"


def disease_description(wiki: list[dict], kg, seed: int) -> Iterator[dict]:
    """Disease name (and code) -> consecutive Russian Wikipedia paragraphs about it, in article order."""
    by_disease: dict[tuple[str, str], list[str]] = {}
    for row in wiki:
        text = re.sub(r"[ \t]+", " ", _WIKI_REF.sub("", row["text"])).strip()
        if text:
            by_disease.setdefault((row["name"].strip(), row["code"].strip()), []).append(text)
    for (name, code), paragraphs in by_disease.items():
        paragraphs[0] = lead_sentence(name, paragraphs[0])
        for i, chunk in enumerate(chunks(paragraphs)):
            instruction = rng(seed, "disease_description", name, i).choice(ph.DISEASE_DESCRIPTION)
            yield example(
                "disease_description",
                "ru_wikipedia",
                code,
                chat(instruction.format(name=name, code=code)),
                chunk,
                doc=chunk,
            )


def complaint_writing(complaints: list[dict], kg, seed: int, pool=None) -> Iterator[dict]:
    """Each RuMedTop3 train complaint as the answer to the ``complaints`` template rendered from its own prior: its
    category, the MKG symptoms it voices, a sampled patient and, in half of the prompts, 1-3 style exemplars of
    other categories (``medsyn_hf.priors.from_notes``; ``pool``: where exemplars come from, default these
    complaints). A complaint that voices no MKG symptom of its category gives no example."""
    if pool is None:
        pool = style_pool([row["code"] for row in complaints], [row["text"] for row in complaints])
    for row in complaints:
        text, code = row["text"].strip(), row["code"].strip()
        k = rng(seed, "complaint_writing", text).choice(STYLE_CHOICES)
        prior = complaint_prior(kg, code, text, note_seed(seed, "complaint_writing", text), pool, k)
        if prior is not None:  # `style_examples`: what pretraining must not weight as the prompt's own words
            row = example("complaint_writing", "rumedtop3_train", prior["code"], prior["messages"], text, doc=text)
            yield {**row, "style_examples": prior["style_examples"] or []}
