"""What the Space may read, and its path jail: files only under the configured data folders, shown by public names.

Dropdown choices are published by gradio's /config to every visitor, so the server's absolute paths never appear:
a data folder is named by its own last component (numbered when two share one) and a path by that name and the path
inside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.space.inputs import text


@dataclass(frozen=True)
class Config:
    """What the app may read: published datasets and models under ``data_dirs``, the default model, the cache."""

    data_dirs: tuple[Path, ...] = ()
    model: Path | None = None  # None: the bundled, the demo's or the packaged model (`models.default_model`)
    cache: Path = Path("~/.cache/medsyn_hf").expanduser()
    assess: Path | None = None  # an assessment folder (`medsyn assess prepare`): adds the Assess tab
    assess_repo_id: str | None = None  # a Hub dataset the answers are synced to
    bundled: Path | None = None  # where a deployed Space keeps its model (deploy.py --model): model/ beside app.py
    hub_datasets: tuple[str, ...] = ()  # Hub datasets the Datasets tab offers (the Space card's); read when online

    @classmethod
    def make(cls, data_dirs=(), model=None, cache=None, assess=None, assess_repo_id=None, **kwargs) -> Config:
        if model is not None and not Path(model).is_dir():
            raise MedsynError(f"{model}: model folder not found")
        return cls(
            data_dirs=tuple(Path(d).expanduser().resolve() for d in data_dirs),
            model=Path(model).resolve() if model else None,
            cache=Path(cache).expanduser().resolve() if cache else cls.cache,
            assess=Path(assess).expanduser().resolve() if assess else None,
            assess_repo_id=assess_repo_id,
            **kwargs,
        )


def root_names(roots: tuple[Path, ...]) -> dict[str, Path]:
    """Each data folder's public name: its own last component, numbered when two share one (``runs``, ``runs~2``)."""
    names: dict[str, Path] = {}
    for root in roots:
        name = key = root.name or "root"
        while key in names:
            key = f"{name}~{len(names) + 1}"
        names[key] = root
    return names


def public(path: Path, roots: tuple[Path, ...]) -> str:
    """How the app shows a path under a data folder: the folder's public name and the path inside it."""
    for name, root in root_names(roots).items():
        if path.is_relative_to(root):
            return Path(name, path.relative_to(root)).as_posix()
    raise MedsynError("not under the configured data folders")


def inside(path, roots: tuple[Path, ...]) -> Path:
    """``path`` (a public name such as ``runs/demo/ru-notes``, or a server path) with symlinks resolved, if it lies
    under one of ``roots``; anything else is refused."""
    value = text(str(path or ""), "path", 1000)
    head, _, rest = value.partition("/")
    named = root_names(roots).get(head)
    resolved = (named / rest if named else Path(value).expanduser()).resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(root_names(roots)) or "none configured"
        raise MedsynError(f"{value}: outside the configured data folders ({allowed})")
    if not resolved.exists():
        raise MedsynError(f"{value}: not found")
    return resolved


def walk(root: Path, name: str, depth: int = 4):
    """Files called ``name`` under ``root``, at most ``depth`` folders down (data folders can hold big run trees)."""
    if not root.is_dir():
        return
    for folder, subfolders, files in os.walk(root):
        if len(Path(folder).relative_to(root).parts) >= depth:
            subfolders.clear()
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        if name in files:
            yield Path(folder) / name
