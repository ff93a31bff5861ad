"""Reading datasets: the one loader every command that reads a dataset goes through, and the columns by role.

A source is a local folder (``save_to_disk`` or Hub layout, the latter with its configs), a ``.parquet`` /
``.jsonl`` / ``.json`` (optionally ``.gz``) file, or a Hub dataset id. Whatever goes wrong (missing path, offline
Hub, unknown config or split, unreadable file, no rows) is one ``MedsynError`` line that names the source: the
commands used to translate ``datasets``' many exception types each their own way.

Notes datasets (:func:`read_notes`) are also a `medsyn generate` run folder, and their kept notes are read (rows the
filters dropped, ``keep`` false, apart); their columns are found by role (:func:`role_column`: the text, the ICD-10
code, the example note), in one order of preference (ROLE_COLUMNS: our schemas' names, ``schemas.COLUMN_ROLES``, then
the other datasets'), so that every command picks the same column of the same dataset.

It is its own module rather than part of ``medsyn_hf.hub``: ``hub`` writes and pushes Hub folders, this reads any
source; the two share no code and most readers never write.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.schemas import COLUMN_ROLES
from medsyn_hf.textfile import check_utf8, is_text_file
from medsyn_hf.validate import is_hub_id

FILE_SUFFIXES = (".parquet", ".jsonl", ".json", ".jsonl.gz", ".json.gz")


def _missing(source: str, why: str) -> MedsynError:
    return MedsynError(f"{source} is neither a local folder nor a reachable Hub dataset ({why})")


def _unreadable(source: str, config: str | None, why: str) -> MedsynError:
    where = f" (config {config!r})" if config else ""
    return MedsynError(f"cannot load dataset {source}{where}: cannot read it as a dataset ({why})")


def _read_file(path: Path):
    if path.suffix == ".parquet":  # read directly: the parquet builder rejects a file with no rows
        return datasets.Dataset(datasets.table.InMemoryTable(pq.read_table(path, memory_map=True)))
    if path.name.endswith(FILE_SUFFIXES):
        return datasets.Dataset.from_json(str(path))
    raise MedsynError(f"{path}: not a dataset folder, .parquet or .jsonl(.gz) file")


def _cache_dir(folder: Path) -> str:
    """A cache folder for this version of a local Hub-layout folder's files. datasets (5.2) keys its cache of such a
    folder by the folder's name and card only: a rebuilt folder, or another folder of the same name, would load the
    rows cached the first time."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return str(Path(datasets.config.HF_DATASETS_CACHE) / "medsyn_local" / digest.hexdigest()[:16])


def _check_text_files(path: Path) -> None:
    """Decode every text file datasets will read from ``path`` first (``medsyn_hf.textfile``): pyarrow's JSON
    reader does not check UTF-8, so a stray byte would only fail when a column is read, as a traceback."""
    if path.is_file():
        files = [path] if is_text_file(path) else []
    else:  # not hidden ones (datasets skips them; our output marker is one)
        files = [p for p in sorted(path.rglob("*")) if is_text_file(p) and p.is_file()]
        files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(path).parts)]
    for file in files:
        if not check_utf8(file) and file == path:
            raise MedsynError(f"{path}: the dataset has no rows (the file is empty or blank)")


def _read_local(path: Path, config: str | None):
    _check_text_files(path)

    if path.is_dir() and any((path / name).exists() for name in ("state.json", "dataset_dict.json")):
        if config:
            raise MedsynError(f"{path}: a save_to_disk folder has no configs (got config {config!r})")
        return datasets.load_from_disk(str(path))
    if path.is_dir():
        return datasets.load_dataset(str(path), config, cache_dir=_cache_dir(path))
    if config:
        raise MedsynError(f"{path}: a single file has no configs (got config {config!r})")
    return _read_file(path)


