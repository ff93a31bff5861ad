"""An append-only cache of model requests, shared by `medsyn generate` (one file per shard in the run folder) and
`medsyn eval judge` (``cache_dir/requests.jsonl``).

Why: a request to a model costs seconds to minutes; a crash, ``kill -9`` or one request failing must not throw away
the replies already received. Each finished reply is appended as one JSON line keyed by a hash of everything that
decides it (the backend's identity: model and sampling settings; the messages; the seed), with one ``write`` of whole
lines and an ``fsync``; a re-run reads the file and sends only the requests whose key it lacks. A torn last line left
by a killed process is skipped when read and ends before the next append.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from medsyn_hf.errors import MedsynError


def request_key(identity: dict, messages: list[dict], seed: int) -> str:
    """The cache key of one request: the backend's identity (model + sampling settings), messages and seed."""
    text = json.dumps(
        {"backend": identity, "messages": messages, "seed": seed}, ensure_ascii=False, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def read_cache(path: Path, fields: tuple[str, ...] = ("text",)) -> dict[str, dict]:
    """key -> reply record; lines that do not parse (the torn last line of a killed run) or lack one of ``fields``
    are skipped: their requests are sent again."""
    cache = {}
    path = Path(path)
    if path.is_dir():
        raise MedsynError(f"{path}: is a folder, not the request cache file; remove it or set cache_dir")
    if not path.is_file():
        return cache
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MedsynError(f"{path}: unreadable request cache ({err.strerror or err})") from None
    for line in data.split(b"\n"):  # decoded line by line: a torn or garbled line is only that request lost
        try:
            record = json.loads(line)
            if isinstance(record["key"], str) and isinstance(record.get("text"), str) and set(fields) <= set(record):
                cache[record["key"]] = record
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return cache


def append_cache(path: Path, records: list[dict], hint: str = "set cache_dir") -> None:
    """Append whole lines with one write (after a newline if a killed run left a torn line), then fsync. ``hint``
    ends the error line when the file cannot be written (how to point the cache elsewhere)."""
    if not records:
        return
    path = Path(path)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as err:
        raise MedsynError(f"{path}: cannot write the request cache ({err.strerror or err}); {hint}") from None
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
