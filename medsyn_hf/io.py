"""Safe outputs: a failure never leaves a half-written output, and no command replaces what it did not write.

Every command that writes a file or folder goes through :func:`safe_output` (which checks the path, then writes
through :func:`atomic_path`): the new output is written beside the target and swapped in with one rename.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from medsyn_hf.errors import MedsynError

# A folder written by a command carries this file, naming the command; a re-run of the same command may replace it.
MARKER = ".medsyn-output.json"
_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[^/]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporaries that a killed run (kill -9) left beside ``path``: their process no longer exists.

    Only names that :func:`atomic_path` makes (``.<name>.tmp-<pid>-<random>``) are touched."""
    if not path.parent.is_dir():
        return
    for entry in path.parent.glob(f".{glob_escape(path.name)}.tmp-*"):
        match = _TMP.match(entry.name)
        if match and match["name"] == path.name and not _alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling path; on success it replaces ``path`` (file or folder) in one rename.

    Low level: commands use :func:`safe_output`, which checks the path first. The temporary folder is named after
    this process so that the next run can clean up after a killed one."""
    if not str(path).strip():
        raise MedsynError("an empty output path: name a file or folder")
    path = Path(path).absolute()
    if not path.name or path.name in (".", ".."):
        raise MedsynError(f"{path}: not a name an output can take")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    except OSError as err:
        raise MedsynError(f"{path.parent}: cannot write there ({err.strerror or err}); choose another output") from err
    tmp = tmpdir / path.name
    try:
        yield tmp
        _swap(tmp, path, tmpdir / f"{path.name}.old")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _swap(new: Path, path: Path, old: Path) -> None:
    """Put ``new`` where ``path`` is; a folder is moved aside first and put back if the second rename fails."""
    try:
        if path.is_dir() and not path.is_symlink():
            os.replace(path, old)
            try:
                os.replace(new, path)
            except OSError:
                os.replace(old, path)
                raise
        else:
            os.replace(new, path)
    except OSError as err:
        raise MedsynError(
            f"{path}: cannot replace it ({err.strerror or err}); the previous one is unchanged"
        ) from None


def _within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def writable(folder: Path) -> bool:
    """Writable by us, and not marked read-only (root may write anywhere, but a folder without write bits says the
    user does not want it changed)."""
    try:
        return os.access(folder, os.W_OK | os.X_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def check_output(
    path: str | os.PathLike | None, *, command: str, inputs=(), overwrite: bool = False, kind: str = "dir", owned=None
) -> Path:
    """Return the resolved output path, or raise :class:`MedsynError` (one line) if writing it could lose data.

    Refused always: an empty path, ``/``, the home folder, the current folder or any folder above it, a path that
    is, contains or lies inside one of ``inputs``, a file where a folder is wanted (and the reverse), an unwritable
    place, a read-only folder. Refused unless ``overwrite``: an existing non-empty folder that is not an earlier output
    of ``command`` (recognised by its :data:`MARKER`), or an existing file. ``owned(path)`` may recognise an earlier
    output without a marker (a file, or a folder written before markers existed) as replaceable too."""
    if path is None or not str(path).strip():
        raise MedsynError(f"{command}: the output path is empty; name a new folder (e.g. --out runs/out)")
    raw = Path(os.path.expanduser(str(path)))
    resolved = raw.resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if resolved == Path(resolved.anchor) or resolved == home or _within(cwd, resolved):
        raise MedsynError(
            f"{path}: refusing to write over {resolved} (the root, the home folder, or the current "
            "folder or one above it); name a new folder"
        )
    for source in inputs:
        if source is None or not str(source).strip():
            continue
        source = Path(os.path.expanduser(str(source))).resolve()
        if _within(resolved, source) or _within(source, resolved):
            raise MedsynError(f"{path}: is, contains or lies inside the input {source}; write the output elsewhere")
    if resolved.exists() or raw.is_symlink():
        if kind == "dir" and not resolved.is_dir():
            raise MedsynError(f"{path}: exists and is a file, not a folder; name a folder")
        if kind == "file" and resolved.is_dir():
            raise MedsynError(f"{path}: exists and is a folder, not a file; name a file")
        if kind == "dir" and raw.is_symlink():
            raise MedsynError(f"{path}: is a symbolic link; name a real folder")
        mine = overwrite or (owned is not None and owned(resolved))
        if kind == "dir" and not mine and written_by(resolved) != command and any(resolved.iterdir()):
            raise MedsynError(
                f"{path}: a non-empty folder that `{command}` did not write; choose a new folder "
                "or pass --overwrite to replace it"
            )
        if kind == "file" and not mine:
            raise MedsynError(
                f"{path}: the file exists and is not an earlier output of `{command}`; choose a new "
                "name or pass --overwrite to replace it"
            )
        if kind == "dir" and not writable(resolved):
            raise MedsynError(f"{path}: the folder is read-only; make it writable or choose another output")
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not writable(parent):
        raise MedsynError(f"{path}: {parent} is not a writable folder; choose another output")
    return resolved


def write_marker(folder: Path, command: str) -> None:
    """Mark ``folder`` as ``command``'s output (its :data:`MARKER`)."""
    try:
        (folder / MARKER).write_text(json.dumps({"command": command}) + "\n", encoding="utf-8")
    except OSError as err:
        raise MedsynError(f"{folder}: cannot write there ({err.strerror or err}); choose another output") from None


def written_by(folder: Path) -> str | None:
    """The command that wrote ``folder`` (its marker), or None."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None


@contextlib.contextmanager
def safe_output(path, *, command: str, inputs=(), overwrite: bool = False, kind: str = "dir", owned=None):
    """Check ``path`` (:func:`check_output`), yield a temporary sibling, swap it in atomically on success.

    A folder output gets a :data:`MARKER` naming ``command``, so that re-running the same command may replace it
    while any other folder is refused."""
    resolved = check_output(path, command=command, inputs=inputs, overwrite=overwrite, kind=kind, owned=owned)
    with atomic_path(resolved) as tmp:
        yield tmp
        if kind == "dir":
            tmp.mkdir(parents=True, exist_ok=True)
            write_marker(tmp, command)


def claim_output(path, *, command: str, inputs=(), overwrite: bool = False, owned=None) -> Path:
    """For a folder a library fills in place (the Trainer's ``output_dir``, a resumable generation folder): check it
    as :func:`check_output` does, create it and write its :data:`MARKER`, so later runs of ``command`` may resume
    in it.

    Call it once every input has been checked, just before the first write."""
    resolved = check_output(path, command=command, inputs=inputs, overwrite=overwrite, owned=owned)
    if written_by(resolved) == command:
        return resolved
    # the marker appears at once, with the folder or beside its files: other processes never see half of it
    if resolved.is_dir() and any(resolved.iterdir()):
        with atomic_path(resolved / MARKER) as tmp:
            write_marker(tmp.parent, command)
    else:
        with atomic_path(resolved) as tmp:  # onto nothing or an empty folder
            tmp.mkdir()
            write_marker(tmp, command)
    return resolved
