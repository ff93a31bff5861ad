"""Parsers for the public source files (see data/sources/SOURCES.md). Each returns plain records and names the
file and line of anything it cannot read, so a bad source never turns into a silently wrong graph.

Sources are checked as data, not only as files: bytes are decoded strictly (``medsyn_hf.textfile``), a file needs
its columns and at least one row after the header (a header-only file is refused), quoting must close (a file cut
in a quoted cell is refused), cells that hold numbers or lists must parse, and the column that holds each row's key
(an ICD-10 code, a MeSH id) must mostly look like one — a file whose columns are shifted is refused, naming it.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.textfile import check_file, json_lines, open_text, read_json

# Where each source lives below the sources folder (the layout of data/sources and ../shared/data).
ICD_TREE = "icd10_ru/mkb10_nsi_v2.27.csv"
MAIN_PROC = "medsyn_kg/main_proc.csv"
ICD_SYMP_RU = "medsyn_kg/icd_symp_ru.csv"
HSDN = "medsyn_kg/symptoms-DO.tsv"
MESH_ICD10_CSV = "medsyn_kg/MESH_ICD10_Mapping.csv"
MESH_ICD10_TXT = "medsyn_kg/mesh2icd10.txt"
SYMPTOMS_EN_RU = "medsyn_kg/symptoms_eng_ru.csv"
GENDER_SPLIT = "medsyn_kg/icd_gender_split.json"
GPT_NOTES = "medsyn_gpt_notes/notes.jsonl.gz"
RUMEDTOP3_TRAIN = "rumedtop3/train_v1.jsonl"

ALL_SOURCES = (
    ICD_TREE,
    MAIN_PROC,
    ICD_SYMP_RU,
    HSDN,
    MESH_ICD10_CSV,
    MESH_ICD10_TXT,
    SYMPTOMS_EN_RU,
    GENDER_SPLIT,
    GPT_NOTES,
    RUMEDTOP3_TRAIN,
)

# What a key column's values look like: an ICD-10(-CM) code or subcode, a range (A00-A09) or chapter (XI) in the
# tree, a MeSH id. Real files have a few odd values (empty codes, ranges in the MeSH mapping: ~2 %), so a column is
# refused only when fewer than KEY_SHARE of its non-empty values look right: then the columns are shifted.
ICD_CODE = re.compile(r"[A-Z]\d\d(\.\w*)?")
ICD_TREE_CODE = re.compile(r"[A-Z]\d\d(\.\w+)?(-[A-Z]\d\d(\.\w+)?)?|[IVXL]+")
MESH_ID = re.compile(r"D\d+")
KEY_SHARE = 0.9


def _open(path: Path):
    return open_text(check_file(path, "source file"))


def check_keys(path: Path, values: list[str], column: str, pattern: re.Pattern, what: str) -> None:
    """Refuse a source whose key column mostly does not hold keys (its columns are shifted or mislabelled)."""
    given = [v.strip() for v in values if v and v.strip()]
    good = sum(bool(pattern.fullmatch(v)) for v in given)
    if given and good < KEY_SHARE * len(given):
        bad = next(v for v in given if not pattern.fullmatch(v))
        raise MedsynError(
            f"{path}: only {good} of {len(given)} values of column {column} are {what} (e.g. {bad[:40]!r}); "
            "are its columns shifted?"
        )


def csv_rows(
    path: Path, required: list[str], delimiter: str = ",", key: tuple[str, re.Pattern, str] | None = None
) -> list[tuple[int, dict]]:
    """(line, row) pairs; a missing column, a short or long row, an unclosed quote, a file without rows or (``key``:
    column, pattern, what it holds) a key column that mostly does not match is an error naming the file."""
    reader = csv.DictReader(_open(path), delimiter=delimiter, strict=True)
    try:
        if not reader.fieldnames:
            raise MedsynError(f"{path}: empty file (no header row; the MKG needs this source's rows)")
        missing = [c for c in required if c not in reader.fieldnames]
        if missing:
            shown = delimiter.join(reader.fieldnames)[:80]
            raise MedsynError(
                f"{path}:1: missing column(s) {', '.join(missing)} (header: {shown!r}; "
                f"columns separated by {delimiter!r})"
            )
        rows = []
        for row in reader:
            if None in row or any(row[c] is None for c in required):
                raise MedsynError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames)} fields")
            rows.append((reader.line_num, row))
    except csv.Error as err:
        raise MedsynError(f"{path}:{reader.line_num}: malformed CSV ({err}); is the file cut short?") from None
    if not rows:
        raise MedsynError(f"{path}: no rows after the header (the MKG needs this source's rows)")
    if key:
        check_keys(path, [row[key[0]] for _, row in rows], *key)
    return rows


def _literal_list(value: str, path: Path, line: int, kind: type | tuple = str) -> list:
    """A list-valued cell (a Python literal) whose items are all ``kind``."""
    if not value.strip():
        return []
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise MedsynError(f"{path}:{line}: not a Python list literal: {value[:60]!r}") from None
    if not isinstance(parsed, list):
        raise MedsynError(f"{path}:{line}: expected a list, got {type(parsed).__name__}")
    wrong = next((item for item in parsed if not isinstance(item, kind) or isinstance(item, bool)), None)
    if wrong is not None:
        raise MedsynError(f"{path}:{line}: a list item {wrong!r} is not {_KIND_NAMES.get(kind, kind)}")
    return parsed


_KIND_NAMES = {str: "a string", (int, float): "a number"}


def split_list(text: str) -> list[str]:
    """A free-text symptom list ('Боль в горле, Кашель; слабость.') as items."""
    return [s for s in (p.strip(" .\n\t") for p in text.replace(";", ",").split(",")) if s]


def read_icd_tree(path: Path) -> list[dict]:
    """Rows of the Russian ICD-10 directory with their parent's code; retired rows (ACTUAL=0) are kept, flagged."""
    columns = ["ID", "MKB_CODE", "MKB_NAME", "ID_PARENT", "ACTUAL"]
    rows = csv_rows(path, columns, delimiter=";", key=("MKB_CODE", ICD_TREE_CODE, "ICD-10 codes"))
    by_id = {row["ID"]: row for _, row in rows}
    out = []
    for line, row in rows:
        code, parent = row["MKB_CODE"].strip(), row["ID_PARENT"].strip()
        if not code or not row["MKB_NAME"].strip():
            raise MedsynError(f"{path}:{line}: empty MKB_CODE or MKB_NAME")
        if parent and parent not in by_id:
            raise MedsynError(f"{path}:{line}: ID_PARENT {parent} does not exist")
        out.append(
            {
                "code": code,
                "name": row["MKB_NAME"].strip(),
                "parent": by_id[parent]["MKB_CODE"].strip() if parent else None,
                "actual": row["ACTUAL"].strip() != "0",
            }
        )
    return out


