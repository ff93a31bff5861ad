"""`medsyn assess prepare`: a blind, balanced, shuffled set of real and synthetic notes for annotators.

Blind means that nothing an annotator sees tells the origin except the text itself:

- real and synthetic notes are paired, one real and one synthetic note per pair, so the set is exactly balanced;
- a pair shares its ICD-10 category where both sides have notes of it (pairs are taken round-robin over the shared
  categories, so frequent codes do not crowd out the others); only when too few such pairs exist are the remaining
  notes paired across categories (the key counts them);
- both sides get the same text view (``medsyn_hf.text_views``: the complaint section by default, because RuMedTop3
  notes are complaints while a generated note is a whole anamnesis), and a pair's two texts differ in length by at
  most ``length_tolerance`` of the longer one;
- items carry the 3-character category, never a subcode (real RuMedTop3 notes only have categories), and a random id;
  the set is shuffled.

The public part is ``items.jsonl``; the key (origin, source dataset and row of every item) is written to ``key/``,
which the Space never reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from medsyn_hf.assessment_folder import ANSWERS_DIR, ITEMS, KEY, KEY_DIR, PREPARE
from medsyn_hf.data import category, is_run_folder, read_notes, role_column
from medsyn_hf.errors import MedsynError
from medsyn_hf.guards import GENERATED_COLUMNS, looks_generated, refuse, side_problems
from medsyn_hf.io import check_output, safe_output
from medsyn_hf.kg import load_graph
from medsyn_hf.text_views import MAX_CHARS, VIEWS
from medsyn_hf.text_views import view as text_view

COMMAND = PREPARE
ID_COLUMNS = ("idx", "id")
LENGTH_TOLERANCE = 0.3
DEFAULT_VIEW = "complaint"


class Note(NamedTuple):
    text: str  # the view annotators will see
    code: str  # 3-character category
    source_id: str  # "<dataset>:<row id>"
    full: str  # the whole text (the two sides must share none)


def notes_in_view(
    source: str,
    *,
    split: str | None = None,
    text_column: str | None = None,
    code_column: str | None = None,
    view: str = DEFAULT_VIEW,
    max_chars: int = MAX_CHARS,
    generated: bool = False,
) -> list[Note]:
    """The kept notes of a dataset (``data.read_notes``: a file, folder, Hub id or a `medsyn generate` run folder) in
    ``view``.

    Notes whose view is empty are skipped; a row without a code is an error. ``generated``: the dataset must be a
    run folder or have a generated-notes column (``guards.looks_generated``)."""
    data, _ = read_notes(source, split)
    if generated and not is_run_folder(source) and not looks_generated(data.column_names):
        raise MedsynError(
            f"{source}: not generated notes (none of the columns {', '.join(GENERATED_COLUMNS)}, which a "
            "`medsyn generate` run or `medsyn publish` folder has); pass --trust-synthetic if it is synthetic"
        )
    flag = "--real-{0}-column or --synthetic-{0}-column"
    text_name = role_column(data, "text", text_column, source, flag=flag.format("text"))
    code_name = role_column(data, "code", code_column, source, flag=flag.format("code"))
    ids = next((data[c] for c in ID_COLUMNS if c in data.column_names), range(len(data)))
    path = Path(source)
    name = path.name if path.exists() else str(source)
    notes = []
    for row, (text, code, row_id) in enumerate(zip(data[text_name], data[code_name], ids)):
        if code is None or not str(code).strip():
            raise MedsynError(f"{source}: row {row} has no {code_name!r}")
        try:
            code = category(code)
        except MedsynError as err:
            raise MedsynError(f"{source}: row {row}: {err}") from None
        shown = text_view(str(text or ""), view, max_chars).strip()
        if shown:
            notes.append(Note(shown, code, f"{name}:{row_id}", str(text)))
    if not notes:
        raise MedsynError(f"{source}: no note has text in column {text_name!r}")
    return notes


def _close(a: int, b: int, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(a, b)


def _match(real: list[int], synthetic: list[int], rl: np.ndarray, sl: np.ndarray, tolerance: float):
    """Greedy length matching: each real note (in the given order) takes the unused synthetic note closest in length
    within the tolerance. Returns (pairs, unused real, unused synthetic)."""
    free = list(synthetic)
    pairs, unused = [], []
    for r in real:
        if free:
            best = min(range(len(free)), key=lambda j: abs(int(sl[free[j]]) - int(rl[r])))
            if _close(int(rl[r]), int(sl[free[best]]), tolerance):
                pairs.append((r, free.pop(best)))
                continue
        unused.append(r)
    return pairs, unused, free


def pair_notes(
    real: list[Note], synthetic: list[Note], n_pairs: int, *, seed: int = 0, tolerance: float = LENGTH_TOLERANCE
) -> list[tuple[int, int, bool]]:
    """``n_pairs`` (real index, synthetic index, same category) pairs, same-category pairs first (see the module)."""
    rng = np.random.default_rng(seed)
    rl = np.array([len(n.text) for n in real])
    sl = np.array([len(n.text) for n in synthetic])
    by_code_real, by_code_synthetic = defaultdict(list), defaultdict(list)
    for i in rng.permutation(len(real)):
        by_code_real[real[i].code].append(int(i))
    for i in rng.permutation(len(synthetic)):
        by_code_synthetic[synthetic[i].code].append(int(i))
    shared = sorted(set(by_code_real) & set(by_code_synthetic))
    per_code, left_real, left_synthetic = {}, [], []
    for code in shared:
        per_code[code], unused_r, unused_s = _match(by_code_real[code], by_code_synthetic[code], rl, sl, tolerance)
        left_real += unused_r
        left_synthetic += unused_s
    for code in set(by_code_real) - set(shared):
        left_real += by_code_real[code]
    for code in set(by_code_synthetic) - set(shared):
        left_synthetic += by_code_synthetic[code]
    pairs = []
    order = [shared[i] for i in rng.permutation(len(shared))]
    while len(pairs) < n_pairs and any(per_code[c] for c in order):
        for code in order:
            if per_code[code] and len(pairs) < n_pairs:
                pairs.append((*per_code[code].pop(0), True))
    for code in order:  # same-category pairs not taken go back to the pool of cross-category ones
        left_real += [r for r, _ in per_code[code]]
        left_synthetic += [s for _, s in per_code[code]]
    if len(pairs) < n_pairs:
        left_real = [left_real[i] for i in rng.permutation(len(left_real))]
        cross, _, _ = _match(left_real, left_synthetic, rl, sl, tolerance)
        pairs += [(r, s, False) for r, s in cross[: n_pairs - len(pairs)]]
    if len(pairs) < n_pairs:
        raise MedsynError(
            f"only {len(pairs)} real/synthetic pairs have lengths within {tolerance:g} of each other "
            f"(asked for {n_pairs}); ask for --n {2 * len(pairs)} or less, or raise --length-tolerance"
        )
    return pairs


def _has_answers(folder: Path) -> bool:
    answers = folder / ANSWERS_DIR
    return answers.is_dir() and any(f.stat().st_size for f in answers.glob("*.jsonl"))


def prepare(
    real: str,
    synthetic: str,
    n: int,
    out: str,
    *,
    seed: int = 0,
    view: str = DEFAULT_VIEW,
    max_chars: int = MAX_CHARS,
    tolerance: float = LENGTH_TOLERANCE,
    real_split: str | None = None,
    synthetic_split: str | None = None,
    real_text_column: str | None = None,
    real_code_column: str | None = None,
    synthetic_text_column: str | None = None,
    synthetic_code_column: str | None = None,
    overwrite: bool = False,
    trust_synthetic: bool = False,
) -> dict:
    """Write the assessment folder ``out`` (items, key, an empty answers folder); returns a summary without the key."""
    if view not in VIEWS:
        raise MedsynError(f"unknown view {view!r}; allowed: {', '.join(VIEWS)}")
    if not isinstance(n, int) or n < 2 or n % 2:
        raise MedsynError(f"--n must be an even number of items, at least 2 (half real, half synthetic), got {n}")
    if not 0 <= tolerance <= 1:
        raise MedsynError(f"--length-tolerance must be between 0 and 1 (a share of the longer text), got {tolerance}")
    if max_chars < 0:
        raise MedsynError(f"--max-chars must be 0 (no cap) or more, got {max_chars}")
    if Path(out).is_dir() and _has_answers(Path(out)) and not overwrite:
        raise MedsynError(
            f"{out}: holds annotators' answers ({ANSWERS_DIR}/); choose a new folder or pass "
            "--overwrite to discard them"
        )
    check_output(out, command=COMMAND, inputs=[real, synthetic], overwrite=overwrite)  # fail before the work
    real_notes = notes_in_view(
        real,
        split=real_split,
        text_column=real_text_column,
        code_column=real_code_column,
        view=view,
        max_chars=max_chars,
    )
    synthetic_notes = notes_in_view(
        synthetic,
        split=synthetic_split,
        text_column=synthetic_text_column,
        code_column=synthetic_code_column,
        view=view,
        max_chars=max_chars,
        generated=not trust_synthetic,
    )
    shared = side_problems(real, synthetic, [n.full for n in real_notes], [n.full for n in synthetic_notes], 0.0)
    refuse(shared, "a blind study needs real and synthetic notes that differ; remove the shared ones from a side")
    pairs = pair_notes(real_notes, synthetic_notes, n // 2, seed=seed, tolerance=tolerance)
    rng = np.random.default_rng([seed, 1])
    kg = load_graph()
    items, key = [], []
    for number, (r, s, same) in enumerate(pairs):
        for origin, note in (("real", real_notes[r]), ("synthetic", synthetic_notes[s])):
            items.append(
                {
                    "text": note.text,
                    "code": note.code,
                    "code_name": kg.code(note.code)["name_ru"] if kg.has_code(note.code) else "",
                }
            )
            key.append(
                {
                    "origin": origin,
                    "source_id": note.source_id,
                    "pair": number,
                    "same_code": same,
                    "n_chars": len(note.text),
                }
            )
    order = rng.permutation(len(items))
    ids = [f"item-{int(token):08x}" for token in rng.choice(16**8, size=len(items), replace=False)]
    items = [{"item_id": ids[k], **items[i]} for k, i in enumerate(order)]
    key = [{"item_id": ids[k], **key[i]} for k, i in enumerate(order)]
    summary = {
        "items": len(items),
        "pairs": len(pairs),
        "same_code_pairs": sum(same for _, _, same in pairs),
        "codes": len({item["code"] for item in items}),
        "view": view,
        "max_chars": max_chars,
        "length_tolerance": tolerance,
    }
    settings = {
        **summary,
        "real": str(real),
        "synthetic": str(synthetic),
        "seed": seed,
        "real_notes": len(real_notes),
        "synthetic_notes": len(synthetic_notes),
    }
    with safe_output(out, command=COMMAND, inputs=[real, synthetic], overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        (tmp / KEY_DIR).mkdir()
        (tmp / ANSWERS_DIR).mkdir()
        _write_jsonl(tmp / ITEMS, items)
        _write_jsonl(tmp / KEY, key)
        (tmp / KEY_DIR / "settings.json").write_text(
            json.dumps(settings, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return {"out": str(out), **summary}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
