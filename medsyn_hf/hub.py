"""Hub-layout dataset folders and pushing them.

``write_folder`` lays a dataset out exactly as ``push_to_hub`` would on the Hub (parquet shards under
``data/<config>/``, a README.md whose YAML ``configs`` and ``dataset_info`` describe them), so
``load_dataset(folder)`` / ``load_dataset(folder, config)`` resolve locally the way they do from the Hub, and
``push_folder`` uploads such a folder unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from medsyn_hf.card import validate_card
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.io import MARKER, safe_output

MAX_SHARD_SIZE = 500 << 20  # bytes of Arrow data per parquet shard, as datasets' push_to_hub ("500MB")
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_SPLIT = re.compile(r"^\w+(\.\w+)*$")  # datasets' rule for split names


def split_pattern(config: str, split: str) -> str:
    return f"data/{config}/{split}-*"


def _shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def _check_layout(configs: Mapping, union_config: str | None, default_config: str | None) -> None:
    names = [*configs, *([union_config] if union_config else [])]
    for name in names:
        if not _NAME.match(name):
            raise MedsynError(f"config name {name!r} must be letters, digits, '_', '-' or '.'")
    if len(set(names)) != len(names):
        raise MedsynError(f"config names must be unique, got {names}")
    if default_config is not None and default_config not in names:
        raise MedsynError(f"default config {default_config!r} is not one of {names}")
    for name, splits in configs.items():
        if not splits:
            raise MedsynError(f"config {name!r} has no splits")
        for split, ds in splits.items():
            if not _SPLIT.match(split):
                raise MedsynError(f"split name {split!r} of config {name!r} must match {_SPLIT.pattern}")
            if not len(ds):
                raise MedsynError(f"split {split!r} of config {name!r} is empty (load_dataset cannot read it)")


def _union_info(configs: Mapping, infos: dict) -> dict:
    """The info of a config made of every other config's shards (no data written twice)."""
    features = {repr(ds.features): ds.features for splits in configs.values() for ds in splits.values()}
    if len(features) != 1:
        raise MedsynError("a config covering all others needs every config to share one schema")
    splits: dict[str, dict] = {}
    for info in infos.values():
        for split in info["splits"]:
            total = splits.setdefault(split["name"], {"name": split["name"], "num_bytes": 0, "num_examples": 0})
            total["num_bytes"] += split["num_bytes"]
            total["num_examples"] += split["num_examples"]
    return {
        "features": next(iter(features.values())),
        "splits": list(splits.values()),
        "download_size": sum(i["download_size"] for i in infos.values()),
        "dataset_size": sum(i["dataset_size"] for i in infos.values()),
    }


