"""An assessment folder, the files `medsyn assess prepare` writes and everything else reads: the public items
(``items.jsonl``: item id, text, code, code name), the key (``key/``: which item is real or synthetic and where it came
from; only `medsyn assess score` reads it) and the annotators' answers (``answers/<annotator>.jsonl``).

It lies below both `medsyn assess` (prepare, the Space's Assess tab, score) and `medsyn eval judge` (which judges the
items and compares its scores with the answers): the folder's format is shared, the two commands are not.

Answers: one append-only JSON-lines file per annotator. An answer is stored before the Space shows the next item, as
one line written with a single ``write`` and ``fsync``'d, under an exclusive lock of the file (several server
processes or threads may write) — so a crash or a restart loses no answer that was acknowledged, and at worst leaves a
partial last line, which is cut off before the next append and never read. An item answered twice keeps its first
answer (a double click or a resubmitted form after a restart does not duplicate it), and a returning annotator
continues at their first unanswered item.

Scoring reads the folder strictly (:func:`collect_answers`): every line of every file must be an answer — a bad line
anywhere but at the very end (where a crash leaves its partial line, counted in the report) is an error naming the
file and line, and so is a file that cannot be read. Who answered is taken from the rows, not from the file names, so
a copied or renamed file is merged with the original (the same answers counted once) or, if it answers differently,
refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.schemas import (
    ASSESS_ANSWER_FEATURES,
    ASSESS_ITEM_FEATURES,
    ASSESS_KEY_FEATURES,
    ASSESSMENT_CRITERIA,
    SCORE_RANGE,
)
from medsyn_hf.textfile import BOM, check_file, decode, json_lines

PREPARE = "medsyn assess prepare"  # the command that writes the folder
ITEMS = "items.jsonl"
KEY_DIR = "key"
KEY = "key/key.jsonl"
ANSWERS_DIR = "answers"
ORIGINS = ("real", "synthetic")

_NAME = re.compile(r"^[^\W_][\w.@-]{0,63}$")  # letters (Cyrillic too), digits, '.', '@', '-', '_'; a file name
_LOCK = threading.Lock()


# -- items and key ----------------------------------------------------------------------------------------------------
def is_assessment(path: str | Path) -> bool:
    """A folder of `medsyn assess prepare` (it has the public items)."""
    return Path(path).is_dir() and (Path(path) / ITEMS).is_file()


def load_items(folder: str | Path) -> list[dict]:
    """The public items of an assessment folder, in the order annotators see them; each line an item, each id once."""
    path = Path(folder) / ITEMS
    if not path.is_file():
        raise MedsynError(f"{folder}: no {ITEMS} (not a folder written by `{PREPARE}`)")
    items = _read_rows(path, ASSESS_ITEM_FEATURES, "an item")
    if not items:
        raise MedsynError(f"{path}: no items")
    return items


def load_key(folder: str | Path) -> dict[str, dict]:
    """item id -> key row (origin, source id, pair, same_code, n_chars); only `medsyn assess score` reads it.

    Checked before anything is scored: every line a key row with an origin, every item id once."""
    path = Path(folder) / KEY
    if not path.is_file():
        raise MedsynError(f"{folder}: no {KEY} (the key `{PREPARE}` wrote); it is needed to score")
    rows = _read_rows(path, ASSESS_KEY_FEATURES, "a key row")
    for row in rows:
        if row["origin"] not in ORIGINS:
            raise MedsynError(f"{path}: item {row['item_id']} has origin {row['origin']!r}; allowed: {ORIGINS}")
    return {row["item_id"]: row for row in rows}


def _read_rows(path: Path, features, what: str) -> list[dict]:
    """The rows of items.jsonl or the key: each line exactly ``features``' fields, strings where they are strings,
    each ``item_id`` once."""
    rows, seen = [], {}
    for number, row in json_lines(path):
        if set(row) != set(features):
            raise MedsynError(f"{path}:{number}: not {what} (needs the fields {', '.join(features)})")
        wrong = [k for k, f in features.items() if getattr(f, "dtype", "") == "string" and not isinstance(row[k], str)]
        if wrong:
            raise MedsynError(f"{path}:{number}: field {wrong[0]} is not a string")
        if row["item_id"] in seen:
            raise MedsynError(f"{path}:{number}: item {row['item_id']} again (first on line {seen[row['item_id']]})")
        seen[row["item_id"]] = number
        rows.append(row)
    return rows


# -- answers ----------------------------------------------------------------------------------------------------------
def annotator_name(value) -> str:
    """The annotator's name as typed (or their Hub username), checked: it names their answers file."""
    name = (value or "").strip() if isinstance(value, (str, type(None))) else value
    if not isinstance(name, str) or not _NAME.match(name):
        raise MedsynError(
            "annotator name must be 1-64 letters, digits, '.', '@', '-' or '_', starting with a letter "
            "or digit (no spaces)"
        )
    return name


