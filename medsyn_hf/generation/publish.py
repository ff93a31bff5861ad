"""`medsyn publish`: a finished generation run -> a Hub-layout dataset folder (``data/`` parquet shards, a README card
rendered from ``dataset_card/notes.md``, the code-distribution plot) -> optionally the Hub.

Kept notes are the ``train`` split, notes the filters dropped the ``rejected`` split (with ``filter_reason``), so
``load_dataset(folder, split="train")`` gives the usable notes and nothing generated is hidden. A run that followed a
plan by deficit carries its plan.json into the folder, and the card shows plan against kept notes per code.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.generation.notes import plan_kept
from medsyn_hf.generation.reproduce import CONFIG, RECIPE, run_recipe
from medsyn_hf.priors.plan import PLAN_FILE, plan_json, read_plan
from medsyn_hf.provenance import (
    CORPUS_LICENSE,
    LICENSE_STORY,
    MEDSYN_CITATION,
    RUMEDBENCH_CITATION,
    SOURCES,
    TOOLKIT_CITATION,
    public_name,
)
from medsyn_hf.textfile import read_json
from medsyn_hf.tiny_model import COMPLAINTS_WRITER_NAME, PACKAGED_WRITERS

CARD_TEMPLATE = "notes"
COMMAND = "medsyn publish"
RUN_CONFIG_KEYS = ("run_id", "run_config", "script_args", "model_args")
PLOT = "code_distribution.png"
REPORT_DIR = "report"  # where `--report`'s plots and report.md go inside the dataset folder
LICENSE = CORPUS_LICENSE  # the licence story: medsyn_hf.provenance.LICENSE_STORY
SAMPLE_CHARS = 400  # longer strings of the card's sample record are cut here


def code_counts(notes) -> list[dict]:
    """Per ICD-10 code: its Russian name, notes generated and kept, and the dropped ones by `filter_reason` (a note
    dropped for two reasons counts under both); most kept first."""
    total = Counter(notes["ICD-10"])
    kept = Counter(c for c, k in zip(notes["ICD-10"], notes["keep"]) if k)
    names = dict(zip(notes["ICD-10"], notes["code_name_ru"]))
    reasons: dict[str, Counter] = {c: Counter() for c in total}
    for code, why in zip(notes["ICD-10"], notes["filter_reason"]):
        reasons[code].update(r for r in why.split(",") if r)
    return [
        {"code": c, "name": names[c], "total": total[c], "kept": kept[c], "reasons": dict(reasons[c].most_common())}
        for c in sorted(total, key=lambda c: (-kept[c], -total[c], c))
    ]


def plot_codes(counts: list[dict], top: int = 40) -> bytes:
    """A PNG bar chart of notes per code (kept and dropped) for the `top` codes with most kept notes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = counts[:top]
    fig, ax = plt.subplots(figsize=(10, 0.22 * len(shown) + 1.2), dpi=100)
    y = range(len(shown))[::-1]
    ax.barh(y, [c["kept"] for c in shown], color="#3b7dd8", label="kept")
    ax.barh(
        y,
        [c["total"] - c["kept"] for c in shown],
        left=[c["kept"] for c in shown],
        color="#c9d3e0",
        label="dropped by filters",
    )
    ax.set_yticks(list(y), [c["code"] for c in shown], fontsize=7)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("notes")
    more = f" (top {top} of {len(counts)})" if len(counts) > top else ""
    ax.set_title(f"Notes per ICD-10 code{more}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _summary(notes) -> dict:
    n = len(notes)
    reasons = Counter(r for reason in notes["filter_reason"] for r in reason.split(",") if r)
    recall = [r for r in notes["symptoms_recall"] if r is not None]
    precision = [p for p in notes["anamnesis_precision"] if p is not None]
    return {
        "notes": n,
        "kept": sum(notes["keep"]),
        "codes": len(set(notes["ICD-10"])),
        "with_example": sum(notes["example"]),
        "stopped": sum(r == "stop" for r in notes["finish_reason"]),
        "prompt_tokens": sum(notes["prompt_tokens"]),
        "completion_tokens": sum(notes["completion_tokens"]),
        "mean_completion_tokens": round(sum(notes["completion_tokens"]) / n, 1),
        "mean_words": round(sum(notes["n_words"]) / n, 1),
        "symptoms_recall": round(sum(recall) / len(recall), 3) if recall else None,
        "anamnesis_precision": round(sum(precision) / len(precision), 3) if precision else None,
        "reasons": dict(reasons.most_common()),
        "pii": dict(Counter(k for ks in notes["pii_found"] for k in ks)),
    }


def sources(summary: dict, model: str) -> list[dict]:
    """The source datasets of the notes, each with its licence and what it gave them (the card's provenance)."""
    roles = {
        "rumedtop3_train": f"the real example notes of {summary['with_example']:,} prompts, shown verbatim in "
        "`anamnesis`; symptoms of the MKG"
        if summary["with_example"]
        else "symptoms of the MKG (no prompt of this run showed an example note)",
        "mkg": "codes, their Russian names and the weighted symptoms of every prior",
        "medsyn_gpt_notes": "symptoms of the MKG"
        + (f"; training data of the writer `{model}`" if model in PACKAGED_WRITERS else ""),
        "rosstat": "the patients (sex, age, location, marital status, smoking)",
    }
    if model in PACKAGED_WRITERS:
        roles["ru_wikipedia"] = f"training data of the writer `{model}` (disease descriptions)"
    if model == COMPLAINTS_WRITER_NAME:  # its complaint stage: RuMedTop3 train complaints as answers
        roles["rumedtop3_train"] += f"; training data of the writer `{model}` (complaint writing)"
    return [
        dict(zip(("name", "what", "origin", "license"), (name, *SOURCES[name])), role=role)
        for name, role in roles.items()
    ]


def sample_record(notes) -> str:
    """The card's sample record section: the first kept note as JSON, long strings cut to SAMPLE_CHARS."""

    def cut(value):
        if isinstance(value, str) and len(value) > SAMPLE_CHARS:
            return value[:SAMPLE_CHARS] + "…"
        if isinstance(value, list):
            return [cut(v) for v in value]
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        return value

    record = json.dumps(cut(notes[0]), ensure_ascii=False, indent=1)
    return f"The first note of `train`:\n\n```json\n{record}\n```"


def _selection_facts(script: dict, plan) -> dict | None:
    """What the selection filters compared the notes with (the card's selection paragraph); None when they were off
    (no real notes)."""
    source = script.get("real_dataset") or (plan.real.get("source") if plan is not None else None)
    return {"real": source, "plan": plan is not None} if source else None


def read_run_config(run_dir: Path) -> dict:
    """The run's config.json, checked to be what `medsyn generate` writes."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise MedsynError(f"{run_dir}: no config.json (not a `medsyn generate` run folder)")
    try:
        config = read_json(config_path, "run config")
    except MedsynError as err:
        raise MedsynError(f"{err}: unreadable; rerun `medsyn generate` to rewrite it") from None
    missing = [k for k in RUN_CONFIG_KEYS if not isinstance(config, dict) or k not in config]
    if missing or not all(isinstance(config[k], dict) for k in RUN_CONFIG_KEYS[1:]):
        raise MedsynError(
            f"{config_path}: not a `medsyn generate` config (needs mappings {', '.join(RUN_CONFIG_KEYS)})"
        )
    return config


def _report_section(folder: str | Path | None, kept: int) -> tuple[dict | None, dict[str, bytes]]:
    """(the card's ``report`` fact, the files it shows) from a `medsyn eval report` folder; (None, {}) without one.
    A report on another number of notes than the ``kept`` ones is refused: the card would describe other notes."""
    if folder is None:
        return None, {}
    from medsyn_hf.evaluation.report import PLOTS, load_report, summary_table

    report, files = load_report(folder)
    described = report["synthetic"]["notes"] + report["synthetic"]["empty_dropped"]
    if described != kept:
        raise MedsynError(
            f"--report {folder}: made on {described} notes, but this run keeps {kept}; make the report "
            "on this run (`medsyn eval report RUN --real REAL --out DIR`)"
        )
    return (
        {
            "table": summary_table(report),
            "notes": report["synthetic"]["notes"],
            "real": report["real"]["source"],
            "view": report["view"],
            "page": f"{REPORT_DIR}/report.md",
            "plots": {f"{REPORT_DIR}/{name}": caption for name, caption in PLOTS.items()},
        },
        {f"{REPORT_DIR}/{name}": data for name, data in files.items()},
    )


def _reproduce(recipe: dict) -> str:
    """The card's "Reproduce" section: where the arguments are and the commands that re-run them."""
    local = recipe["local"]
    note = (
        f"\n\n{', '.join(f'`{k}`' for k in local)} named a local folder of the machine that made it, shown here by "
        "its name: put it on the Hub (or beside the copy) and give its id or path in generate.yaml to re-run."
        if local
        else ""
    )
    return (
        f"Everything that determined the notes is in [`{CONFIG}`]({CONFIG}): the script, generation and model "
        f"arguments of run `{recipe['run_id']}` (medsyn_hf {recipe['medsyn_hf_version']}); "
        f"[`{RECIPE}`]({RECIPE}) is the same as a `medsyn generate` recipe. From a copy of this repository, with "
        "medsyn_hf installed:\n\n```bash\n" + "\n".join(recipe["command"]) + "\n```\n\n"
        "The same model and medsyn_hf version write the same notes, token for token: each note's tokens are drawn "
        "with its own seed." + note
    )


def publish(
    run_dir: str | Path,
    out: str | Path,
    *,
    repo_id: str | None = None,
    token: str | None = None,
    private: bool | None = None,
    license: str = LICENSE,
    overwrite: bool = False,
    report: str | Path | None = None,
) -> dict:
    """Write the dataset folder ``out`` (replaced atomically) and, with ``repo_id``, upload it; returns a report.

    ``out`` may not be, contain or lie in the run folder, nor replace a folder `medsyn publish` did not write
    (unless ``overwrite``). With ``repo_id`` the new folder is pushed *before* it replaces ``out``: a failed push
    leaves the previous local folder as it was. ``report``, a `medsyn eval report` folder, puts its summary table and
    plots into the card (the plots and report.md under ``report/`` in the dataset folder)."""
    import yaml

    from medsyn_hf.card import filter_facts, render_card, size_category
    from medsyn_hf.generation.notes import filter_config, load_notes
    from medsyn_hf.hub import push_folder, write_folder
    from medsyn_hf.io import check_output
    from medsyn_hf.schemas import NOTES_COLUMNS_DOC

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MedsynError(f"{run_dir}: no such run folder (give OUTPUT_DIR/latest of `medsyn generate`)")
    config = read_run_config(run_dir)
    check_output(out, command=COMMAND, inputs=[run_dir], overwrite=overwrite)
    notes = load_notes(run_dir)
    splits = {"train": notes.filter(lambda keep: keep, input_columns="keep").flatten_indices()}
    if not len(splits["train"]):
        raise MedsynError(
            f"{run_dir}: none of its {len(notes)} notes passed the filters (see `filter_reason` in "
            "notes.parquet); loosen the `filters` thresholds and rerun generation"
        )
    rejected = notes.filter(lambda keep: not keep, input_columns="keep").flatten_indices()
    if len(rejected):
        splits["rejected"] = rejected
    card_report, report_files = _report_section(report, len(splits["train"]))
    plan = read_plan(run_dir)
    if plan is not None:  # as published: the real notes by name, never a path of this machine (nor the notes)
        plan = dataclasses.replace(plan, real={**plan.real, "source": public_name(plan.real.get("source"))})
    plan_files = {PLAN_FILE: plan_json(plan)} if plan is not None else {}
    counts = code_counts(notes)
    summary = _summary(notes)
    flags = ["--license", license] if license != LICENSE else []
    recipe, recipe_files = run_recipe(config, Path(out).resolve().name, flags)
    script, model = recipe["script_args"], recipe["model_args"]  # as published: no local paths
    generation = {  # what determined the notes (the run id's inputs), readably
        "model": model["model_name_or_path"],
        "adapter": model.get("adapter_name_or_path"),
        **({"dtype": model.get("dtype")} if "dtype" in config["run_config"] else {}),
        **config["run_config"]["sampling"],
        "priors": script["dataset_name"]
        or {
            k: script.get(k)
            for k in (
                *(("real_dataset", "fill_to", "fill_over") if script.get("fill_to") else ("num_priors",)),
                "priors_mode",
                "priors_level",
                "codes",
                "example_p",
                "priors_temperature",
                "priors_top_k",
                "priors_min_weight",
                "priors_source_weights",
                "priors_inherit",
                "priors_symptom_lists",
                "priors_medsyn_compatible",
            )
        },
    }
    card = render_card(
        CARD_TEMPLATE,
        {
            "license": license,
            "language": ["ru"],
            "multilinguality": "monolingual",
            "task_categories": ["text-generation", "text-classification"],
            "size_categories": [size_category(len(notes))],
            "pretty_name": "MedSyn-HF synthetic Russian clinical notes",
            "annotations_creators": ["machine-generated"],
            "language_creators": ["machine-generated"],
            "source_datasets": ["original", *(f"extended|{name}" for name in ("rumedtop3_train", "mkg"))],
            "tags": ["medical", "clinical-notes", "icd-10", "synthetic", "russian", "medsyn"],
        },
        repo_id=repo_id or Path(out).resolve().name,  # a local folder by its name: no path of this machine
        run_id=config["run_id"],
        summary=summary,
        counts=counts,
        plot=PLOT,
        generation_yaml=yaml.safe_dump(generation, allow_unicode=True, sort_keys=False).strip(),
        filters_yaml=yaml.safe_dump(asdict(filter_config(script.get("filters"))), sort_keys=False).strip(),
        filters=filter_facts(filter_config(script.get("filters")), notes.column_names),
        columns=NOTES_COLUMNS_DOC,
        splits={name: len(ds) for name, ds in splits.items()},
        report=card_report,
        sections=[  # rendered in order after "How it was made"; more sections go here
            {"title": "Reproduce", "body": _reproduce(recipe)},
            {"title": "Sample record", "body": sample_record(splits["train"])},
        ],
        sources=sources(summary, model["model_name_or_path"]),
        license_story=LICENSE_STORY,
        citations=[MEDSYN_CITATION, RUMEDBENCH_CITATION, TOOLKIT_CITATION],
        plan=plan_kept(plan, notes) | {"real": plan.real, "level": plan.level, "file": PLAN_FILE} if plan else None,
        selection=_selection_facts(script, plan),
    )
    pushed = {}

    def push(tmp: Path) -> None:
        try:
            pushed["url"] = push_folder(tmp, repo_id, token, private=private)
        except MedsynError as err:  # name the folder the user asked for, not its temporary
            raise MedsynError(str(err).replace(str(tmp), str(out))) from None

    folder = write_folder(
        out,
        {"default": splits},
        card,
        files={PLOT: plot_codes(counts), **report_files, **recipe_files, **plan_files},
        command=COMMAND,
        inputs=[run_dir, report],
        overwrite=overwrite,
        before_swap=push if repo_id else None,
    )
    return {
        "out": str(folder),
        "notes": summary["notes"],
        "kept": summary["kept"],
        "codes": summary["codes"],
        "splits": {name: len(ds) for name, ds in splits.items()},
        **pushed,
    }