def read_dataset(source: str | os.PathLike, config: str | None = None):
    """Every split of ``source``: a ``DatasetDict`` (a folder or a Hub id) or a ``Dataset`` (a single file).

    ``config`` picks a config of a Hub-layout folder or Hub dataset (None: its default)."""
    text = str(source)
    if not text.strip():
        raise MedsynError("no dataset given: name a folder, a .parquet / .jsonl file or a Hub dataset id")
    path = Path(text)
    if not path.exists() and (not is_hub_id(text) or text.endswith(FILE_SUFFIXES)):
        raise _missing(text, "no such file or folder")
    try:
        if path.exists():
            return _read_local(path, config)
        return datasets.load_dataset(text, config)
    except MedsynError:
        raise
    except StopIteration:  # datasets' JSON builder on a file without a single line
        raise MedsynError(f"{text}: the dataset has no rows") from None
    except Exception as err:  # datasets raises many types (FileNotFoundError, ValueError, DatasetNotFoundError, ...)
        if not path.exists():
            offline = datasets.config.HF_HUB_OFFLINE
            raise _missing(text, "HF_HUB_OFFLINE is set" if offline else first_line(err)) from None
        configs = _configs(path) if config and path.is_dir() else None
        if configs and config not in configs:
            raise MedsynError(
                f"cannot load dataset {text}: no config {config!r} (configs: {', '.join(configs)})"
            ) from None
        raise _unreadable(text, config, first_line(err)) from None


def _configs(path: Path) -> list[str] | None:
    """The config names of a Hub-layout folder, None if they cannot be read."""
    try:
        return datasets.get_dataset_config_names(str(path))
    except Exception:  # the folder's card or data files are what failed in the first place
        return None


def load_dataset(source: str | os.PathLike, split: str | None = None, config: str | None = None):
    """One non-empty split of ``source`` as a ``Dataset``: ``split``, else ``train``, else the only one (a single
    file has one, whatever ``split`` says)."""
    data = read_dataset(source, config)
    if isinstance(data, datasets.DatasetDict):
        if split is None and len(data) != 1 and "train" not in data:
            raise MedsynError(f"{source}: several splits ({', '.join(data)}); choose one with --split")
        split = split or ("train" if "train" in data else next(iter(data)))
        if split not in data:
            raise MedsynError(f"{source}: no split {split!r} (have {', '.join(data)})")
        data = data[split]
    if len(data) == 0:
        raise MedsynError(f"{source}: the dataset has no rows")
    return data


def pick_column(
    data,
    wanted: str | None,
    candidates: Sequence[str],
    what: str,
    source,
    *,
    flag: str,
    strings: bool = False,
    required: bool = True,
) -> str | None:
    """The column to read: ``wanted`` (it must exist), else the first of ``candidates`` the dataset has (holding
    strings when ``strings``), else an error that names ``flag`` (how to name the column), or None if not
    ``required``."""
    names = data.column_names
    if wanted:
        if wanted not in names:
            raise MedsynError(f"{source}: no column {wanted!r} (columns: {', '.join(names)})")
        return wanted
    for name in candidates:
        kind = getattr(data.features.get(name), "dtype", None)
        if name in names and (not strings or kind in ("string", "large_string")):
            return name
    if not required:
        return None
    raise MedsynError(
        f"{source}: no {what} column ({' or '.join(candidates)}; columns: {', '.join(names)}); name it with {flag}"
    )


# -- notes datasets: the columns by role ------------------------------------------------------------------------------
# A role's columns in order of preference: ours first (schemas.COLUMN_ROLES: notes, instruction data, priors), then
# the others'. A note's text is not one of our schemas' roles (ours is `response`): the MedSyn GPT notes' `text`,
# then RuMedTop3's complaints (`symptoms`). Every role's column holds strings, as in the schemas.
ROLE_COLUMNS = {
    "text": ("response", "text", "symptoms"),
    **{role: tuple(column for column, _ in columns) for role, columns in COLUMN_ROLES.items()},
}
TEXT_COLUMNS = ROLE_COLUMNS["text"]
CODE_COLUMNS = ROLE_COLUMNS["code"]  # ("ICD-10", "icd10", "code")
ROLE_NAMES = {"text": "text", "code": "ICD-10 code", "example_text": "example note"}  # in messages
RUN_FILES = ("notes.parquet", "config.json")  # what a `medsyn generate` run folder holds
_ICD10 = re.compile(r"[A-Z]\d\d(\.\w+)?")


