"""The priors' packaged resources, compiled from the public sources: demographics and RuMedTop3 *train* example
notes (`medsyn priors-resources`)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medsyn_hf.demographics import build_demographics
from medsyn_hf.errors import MedsynError
from medsyn_hf.io import check_output, safe_output
from medsyn_hf.textfile import check_file, json_lines

RESOURCES = ("demographics.json", "examples.parquet")


def resources_dir() -> Path:
    return Path(str(resources.files("medsyn_hf") / "resources"))


def build_examples(sources: str | Path) -> pa.Table:
    """RuMedTop3 *train* notes (code, idx, text) sorted by code then idx; dev and test never enter the package."""
    path = check_file(Path(sources) / "rumedtop3" / "train_v1.jsonl", "RuMedTop3 train split")
    rows = []
    for line, r in json_lines(path, "RuMedTop3 train split"):
        if not all(isinstance(r.get(k), str) for k in ("code", "idx", "symptoms")):
            raise MedsynError(f"{path}:{line}: not a RuMedTop3 note (needs 'code', 'idx' and 'symptoms' strings)")
        rows.append((r["code"], r["idx"], r["symptoms"].strip()))
    if not rows:
        raise MedsynError(f"{path}: no notes")
    rows.sort()
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(("code", "idx", "text"))})


def build_resources(sources: str | Path, out: str | Path | None = None) -> dict:
    """Compile ``demographics.json`` and ``examples.parquet`` from ``sources`` (data/sources layout); deterministic."""
    out = Path(out) if out else resources_dir()
    kwargs = dict(command="medsyn priors-resources", inputs=[sources], kind="file", owned=_is_resource)
    for name in RESOURCES:
        check_output(out / name, **kwargs)
    demo, examples = build_demographics(sources), build_examples(sources)
    with safe_output(out / "demographics.json", **kwargs) as tmp:
        tmp.write_text(json.dumps(demo, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    with safe_output(out / "examples.parquet", **kwargs) as tmp:
        pq.write_table(examples, tmp, compression="zstd", compression_level=19)
    categories = len(set(examples["code"].to_pylist()))
    return {"out": str(out), "examples": examples.num_rows, "example_categories": categories}


def _is_resource(path: Path) -> bool:
    """An earlier `medsyn priors-resources` output (a rebuild may replace it): the JSON mapping or the notes table."""
    try:
        if path.name == "demographics.json":
            return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        return path.name == "examples.parquet" and set(pq.read_schema(path).names) == {"code", "idx", "text"}
    except (OSError, ValueError, pa.ArrowException):
        return False


@lru_cache(maxsize=2)
def load_examples(path: str | None = None) -> pa.Table:
    path = Path(path) if path else resources_dir() / "examples.parquet"
    if not path.is_file():
        raise MedsynError(f"{path}: example notes not found (build them with `medsyn priors-resources`)")
    return pq.read_table(path)
