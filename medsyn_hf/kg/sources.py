"""Parsers for the public source files (see data/sources/SOURCES.md). Each returns plain records and names the
file and line of anything it cannot read, so a bad source never turns into a silently wrong graph."""

from __future__ import annotations

import ast
import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from medsyn_hf.errors import MedsynError

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


def _open(path: Path):
    if not path.is_file():
        raise MedsynError(f"{path}: source file not found")
    return (
        gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8", newline="")
    )


def csv_rows(path: Path, required: list[str], delimiter: str = ",") -> Iterator[tuple[int, dict]]:
    """(line, row) pairs; a missing column or a short row is an error naming the file and line."""
    with _open(path) as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MedsynError(f"{path}:1: missing column(s) {', '.join(missing)}")
        for row in reader:
            if None in row or any(row[c] is None for c in required):
                raise MedsynError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames)} fields")
            yield reader.line_num, row


def _literal_list(value: str, path: Path, line: int) -> list:
    if not value.strip():
        return []
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise MedsynError(f"{path}:{line}: not a Python list literal: {value[:60]!r}") from None
    if not isinstance(parsed, list):
        raise MedsynError(f"{path}:{line}: expected a list, got {type(parsed).__name__}")
    return parsed


def split_list(text: str) -> list[str]:
    """A free-text symptom list ('Боль в горле, Кашель; слабость.') as items."""
    return [s for s in (p.strip(" .\n\t") for p in text.replace(";", ",").split(",")) if s]


def read_icd_tree(path: Path) -> list[dict]:
    """Rows of the Russian ICD-10 directory with their parent's code; retired rows (ACTUAL=0) are kept, flagged."""
    rows = list(csv_rows(path, ["ID", "MKB_CODE", "MKB_NAME", "ID_PARENT", "ACTUAL"], delimiter=";"))
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
    for line, row in csv_rows(path, cols):
        ru = _literal_list(row["symptoms_ru"], path, line)
        weights = _literal_list(row["sympotoms_tf_idfs"], path, line)
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
        for _, row in csv_rows(path, ["icd_10", "Name", "names_ru", "symptoms_ru_no_stat"])
    ]


def read_hsdn(path: Path) -> list[dict]:
    """HSDN disease–symptom pairs keyed by MeSH ids, with their TF-IDF score."""
    out = []
    for line, row in csv_rows(path, ["symptom_name", "disease_id", "tfidf_score"], delimiter="\t"):
        try:
            score = float(row["tfidf_score"])
        except ValueError:
            raise MedsynError(f"{path}:{line}: tfidf_score {row['tfidf_score']!r} is not a number") from None
        out.append({"mesh": row["disease_id"].strip(), "symptom_en": row["symptom_name"].strip(), "tfidf": score})
    return out


def read_mesh_icd10(csv_path: Path, txt_path: Path) -> dict[str, list[tuple[str, str]]]:
    """MeSH disease id -> [(ICD-10(-CM) code, English description)], both mapping files merged."""
    out: dict[str, list[tuple[str, str]]] = {}
    for _, row in csv_rows(csv_path, ["MESH_ID", "ICD10CM_CODE", "DRESCP"]):
        out.setdefault(row["MESH_ID"].strip(), []).append((row["ICD10CM_CODE"].strip(), row["DRESCP"].strip()))
    with _open(txt_path) as f:
        for line, text in enumerate(f, 1):
            parts = [p.strip() for p in text.rstrip("\n").split(";", 2)]
            if len(parts) < 2:
                raise MedsynError(f"{txt_path}:{line}: expected 'MESH; CODE;DESCRIPTION'")
            if parts[1]:
                out.setdefault(parts[0], []).append((parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def read_symptom_translations(path: Path) -> dict[str, str]:
    return {row["symp_eng"].strip(): row["symp_ru"].strip() for _, row in csv_rows(path, ["symp_eng", "symp_ru"])}


def read_gender_split(path: Path) -> dict[str, str]:
    """ICD code -> 'female'|'male' (WHO ICD-10 Vol. 2 lists, as MedSyn used them)."""
    with _open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise MedsynError(f"{path}:{err.lineno}: {err.msg}") from None
    out = {}
    for key, codes in data.items():
        sex = "female" if "female" in key else "male" if "male" in key else None
        if sex and isinstance(codes, list):
            out.update({c.strip(): sex for c in codes})
    if not out:
        raise MedsynError(f"{path}:1: no 'female'/'male' code lists found")
    return out


def jsonl_records(path: Path, required: tuple[str, ...]) -> Iterator[dict]:
    with _open(path) as f:
        for line, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                raise MedsynError(f"{path}:{line}: invalid JSON ({err.msg})") from None
            missing = [k for k in required if k not in record]
            if missing:
                raise MedsynError(f"{path}:{line}: missing field(s) {', '.join(missing)}")
            yield record


def read_gpt_notes(path: Path) -> list[dict]:
    """(code, symptom list) of each MedSyn GPT note: how often a symptom was prompted for a code."""
    return [
        {
            "code": r["icd10"].strip(),
            "name_ru": (r.get("disease_name_ru") or "").strip(),
            "symptoms": [s for s in r["symptoms"] if s.strip()],
        }
        for r in jsonl_records(path, ("icd10", "symptoms"))
    ]


def read_rumedtop3_train(path: Path) -> list[dict]:
    """Complaints of RuMedTop3 *train* with their category (evaluation splits never feed the graph)."""
    return [{"code": r["code"].strip(), "text": r["symptoms"]} for r in jsonl_records(path, ("code", "symptoms"))]