def read_main_proc(path: Path) -> list[dict]:
    """MedSyn's disease table: Russian symptoms with HSDN TF-IDF weights, unweighted lists, names, sex."""
    out = []
    cols = [
        "icd_10",
        "Name",
        "names_ru",
        "gender",
        "symptoms_ru",
        "sympotoms_tf_idfs",
        "symptoms_ru_no_stat",
        "descriptions_ru",
    ]
    for line, row in csv_rows(path, cols, key=("icd_10", ICD_CODE, "ICD-10 codes")):
        ru = _literal_list(row["symptoms_ru"], path, line)
        weights = _literal_list(row["sympotoms_tf_idfs"], path, line, (int, float))
        if ru and len(ru) != len(weights):
            raise MedsynError(f"{path}:{line}: {len(ru)} symptoms_ru but {len(weights)} sympotoms_tf_idfs")
        descriptions = _literal_list(row["descriptions_ru"], path, line)
        out.append(
            {
                "code": row["icd_10"].strip(),
                "name_en": row["Name"].strip(),
                "name_ru": row["names_ru"].strip(),
                "sex": row["gender"].strip() if row["gender"].strip() in ("male", "female") else None,
                "weighted": [(s.split(",")[0], float(w)) for s, w in zip(ru, weights)],
                "unweighted": split_list(row["symptoms_ru_no_stat"]),
                "description": descriptions[0].strip() if descriptions else "",
            }
        )
    return out


def read_icd_symp_ru(path: Path) -> list[dict]:
    return [
        {
            "code": row["icd_10"].strip(),
            "name_en": row["Name"].strip(),
            "name_ru": row["names_ru"].strip(),
            "unweighted": split_list(row["symptoms_ru_no_stat"]),
        }
        for _, row in csv_rows(
            path, ["icd_10", "Name", "names_ru", "symptoms_ru_no_stat"], key=("icd_10", ICD_CODE, "ICD-10 codes")
        )
    ]


def read_hsdn(path: Path) -> list[dict]:
    """HSDN disease–symptom pairs keyed by MeSH ids, with their TF-IDF score."""
    out = []
    columns = ["symptom_name", "disease_id", "tfidf_score"]
    for line, row in csv_rows(path, columns, delimiter="\t", key=("disease_id", MESH_ID, "MeSH ids")):
        try:
            score = float(row["tfidf_score"])
        except ValueError:
            raise MedsynError(f"{path}:{line}: tfidf_score {row['tfidf_score']!r} is not a number") from None
        out.append({"mesh": row["disease_id"].strip(), "symptom_en": row["symptom_name"].strip(), "tfidf": score})
    return out