def _write_shards(root: Path, config: str, split: str, ds, max_shard_size: int) -> tuple[int, int]:
    """Write one split as ``ceil(size / max_shard_size)`` contiguous shards; return (arrow bytes, parquet bytes)."""
    nbytes = ds.data.nbytes
    count = max(1, -(-nbytes // max_shard_size))
    folder = root / "data" / config
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for index in range(count):
        path = folder / _shard_name(split, index, count)
        ds.shard(num_shards=count, index=index, contiguous=True).to_parquet(str(path))
        size += path.stat().st_size
    return nbytes, size


def _check_files(files: Mapping) -> None:
    for name in files:
        path = Path(name)
        if path.is_absolute() or ".." in path.parts or path.parts[0] in ("data", "README.md"):
            raise MedsynError(f"extra file {name!r} must be a relative path outside data/ and README.md")


def write_folder(
    folder: str | os.PathLike,
    configs: Mapping[str, Mapping],
    card,
    *,
    union_config: str | None = None,
    default_config: str | None = None,
    max_shard_size: int = MAX_SHARD_SIZE,
    files: Mapping[str, bytes] | None = None,
    command: str = "medsyn_hf.hub.write_folder",
    inputs=(),
    overwrite: bool = False,
    before_swap=None,
) -> Path:
    """Write ``{config: {split: Dataset}}`` and ``card`` (a ``huggingface_hub.DatasetCard``) as a Hub dataset folder.

    ``union_config`` names an extra config whose splits are the union of all the others' shards (the "all tasks"
    view); ``default_config`` is what ``load_dataset(folder)`` loads. The card's YAML gets ``configs`` and
    ``dataset_info`` filled in and is validated (``medsyn_hf.card.validate_card``) before the folder replaces
    ``folder`` atomically (``medsyn_hf.io.safe_output``: ``command``, ``inputs`` and ``overwrite`` decide what it may
    replace). ``files`` maps other repo paths (a plot the card shows, say) to their bytes. ``before_swap(tmp)`` runs
    on the complete new folder before it replaces the old one (a push: if it fails, the old folder stays). Returns
    the folder.
    """
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict

    _check_layout(configs, union_config, default_config)
    _check_files(files or {})
    with safe_output(folder, command=command, inputs=inputs, overwrite=overwrite) as tmp:
        infos, yaml_configs = {}, []
        for config, splits in configs.items():
            split_infos, download = [], 0
            for split, ds in splits.items():
                nbytes, size = _write_shards(tmp, config, split, ds, max_shard_size)
                split_infos.append({"name": split, "num_bytes": nbytes, "num_examples": len(ds)})
                download += size
            infos[config] = {
                "features": next(iter(splits.values())).features,
                "splits": split_infos,
                "download_size": download,
                "dataset_size": sum(s["num_bytes"] for s in split_infos),
            }
            yaml_configs.append(
                {"config_name": config, "data_files": [{"split": s, "path": split_pattern(config, s)} for s in splits]}
            )
        if union_config:
            union = _union_info(configs, infos)
            yaml_configs.append(
                {
                    "config_name": union_config,
                    "data_files": [
                        {"split": s["name"], "path": split_pattern("*", s["name"])} for s in union["splits"]
                    ],
                }
            )
            infos[union_config] = union
        for entry in yaml_configs:
            if entry["config_name"] == default_config:
                entry["default"] = True
        dataset_infos = DatasetInfosDict(
            {
                name: DatasetInfo(
                    features=info["features"],
                    download_size=info["download_size"],
                    dataset_size=info["dataset_size"],
                    splits=SplitDict({s["name"]: SplitInfo(**s) for s in info["splits"]}),
                )
                for name, info in infos.items()
            }
        )
        card.data["configs"] = yaml_configs
        card.data["dataset_info"] = None
        dataset_infos.to_dataset_card_data(card.data)
        for name, data in (files or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        card.save(tmp / "README.md")
        validate_card(tmp / "README.md", folder=tmp)
        if before_swap is not None:
            before_swap(tmp)
    return Path(folder)


@contextlib.contextmanager
def hub_errors(where: str):
    """Every failure of the Hub calls in the block (offline, no or read-only token, network, bad repo id) as one
    ``MedsynError`` line ``where: why``: huggingface_hub raises its HTTP client's errors, which are not ``OSError``."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        HTTPError,  # the HTTP client's base error (httpx in hub 1.x, httpx2 in 2.x)
        OfflineModeIsEnabled,
    )

    try:
        yield
    except OfflineModeIsEnabled:
        raise MedsynError(f"{where}: HF_HUB_OFFLINE is set; unset it to push") from None
    except HFValidationError as err:
        raise MedsynError(f"{where}: invalid repo id ({first_line(err)})") from None
    except HfHubHTTPError as err:
        status = getattr(err.response, "status_code", None)
        if status in (401, 403):
            raise MedsynError(
                f"{where}: not authorised (HTTP {status}); log in with `hf auth login` or pass a token "
                "with write access"
            ) from None
        raise MedsynError(f"{where}: {first_line(err)}") from None
    except (HTTPError, OSError) as err:
        raise MedsynError(f"{where}: {first_line(err)}") from None


def create_repo(
    repo_id: str, token: str | None = None, *, repo_type: str = "dataset", private: bool | None = None
) -> str:
    """Create the Hub repo ``repo_id`` if missing (``name`` goes under the token's user); returns its full id.
    Failures are one ``MedsynError`` line (``hub_errors``)."""
    from huggingface_hub import HfApi

    with hub_errors(f"cannot create the Hub {repo_type} repo {repo_id!r}"):
        return HfApi(token=token).create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True).repo_id


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    *,
    repo_type: str = "dataset",
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str = "Upload dataset with medsyn_hf",
    ignore_patterns: Sequence[str] = (),
) -> str:
    """Upload ``folder`` to the Hub repo ``repo_id`` (created if missing): the one push every command uses.

    A dataset folder is one ``write_folder`` wrote: its card is validated first and stale shards of an earlier push
    under ``data/`` are deleted in the same commit, so the YAML globs only see this version. ``ignore_patterns``
    (besides our output marker) stay local. Every failure becomes one ``MedsynError`` line (``hub_errors``).
    Returns the commit URL.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    if repo_type == "dataset":
        validate_card(folder / "README.md", folder=folder)
    with hub_errors(f"cannot push {folder} to the Hub {repo_type} {repo_id!r}"):
        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True).repo_id
        commit = api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            repo_type=repo_type,
            revision=revision,
            commit_message=commit_message,
            ignore_patterns=[MARKER, *ignore_patterns],
            delete_patterns=["data/**"] if repo_type == "dataset" else None,
        )
    return commit.commit_url