def role_column(
    data,
    role: str,
    wanted: str | None,
    source,
    *,
    flag: str,
    required: bool = True,
    candidates: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> str | None:
    """The column of ``data`` that plays ``role`` (a key of ROLE_COLUMNS): ``wanted`` (it must exist), else the first
    of ``candidates`` (default: the role's columns) that holds strings and is not in ``exclude``; else an error naming
    ``flag``, or None if not ``required``."""
    candidates = [c for c in (ROLE_COLUMNS[role] if candidates is None else candidates) if c not in exclude]
    return pick_column(data, wanted, candidates, ROLE_NAMES[role], source, flag=flag, strings=True, required=required)


def category(code) -> str:
    """The 3-character ICD-10 category of a code or subcode (J06.0 -> J06), the level RuMedTop3 labels notes at."""
    text = str(code).strip().upper()
    if not _ICD10.fullmatch(text):
        raise MedsynError(f"{code!r} is not an ICD-10 code (expected e.g. J06 or J06.0)")
    return text[:3]


def is_run_folder(path: str | os.PathLike) -> bool:
    """A `medsyn generate` run folder (its notes are ``notes.parquet``, every generated note)."""
    return all((Path(path) / name).is_file() for name in RUN_FILES)


def read_notes(source: str | os.PathLike, split: str | None = None) -> tuple[datasets.Dataset, list | None]:
    """(kept, dropped) notes of a notes dataset: a `medsyn generate` run folder (its ``notes.parquet``), a published
    folder (split ``train``; its ``rejected`` split holds dropped notes), a file or a Hub id. Rows whose ``keep`` is
    false are notes the filters dropped: left out of ``kept``, they are in ``dropped``, a list of datasets (None when
    the dataset has no ``keep`` column: nothing was filtered), which the plan's counts need."""
    path = Path(source)
    run = is_run_folder(path)
    data = load_dataset(str(path / RUN_FILES[0]) if run else source, None if run else split)
    if "keep" not in data.column_names:
        return data, None
    parts = [data.filter(lambda keep: not keep, input_columns="keep")]
    if not run and split in (None, "train") and path.is_dir():
        try:
            parts.append(load_dataset(source, "rejected"))
        except MedsynError:  # every note was kept
            pass
    kept = data.filter(lambda keep: bool(keep), input_columns="keep")
    if not len(kept):
        raise MedsynError(f"{source}: no note passed the filters (every `keep` is false)")
    return kept, parts


def load_labelled_notes(
    source: str | os.PathLike,
    text_column: str | None = None,
    code_column: str | Sequence[str] | None = None,
    split: str | None = None,
    *,
    flags: tuple[str, str] = ("--text-column", "--code-column"),
) -> tuple[list[str], list[str]]:
    """(texts, codes) of a notes dataset's kept notes (:func:`read_notes`) — RuMedTop3's JSON lines, a user's own file
    with text and code columns, parquet, a folder, a run folder or a Hub id: ``text_column``, else the text role's
    column; ``code_column`` (or the first it has of a list of them), else the code role's. Codes are stripped and
    upper-cased, nothing else: what they mean is the caller's business. A row without a text or a code is an error
    naming it, never a silent drop; ``flags`` name the options that pick the columns in messages."""
    data, _ = read_notes(source, split)
    candidates = None if code_column is None or isinstance(code_column, str) else tuple(code_column)
    wanted = code_column if isinstance(code_column, str) else None
    text = role_column(data, "text", text_column, source, flag=flags[0])
    code = role_column(data, "code", wanted, source, flag=flags[1], candidates=candidates)
    texts, codes = data[text], data[code]
    for name, values in ((code, codes), (text, texts)):
        missing = [i for i, value in enumerate(values) if value is None or not str(value).strip()]
        if missing:
            raise MedsynError(
                f"{source}: {len(missing)} of {len(values)} rows have no {name!r} (first: row {missing[0]})"
            )
    return [str(t) for t in texts], [str(c).strip().upper() for c in codes]