def read_mesh_icd10(csv_path: Path, txt_path: Path) -> dict[str, list[tuple[str, str]]]:
    """MeSH disease id -> [(ICD-10(-CM) code, English description)], both mapping files merged."""
    out: dict[str, list[tuple[str, str]]] = {}
    for _, row in csv_rows(csv_path, ["MESH_ID", "ICD10CM_CODE", "DRESCP"], key=("MESH_ID", MESH_ID, "MeSH ids")):
        out.setdefault(row["MESH_ID"].strip(), []).append((row["ICD10CM_CODE"].strip(), row["DRESCP"].strip()))
    mesh = []
    for line, text in enumerate(_open(txt_path).read().splitlines(), 1):
        if not text.strip():
            continue
        parts = [p.strip() for p in text.split(";", 2)]
        if len(parts) < 2:
            raise MedsynError(f"{txt_path}:{line}: expected 'MESH; CODE;DESCRIPTION'")
        mesh.append(parts[0])
        if parts[1]:
            out.setdefault(parts[0], []).append((parts[1], parts[2] if len(parts) > 2 else ""))
    if not mesh:
        raise MedsynError(f"{txt_path}: no rows (the MKG needs this source's rows)")
    check_keys(txt_path, mesh, "1", MESH_ID, "MeSH ids")
    return out


def read_symptom_translations(path: Path) -> dict[str, str]:
    rows = csv_rows(path, ["symp_eng", "symp_ru"])
    out = {row["symp_eng"].strip(): row["symp_ru"].strip() for _, row in rows}
    if not any(out.values()):
        raise MedsynError(f"{path}: no row has a Russian translation (column symp_ru)")
    return out


def read_gender_split(path: Path) -> dict[str, str]:
    """ICD code -> 'female'|'male' (WHO ICD-10 Vol. 2 lists, as MedSyn used them)."""
    data = read_json(check_file(path, "source file"))
    if not isinstance(data, dict):
        raise MedsynError(f"{path}:1: expected a JSON object of code lists, got {type(data).__name__}")
    out = {}
    for key, codes in data.items():
        sex = "female" if "female" in key else "male" if "male" in key else None
        if sex and isinstance(codes, list):
            if not all(isinstance(c, str) for c in codes):
                raise MedsynError(f"{path}: the list {key[:40]!r} holds a value that is not a code string")
            out.update({c.strip(): sex for c in codes})
    if not out:
        raise MedsynError(f"{path}:1: no 'female'/'male' code lists found")
    return out


def jsonl_records(path: Path, required: dict[str, type] | tuple[str, ...], code: str | None = None) -> list[dict]:
    """The records of a JSON-lines source; each needs the ``required`` fields with their types (a list: of strings;
    a tuple of names: any type), the file at least one record, and its ``code`` field (if named) mostly ICD-10
    codes."""
    if not isinstance(required, dict):
        required = dict.fromkeys(required, object)
    records = []
    for line, record in json_lines(check_file(path, "source file")):
        missing = [k for k in required if k not in record]
        if missing:
            raise MedsynError(f"{path}:{line}: missing field(s) {', '.join(missing)}")
        for name, kind in required.items():
            value = record[name]
            if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
                shown = "a list of strings" if kind is list else "a string"
                raise MedsynError(f"{path}:{line}: field {name} is not {shown} (got {json.dumps(value)[:40]})")
        records.append(record)
    if not records:
        raise MedsynError(f"{path}: no records (the MKG needs this source's rows)")
    if code:
        check_keys(path, [r[code] for r in records], code, ICD_CODE, "ICD-10 codes")
    return records


def read_gpt_notes(path: Path) -> list[dict]:
    """(code, symptom list) of each MedSyn GPT note: how often a symptom was prompted for a code."""
    return [
        {
            "code": r["icd10"].strip(),
            "name_ru": (r.get("disease_name_ru") or "").strip(),
            "symptoms": [s for s in r["symptoms"] if s.strip()],
        }
        for r in jsonl_records(path, {"icd10": str, "symptoms": list}, code="icd10")
    ]


def read_rumedtop3_train(path: Path) -> list[dict]:
    """Complaints of RuMedTop3 *train* with their category (evaluation splits never feed the graph)."""
    records = jsonl_records(path, {"code": str, "symptoms": str}, code="code")
    return [{"code": r["code"].strip(), "text": r["symptoms"]} for r in records]