def check_answer(item_id: str, origin, scores: dict, item_ids) -> dict:
    """An answer's fields, checked: a known item (any string when ``item_ids`` is None), 'real' or 'synthetic', an
    integer score in range per criterion."""
    if not isinstance(item_id, str) or (item_ids is not None and item_id not in item_ids):
        raise MedsynError(f"unknown item {item_id!r}")
    if origin not in ORIGINS:
        raise MedsynError(f"answer real or synthetic (got {origin!r})")
    lo, hi = SCORE_RANGE
    checked = {}
    for criterion in ASSESSMENT_CRITERIA:
        value = scores.get(criterion)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise MedsynError(f"give {criterion} a score from {lo} to {hi}") from None
        if isinstance(value, bool) or not number.is_integer() or not lo <= number <= hi:
            raise MedsynError(f"{criterion} must be a whole number from {lo} to {hi}, got {value!r}")
        checked[criterion] = int(number)
    return {"item_id": item_id, "origin": origin, **checked}


class AnswerStore:
    """The ``answers/`` folder of an assessment; ``lock`` (a CommitScheduler's) is held while a file is written."""

    def __init__(self, folder: str | Path, lock=None):
        self.folder = Path(folder) / ANSWERS_DIR
        self.lock = lock or _LOCK

    def path(self, annotator: str) -> Path:
        return self.folder / f"{annotator_name(annotator)}.jsonl"

    def read(self, annotator: str) -> list[dict]:
        """The annotator's answers in the order given, the first per item; a partial last line is ignored."""
        return first_answers(read_lines(self.path(annotator)))

    def annotators(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.jsonl") if _NAME.match(p.stem))

    def append(self, annotator: str, answer: dict) -> bool:
        """Store ``answer`` (from :func:`check_answer`) durably; False when the item was already answered."""
        path = self.path(annotator)
        values = {
            **answer,
            "annotator": annotator,
            "answered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        row = {column: values[column] for column in ASSESS_ANSWER_FEATURES}
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        try:  # made by the first answer, not by readers (`assess score`, `eval judge` only read the folder)
            self.folder.mkdir(exist_ok=True)
        except OSError as err:
            raise MedsynError(f"{self.folder}: cannot create the answers folder ({err.strerror or err})") from None
        with self.lock, _locked(path) as fd:
            if any(a["item_id"] == row["item_id"] for a in read_lines(path)):
                return False
            _cut_partial_line(fd)
            os.write(fd, line)
            os.fsync(fd)
        return True

    def all(self) -> list[dict]:
        """Every annotator's answers (first per item), read strictly (:func:`collect_answers`)."""
        return [a for rows in collect_answers(self.folder)[0].values() for a in rows]


@contextlib.contextmanager
def _locked(path: Path):
    new = not path.exists()
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as err:
        raise MedsynError(f"{path}: cannot write the answer ({err.strerror or err})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if new:  # the new file's name must survive a crash too
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _cut_partial_line(fd: int) -> None:
    """Drop an unterminated last line (a write cut short by a crash) so the next line starts clean."""
    size = os.lseek(fd, 0, os.SEEK_END)
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - (1 << 16))
    tail = os.pread(fd, size - start, start)
    os.ftruncate(fd, start + tail.rfind(b"\n") + 1 if b"\n" in tail else start)


def read_lines(path: Path) -> list[dict]:
    """Complete, well-formed answer lines of a file (none if it does not exist)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise MedsynError(f"{path}: unreadable ({err.strerror or err})") from None
    rows = []
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is a partial line, if anything
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and set(row) == set(ASSESS_ANSWER_FEATURES):
            rows.append(row)
    return rows


def _answer(path: Path, number: int, raw: bytes, offset: int) -> dict | None:
    """The answer on line ``number`` of ``path`` (``raw``, at byte ``offset``), checked; None for a blank line."""
    text = decode(raw, path, offset, number).removeprefix(BOM if number == 1 else "")
    if not text.strip():
        return None
    try:
        row = json.loads(text)
    except ValueError as err:
        raise MedsynError(f"{path}:{number}: invalid JSON ({first_line(err)})") from None
    if not isinstance(row, dict) or set(row) != set(ASSESS_ANSWER_FEATURES):
        raise MedsynError(f"{path}:{number}: not an answer (needs the fields {', '.join(ASSESS_ANSWER_FEATURES)})")
    try:
        checked = check_answer(row["item_id"], row["origin"], row, None)
        annotator = annotator_name(row["annotator"])
    except MedsynError as err:
        raise MedsynError(f"{path}:{number}: {err}") from None
    return {**row, **checked, "annotator": annotator}


def read_answers(path: Path) -> tuple[list[dict], bool]:
    """(every answer of one file, in order; whether a partial last line was left out). Only the part after the last
    newline may be broken — a write a crash cut short; any other bad line is an error naming the file and line."""
    path = check_file(path, "answers file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MedsynError(f"{path}: unreadable ({err.strerror or err})") from None
    *lines, tail = data.split(b"\n")
    rows, offset = [], 0
    for number, raw in enumerate(lines, 1):
        rows.append(_answer(path, number, raw, offset))
        offset += len(raw) + 1
    partial = False
    if tail.strip():
        try:  # a complete answer whose newline was lost still counts
            rows.append(_answer(path, len(lines) + 1, tail, offset))
        except MedsynError:
            if not _torn(tail):
                raise
            partial = True
    return [row for row in rows if row is not None], partial


_ANSWER_START = json.dumps({next(iter(ASSESS_ANSWER_FEATURES)): ""})[:-2].encode()  # b'{"item_id": "'


def _torn(tail: bytes) -> bool:
    """Is ``tail`` what a write cut short leaves: the start of an answer line (a character cut at its very end)?"""
    try:
        tail.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(tail) - 3:
            return False
    return tail.startswith(_ANSWER_START)


def collect_answers(folder: Path) -> tuple[dict[str, list[dict]], dict]:
    """({annotator: their answers, first per item}, what was read: per file its answers and annotators, partial
    last lines left out, duplicate answers merged) of an ``answers/`` folder.

    The annotator is the one named in each row; the same annotator in several files (a copy, a renamed file) is
    merged: an item answered the same way twice counts once, answered differently is an error naming both files."""
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*.jsonl") if not p.name.startswith(".")) if folder.is_dir() else []
    answers: dict[str, dict[str, tuple[dict, Path]]] = {}
    read = {"files": {}, "partial_last_lines": 0, "duplicates_merged": 0}
    for path in files:
        rows, partial = read_answers(path)
        read["files"][path.name] = {"answers": len(rows), "annotators": sorted({r["annotator"] for r in rows})}
        read["partial_last_lines"] += partial
        seen_here = set()
        for row in rows:
            mine = answers.setdefault(row["annotator"], {})
            key = (row["annotator"], row["item_id"])
            if key in seen_here:  # answered twice in one file: the first answer stands (AnswerStore.append)
                continue
            seen_here.add(key)
            if row["item_id"] in mine:
                first, where = mine[row["item_id"]]
                if _scores(first) != _scores(row):
                    raise MedsynError(
                        f"{where} and {path}: annotator {row['annotator']!r} answers item {row['item_id']} "
                        "differently; keep one of the files (an annotator's answers are counted once)"
                    )
                read["duplicates_merged"] += 1
                continue
            mine[row["item_id"]] = (row, path)
    by_annotator = {name: [row for row, _ in given.values()] for name, given in sorted(answers.items()) if given}
    return by_annotator, read


def _scores(row: dict) -> tuple:
    return (row["origin"], *(row[c] for c in ASSESSMENT_CRITERIA))


def first_answers(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for row in rows:
        if row["item_id"] not in seen:
            seen.add(row["item_id"])
            out.append(row)
    return out


def next_item(items: list[dict], answered: list[dict]) -> int | None:
    """Index of the first item the annotator has not answered (items are seen in file order), or None when done."""
    done = {a["item_id"] for a in answered}
    return next((i for i, item in enumerate(items) if item["item_id"] not in done), None)
