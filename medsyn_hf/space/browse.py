"""The Datasets tab: published dataset folders (Hub layout) under the data folders, their configs as ``datasets``
reads them (``get_dataset_config_names``, ``load_dataset_builder``: the card's ``configs`` with their splits and data
files), and the rows of one config, optionally only those of an ICD-10 code and its subcodes.

A card's data files may name any path: every file a config resolves to must lie inside the dataset folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.kg import load_graph
from medsyn_hf.schemas import COLUMN_ROLES, column_for
from medsyn_hf.space.config import Config, inside, public, walk
from medsyn_hf.space.inputs import MAX_ROWS, number, text


def is_dataset_folder(folder: Path) -> bool:
    """A published dataset in the Hub layout: a README.md card next to a data/ folder."""
    return (folder / "README.md").is_file() and (folder / "data").is_dir()


def dataset_folders(config: Config) -> list[str]:
    """Hub-layout dataset folders under the configured data folders."""
    return sorted(
        public(p.parent, config.data_dirs)
        for root in config.data_dirs
        for p in walk(root, "README.md")
        if is_dataset_folder(p.parent)
    )


def config_names(folder: Path) -> list[str]:
    """The dataset's configs, in the card's order, as ``datasets.get_dataset_config_names`` lists them. Only for a
    dataset folder: ``datasets`` would make a config of any folder's files (an assessment's key among them)."""
    import datasets

    if not is_dataset_folder(folder):
        raise MedsynError(f"{folder.name}: not a published dataset folder (a README.md card next to a data/ folder)")
    try:
        return datasets.get_dataset_config_names(str(folder))
    except Exception as err:  # datasets raises many types for a bad card (ValueError, YAML errors, FileNotFoundError)
        raise MedsynError(f"{folder}: unreadable dataset card ({type(err).__name__}: {first_line(err)})") from None


def config_files(folder: Path, name: str) -> dict[str, list[Path]]:
    """{split: [data files]} of one config as ``load_dataset(folder, name)`` resolves them; all inside ``folder``."""
    import datasets

    names = config_names(folder)
    if name not in names:
        raise MedsynError(f"{folder}: no config {name!r}; choose from {', '.join(names)}")
    try:
        files = datasets.load_dataset_builder(str(folder), name).config.data_files or {}
    except Exception as err:
        why = f"{type(err).__name__}: {first_line(err)}"
        raise MedsynError(f"{folder}: config {name!r} is unreadable ({why})") from None
    splits = {split: [Path(f).resolve() for f in paths] for split, paths in files.items()}
    if any(not f.is_relative_to(folder) for paths in splits.values() for f in paths):
        raise MedsynError(f"{folder}: config {name!r} points outside the folder")
    return splits


def card_configs(folder: Path) -> dict[str, dict[str, list[Path]]]:
    """{config: {split: [data files]}} of every config (the Config dropdown: a bad config shows when it is listed)."""
    return {name: config_files(folder, name) for name in config_names(folder)}


def read_config(folder: Path, name: str):
    """One config's rows, every split, with a ``split`` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for split, files in config_files(folder, name).items():
        for f in files:
            if f.suffix != ".parquet":
                raise MedsynError(
                    f"{folder}: config {name!r} has a {f.suffix or 'suffix-less'} data file; the demo "
                    "reads parquet only"
                )
            table = pq.read_table(f)
            tables.append(table.append_column("split", pa.array([split] * table.num_rows, pa.string())))
    if not tables:
        raise MedsynError(f"{folder}: config {name!r} has no data files")
    return pa.concat_tables(tables, promote_options="default")


def browse(config: Config, folder: str, name: str, code: str, limit):
    """Rows of one config of a published dataset, optionally only those of an ICD-10 code and its subcodes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets import Features

    folder = inside(folder, config.data_dirs)
    limit = number(limit, "rows", 1, MAX_ROWS, integer=True)
    table = read_config(folder, text(name, "config", 200))
    total = table.num_rows
    code = text(code, "code", 20, required=False)
    if code:  # the code column of the dataset's schema: ICD-10 (notes), icd10 (instruction data), code (priors)
        column = column_for(Features.from_arrow_schema(table.schema), "code")
        if column is None:
            raise MedsynError(
                f"config {name!r} has no ICD-10 code column to filter on (one of "
                f"{', '.join(c for c, _ in COLUMN_ROLES['code'])})"
            )
        kg = load_graph()
        code = kg.resolve(code)
        table = table.filter(pc.is_in(table[column], pa.array([code, *kg.descendants(code)], pa.string())))
    shown = pd.DataFrame(
        {  # nested values (symptom lists, chat messages) as JSON text
            column: [
                v
                if v is None or isinstance(v, (str, int, float, bool))
                else json.dumps(v, ensure_ascii=False, default=str)
                for v in table[column].slice(0, limit).to_pylist()
            ]
            for column in table.column_names
        }
    )
    summary = (
        f"{table.num_rows} of {total} rows"
        + (f" with code {code} or its subcodes" if code else "")
        + f"; showing {len(shown)}"
    )
    return shown, summary
