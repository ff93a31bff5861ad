"""The Datasets tab: published dataset folders (Hub layout) under the data folders, their configs as ``datasets``
reads them (``get_dataset_config_names``, ``load_dataset_builder``: the card's ``configs`` with their splits and data
files), and the rows of one config, optionally only those of an ICD-10 code and its subcodes. A Hub dataset id is read
from the Hub (``medsyn_hf.data``) when the app is online, as on a Space; offline it is one line saying so.

A card's data files may name any path: every file a config resolves to must lie inside the dataset folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from medsyn_hf.data import read_dataset
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.kg import load_graph
from medsyn_hf.schemas import COLUMN_ROLES, column_for
from medsyn_hf.space.config import Config, inside, public, root_names, walk
from medsyn_hf.space.inputs import MAX_ROWS, number, text
from medsyn_hf.validate import is_hub_id

# The Hub dataset the tab offers besides the local ones and the Space card's: MedSyn's own synthetic notes (the
# authors' 41k GPT-4 / LLaMA notes, whose columns ours keep).
HUB_EXAMPLE = "Glebkaa/MedSyn-synthetic"


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


def card_datasets(card: Path) -> tuple[str, ...]:
    """The Hub datasets a Space card names (``datasets:``, what deploy.py writes), else HUB_EXAMPLE."""
    from huggingface_hub import SpaceCard

    named = SpaceCard.load(card).data.datasets if card.is_file() else None
    return tuple(named or (HUB_EXAMPLE,))


def hub_id(config: Config, value: str) -> str | None:
    """``value`` if it names a Hub dataset rather than a folder under the data folders (their public names win), and
    the app may read the Hub; offline, one line saying so."""
    import datasets

    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or value.partition("/")[0] in root_names(config.data_dirs) or not is_hub_id(value):
        return None
    if datasets.config.HF_HUB_OFFLINE:
        raise MedsynError(
            f"{value}: a Hub dataset, and this app runs offline (HF_HUB_OFFLINE=1; it reads the Hub on a Space): "
            "pick a local dataset folder"
        )
    return value


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


def dataset_configs(config: Config, folder: str) -> list[str]:
    """The configs of the tab's dataset: a Hub dataset's, or a local folder's (each checked: a bad config shows when
    it is listed)."""
    repo_id = hub_id(config, folder)
    return hub_configs(repo_id) if repo_id else list(card_configs(inside(folder, config.data_dirs)))


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


def hub_configs(repo_id: str) -> list[str]:
    """A Hub dataset's configs, as ``datasets`` lists them."""
    import datasets

    try:
        return datasets.get_dataset_config_names(repo_id)
    except Exception as err:  # datasets raises many types (DatasetNotFoundError, ConnectionError, ...)
        raise MedsynError(f"{repo_id}: not a readable Hub dataset ({type(err).__name__}: {first_line(err)})") from None


def read_hub(repo_id: str, name: str):
    """One config of a Hub dataset, every split, with a ``split`` column (``medsyn_hf.data``, the one loader)."""
    import pyarrow as pa
    from datasets import Dataset

    data = read_dataset(repo_id, name or None)
    splits = {"train": data} if isinstance(data, Dataset) else data
    return pa.concat_tables(
        [
            ds.with_format("arrow")[:].append_column("split", pa.array([split] * len(ds), pa.string()))
            for split, ds in splits.items()
        ],
        promote_options="default",
    )


def browse(config: Config, folder: str, name: str, code: str, limit):
    """Rows of one config of a published dataset (a folder under the data folders, or a Hub dataset id when
    online), optionally only those of an ICD-10 code and its subcodes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets import Features

    limit = number(limit, "rows", 1, MAX_ROWS, integer=True)
    repo_id = hub_id(config, folder)
    if repo_id:
        table = read_hub(repo_id, text(name, "config", 200, required=False))
    else:
        table = read_config(inside(folder, config.data_dirs), text(name, "config", 200))
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
