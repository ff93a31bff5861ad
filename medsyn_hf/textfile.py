"""Reading user-given text files: every command that reads JSON lines, JSON, CSV, YAML or plain text opens it here.

Why one reader: the bytes are decoded strictly *when the file is opened*, so a byte that is not UTF-8 becomes one
line naming the file, the byte's offset and its line number — instead of a ``UnicodeDecodeError`` raised later,
wherever the text happens to be read (inside a parser, a datasets builder or pyarrow), outside any error handling.
The other ways a file given by a user goes wrong are answered here too, the same way for every command: not there,
a folder where a file is wanted, unreadable, a ``.gz`` that is not gzip or is cut short, invalid JSON (file and
line), a JSON line that is not an object. A UTF-8 byte-order mark (Windows editors write one) is dropped.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medsyn_hf.errors import MedsynError, first_line

BOM = "\ufeff"
CHUNK = 1 << 20
# Suffixes of files a datasets builder reads as text (JSON lines, JSON, CSV, plain text, a card), gzip'd or not.
TEXT_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".txt", ".md", ".yaml", ".yml")


def is_text_file(path: str | os.PathLike) -> bool:
    name = Path(path).name.lower()
    return name.removesuffix(".gz").endswith(TEXT_SUFFIXES)


def check_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a Path if it is a readable file; else one line saying what it is instead."""
    path = Path(path)
    if not path.exists():
        raise MedsynError(f"{path}: {what} not found")
    if path.is_dir():
        raise MedsynError(f"{path}: is a folder, not a {what}")
    if not path.is_file():
        raise MedsynError(f"{path}: not a regular file (a {what} is needed)")
    if not os.access(path, os.R_OK):
        raise MedsynError(f"{path}: unreadable (no read permission)")
    return path


def _open_binary(path: Path):
    try:
        raw = open(path, "rb")
    except OSError as err:
        raise MedsynError(f"{path}: unreadable ({err.strerror or err})") from None
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.name.lower().endswith(".gz") else raw


def _not_utf8(path: Path, err: UnicodeDecodeError, offset: int, line: int) -> MedsynError:
    """The one line for a decoding error in ``err.object``, which starts at byte ``offset``, on line ``line``."""
    data = err.object
    line += data.count(b"\n", 0, err.start)
    gz = " of its decompressed text" if path.name.lower().endswith(".gz") else ""
    return MedsynError(
        f"{path}: not UTF-8 text: byte 0x{data[err.start]:02x} at offset {offset + err.start}{gz} "
        f"(line {line}); save it as UTF-8"
    )


def _unreadable(path: Path, err: Exception) -> MedsynError:
    if path.name.lower().endswith(".gz"):
        return MedsynError(f"{path}: not a complete gzip file ({first_line(err)})")
    return MedsynError(f"{path}: unreadable ({getattr(err, 'strerror', None) or err})")


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The whole file (``.gz``: decompressed) as text, strictly decoded as UTF-8, without a byte-order mark."""
    path = check_file(path, what)
    try:
        with _open_binary(path) as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise _unreadable(path, err) from None
    return decode(data, path).removeprefix(BOM)


def decode(data: bytes, path: str | os.PathLike, offset: int = 0, line: int = 1) -> str:
    """``data`` (a part of ``path`` starting at byte ``offset``, on line ``line``) strictly decoded as UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _not_utf8(Path(path), err, offset, line) from None


def check_utf8(path: str | os.PathLike, what: str = "file") -> bool:
    """Read the file through (in chunks: it may be large) only to check that it decodes: what a reader that is not
    ours (datasets, pyarrow, pandas) will open next must not fail later on its bytes. Returns whether it holds
    anything but white space."""
    path = check_file(path, what)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, line, content = 0, 1, False
    try:
        with _open_binary(path) as f:
            while True:
                chunk = f.read(CHUNK)
                held = decoder.getstate()[0]  # the start of a character the previous chunk cut (no newline in it)
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as err:  # err.object: the held bytes, then the chunk
                    raise _not_utf8(path, err, offset - len(held), line) from None
                if not chunk:
                    return content
                content = content or bool(chunk.removeprefix(BOM.encode() if not offset else b"").strip())
                offset += len(chunk)
                line += chunk.count(b"\n")
    except (OSError, EOFError, zlib.error) as err:
        raise _unreadable(path, err) from None


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """A JSON document; invalid JSON is one line with its line number."""
    return _parsed(path, what, json.loads, json.JSONDecodeError, lambda err: (err.lineno, err.msg), "JSON")


def json_lines(path: str | os.PathLike, what: str = "JSON-lines file") -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line; a line that is not a JSON object is one line naming the file
    and the line."""
    path = Path(path)
    for number, line in enumerate(read_text(path, what).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise MedsynError(f"{path}:{number}: invalid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise MedsynError(f"{path}:{number}: not a JSON object (got {type(row).__name__})")
        yield number, row


def read_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """A YAML document; a syntax error is one line with its line number."""
    import yaml

    def where(err):
        mark = getattr(err, "problem_mark", None)
        return (mark.line + 1 if mark is not None else None), getattr(err, "problem", None) or first_line(err)

    return _parsed(path, what, yaml.safe_load, yaml.YAMLError, where, "YAML")


def _parsed(path, what: str, parse, error: type[Exception], where, kind: str) -> Any:
    """``parse`` of the file's text; its ``error`` as one line: the file, the line ``where(err)`` gives, what."""
    path = Path(path)
    text = read_text(path, what)
    try:
        return parse(text)
    except error as err:
        line, problem = where(err)
        raise MedsynError(f"{path}{f':{line}' if line else ''}: invalid {kind} ({problem})") from None


def open_text(path: str | os.PathLike, what: str = "file") -> io.StringIO:
    """The decoded file as a text stream (newlines as written: what the ``csv`` module wants)."""
    return io.StringIO(read_text(path, what), newline="")
