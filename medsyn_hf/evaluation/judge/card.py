"""The judged dataset's folder: the input's card (if any) plus a judge section, or a card of its own, and
judge.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import yaml
from huggingface_hub import DatasetCard

from medsyn_hf.assessment_folder import is_assessment
from medsyn_hf.card import render_card, size_category
from medsyn_hf.evaluation.judge.prompt import CRITERIA
from medsyn_hf.hub import write_folder
from medsyn_hf.io import MARKER
from medsyn_hf.schemas import JUDGE_COLUMNS_DOC
from medsyn_hf.textfile import read_text


def write_judged(folder: Path, splits: dict, args, gen_args, model_args, report: dict) -> None:
    """The judged dataset as a Hub-layout folder: the input's card (if any) plus a judge section; other files of the
    input folder (a plot its card shows) are copied."""
    source = Path(args.dataset_name)
    notes_folder = source.is_dir() and not is_assessment(source)  # its card and other files carry over
    config = {
        "judge": {k: v for k, v in asdict(args).items() if k not in ("json", "overwrite")},
        "backend": {k: v for k, v in asdict(gen_args).items() if v is not None},
        "model": {
            k: getattr(model_args, k)
            for k in ("model_name_or_path", "model_revision", "adapter_name_or_path", "dtype")
        },
    }
    facts = dict(
        report=report,
        criteria=list(CRITERIA),
        columns=JUDGE_COLUMNS_DOC,
        config_yaml=yaml.safe_dump(config, allow_unicode=True, sort_keys=False).strip(),
    )
    size = size_category(sum(len(ds) for ds in splits.values()))
    readme = source / "README.md"
    if notes_folder and readme.is_file():
        section = render_card("judge", {}, standalone=False, **facts).text
        full = read_text(readme, "dataset card").split("\n## LLM judge\n")[0].rstrip()  # judged again: one section
        card = DatasetCard(full + "\n\n" + section.strip() + "\n")
        card.data.size_categories = [size]
    else:
        card = render_card(
            "judge",
            {
                "license": "unknown",
                "language": ["ru"],
                "task_categories": ["text-generation"],
                "size_categories": [size],
                "source_datasets": ["original"],
                "pretty_name": f"{source.name} (LLM-judged)",
            },
            standalone=True,
            **facts,
        )
    files = {}
    if notes_folder:
        for path in source.rglob("*"):
            relative = path.relative_to(source)
            if (
                path.is_file()
                and relative.parts[0] not in ("data", "README.md", MARKER)
                and not relative.parts[0].startswith(".")
            ):
                files[str(relative)] = path.read_bytes()
    write_folder(folder, {"default": splits}, card, files=files)
    (folder / "judge.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
