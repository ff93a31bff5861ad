"""Dataset cards: rendered from a template in ``dataset_card/`` plus a dict of facts, checked by the Hub's rules.

The Hub validates card metadata server-side (``DatasetCard.validate`` posts to ``/api/validate-yaml``), which is not
possible offline, so ``validate_card`` re-checks the same rules locally: the value lists come from ``datasets``
(languages, size categories, creators), the Hub's pipeline tags (huggingface.js ``pipelines.ts``) and the Hub's
license ids (https://huggingface.co/docs/hub/repositories-licenses); ``configs`` are parsed with the very code
``load_dataset`` uses and, given the folder, every data-file pattern must match files.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.schemas import NOTES_RENAMED
from medsyn_hf.textfile import read_text

# The repository's dataset_card/ (editable installs); a wheel installs the same files under <prefix>/share.
CARD_DIR = next(
    (
        d
        for d in (
            Path(__file__).resolve().parent.parent / "dataset_card",
            Path(sys.prefix) / "share" / "medsyn_hf" / "dataset_card",
        )
        if d.is_dir()
    ),
    Path(__file__).resolve().parent.parent / "dataset_card",
)

# What our published cards must carry (the Hub itself requires none of them, but shows all of them).
REQUIRED_METADATA = (
    "license",
    "language",
    "task_categories",
    "size_categories",
    "configs",
    "source_datasets",
    "pretty_name",
)

HUB_LICENSES = frozenset(
    """
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5
cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0
cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0
lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0 odc-by odbl
openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr deepfloyd-if-license llama2 llama3 llama3.1
llama3.2 llama3.3 llama4 gemma unknown other
""".split()
)

HUB_TASK_CATEGORIES = frozenset(
    """
text-classification token-classification table-question-answering question-answering zero-shot-classification
translation summarization feature-extraction text-generation text2text-generation fill-mask sentence-similarity
text-to-speech text-to-audio automatic-speech-recognition audio-to-audio audio-classification
voice-activity-detection depth-estimation image-classification object-detection image-segmentation text-to-image
image-to-text image-to-image image-to-video unconditional-image-generation video-classification
reinforcement-learning robotics tabular-classification tabular-regression tabular-to-text table-to-text
multiple-choice text-retrieval time-series-forecasting text-to-video image-text-to-text visual-question-answering
document-question-answering zero-shot-image-classification graph-ml mask-generation zero-shot-object-detection
text-to-3d image-to-3d image-feature-extraction video-text-to-text keypoint-detection any-to-any text-ranking other
""".split()
)

_SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    return next((label for bound, label in _SIZES if n < bound), "n>1B")


def _datasets_resource(name: str):
    return json.loads((resources.files("datasets.utils.resources") / name).read_text(encoding="utf-8"))


def render_card(template: str | os.PathLike, metadata: Mapping, **facts):
    """A ``DatasetCard`` from ``dataset_card/<template>.md`` (or a path), a Jinja2 template whose front matter is
    ``{{ card_data }}`` (filled from ``metadata``, as ``DatasetCard.from_template`` does) and whose body uses the
    metadata keys and ``facts``.

    Unlike ``from_template``, a fact the template uses but ``facts`` lacks is an error, not an empty string.
    """
    import jinja2
    from huggingface_hub import DatasetCard, DatasetCardData

    path = Path(template) if str(template).endswith(".md") else CARD_DIR / f"{template}.md"
    if not path.is_file():
        raise MedsynError(f"dataset card template {path} not found")
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
    )
    data = DatasetCardData(**metadata)
    try:
        text = env.from_string(path.read_text(encoding="utf-8")).render(
            **{**data.to_dict(), **facts}, card_data=data.to_yaml()
        )
    except jinja2.TemplateError as err:
        raise MedsynError(f"{path}: {err}") from None
    return DatasetCard(text)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _check_values(data: Mapping, key: str, allowed, problems: list) -> None:
    if key in data:
        bad = [v for v in _as_list(data[key]) if not isinstance(v, str) or v not in allowed]
        if bad:
            problems.append(f"{key}: {', '.join(map(repr, bad))} not allowed on the Hub")


def _check_configs(card_data, folder: Path | None, problems: list) -> None:
    from datasets.utils.metadata import MetadataConfigs

    try:
        configs = MetadataConfigs.from_dataset_card_data(card_data)
        configs.get_default_config_name()
    except (ValueError, TypeError, AttributeError) as err:
        problems.append(f"configs: {str(err).strip().splitlines()[0]}")
        return
    for name, config in configs.items():
        files = config.get("data_files")
        if files is None:
            problems.append(f"configs: {name!r} has no data_files")
            continue
        if folder is None:
            continue
        entries = files if isinstance(files, list) else [files]
        patterns = [p for e in entries for p in _as_list(e["path"] if isinstance(e, dict) else e)]
        missing = [p for p in patterns if not any(folder.glob(p))]
        if missing:
            problems.append(f"configs: {name!r} data_files {', '.join(missing)} match no file in {folder}")


def validate_card(card, folder: str | os.PathLike | None = None, required=REQUIRED_METADATA):
    """Check a card (``DatasetCard``, its text, or a README.md ``Path``) by the Hub's metadata rules; return the card.

    With ``folder``, every ``configs`` data-file pattern must match files there. All problems are reported at once.
    """
    from huggingface_hub import DatasetCard

    if isinstance(card, os.PathLike):
        card = read_text(card, "dataset card")
    if isinstance(card, str):
        try:
            card = DatasetCard(card)
        except (ValueError, TypeError) as err:
            raise MedsynError(f"dataset card: unreadable YAML metadata ({err})") from None
    data = card.data.to_dict()
    problems = [f"{key}: missing" for key in required if not data.get(key)]
    _check_values(data, "license", HUB_LICENSES, problems)
    if "other" in _as_list(data.get("license")) and not (data.get("license_name") and data.get("license_link")):
        problems.append("license: 'other' needs license_name and license_link")
    _check_values(data, "language", _datasets_resource("languages.json"), problems)
    _check_values(data, "size_categories", _datasets_resource("size_categories.json"), problems)
    _check_values(data, "task_categories", HUB_TASK_CATEGORIES, problems)
    creators = _datasets_resource("creators.json")
    _check_values(data, "annotations_creators", creators["annotations"], problems)
    _check_values(data, "language_creators", creators["language"], problems)
    _check_values(data, "multilinguality", _datasets_resource("multilingualities.json"), problems)
    if "pretty_name" in data and not (isinstance(data["pretty_name"], str) and data["pretty_name"].strip()):
        problems.append("pretty_name: must be a non-empty string")
    if "source_datasets" in data and not all(isinstance(s, str) and s for s in _as_list(data["source_datasets"])):
        problems.append("source_datasets: must be a list of non-empty strings")
    _check_configs(card.data, None if folder is None else Path(folder), problems)
    if problems:
        raise MedsynError(f"dataset card is not valid for the Hub: {'; '.join(problems)}")
    return card


def notes_names(text: str) -> str:
    """A filter's text with its columns named as the notes dataset names them (``schemas.NOTES_RENAMED``)."""
    for old, new in NOTES_RENAMED.items():
        text = text.replace(f"`{old}`", f"`{new}`")
    return text
