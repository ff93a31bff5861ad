"""What `medsyn eval judge` is asked to do: its own arguments (the backend's are generation's
``GenerationArguments`` and ``GenerationModelConfig``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from medsyn_hf.data import CODE_COLUMNS, TEXT_COLUMNS
from medsyn_hf.schemas import SCORE_RANGE
from medsyn_hf.validate import check_fields, check_range

COMMAND = "medsyn eval judge"
CODE_NAME_COLUMNS = ("code_name_ru", "code_name")


def _default(columns) -> str:
    return "Unset: " + ", else ".join(f"'{c}'" for c in columns) + "."


@dataclass
class JudgeArguments:
    """What to judge, how often to retry, where the cache and the output go (the backend: GenerationArguments)."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Notes to judge (the command's DATASET): a dataset folder (`medsyn publish`'s, save_to_disk), a "
            ".parquet/.jsonl(.gz) file, or an assessment folder of `medsyn assess prepare` (its items)."
        },
    )
    out: str | None = field(default=None, metadata={"help": "Dataset folder to write (a new one, or --overwrite)."})
    overwrite: bool = field(default=False, metadata={"help": "Replace an existing --out folder."})
    split: str | None = field(default=None, metadata={"help": "Judge only this split; unset: every split."})
    max_notes: int | None = field(
        default=None,
        metadata={"help": "Judge only the first N notes of each split (the output holds those); unset: all."},
    )
    template: str | None = field(
        default=None, metadata={"help": "Template in medsyn_hf/templates/judge.yaml; unset: its first."}
    )
    text_column: str | None = field(default=None, metadata={"help": _default(TEXT_COLUMNS)})
    code_column: str | None = field(default=None, metadata={"help": _default(CODE_COLUMNS)})
    code_name_column: str | None = field(
        default=None, metadata={"help": "Unset: 'code_name_ru', else 'code_name', else the name in the packaged MKG."}
    )
    symptoms_column: str | None = field(
        default=None,
        metadata={"help": "Prompted symptoms (a list column). Unset: 'symptoms' when it is a list, else none."},
    )
    max_retries: int = field(
        default=2,
        metadata={
            "help": "Requests again, each with a new seed, after a malformed reply; then the note's scores are "
            "missing."
        },
    )
    response_format: bool = field(
        default=True,
        metadata={
            "help": "openai: send the reply's JSON schema as response_format (vLLM, OpenAI enforce it; transformers "
            "serve ignores it)."
        },
    )
    cache_dir: str = field(
        default="outputs/judge-cache",
        metadata={
            "help": "Folder of the request cache (requests.jsonl, append-only); shared by runs, never inside --out."
        },
    )
    min_score: float | None = field(
        default=None,
        metadata={
            "help": "Mark notes whose judge_score is below this keep: false, filter_reason 'judge' "
            "(FilterConfig.min_judge_score); unset: scores only."
        },
    )
    assessment: str | None = field(
        default=None,
        metadata={
            "help": "An assessment folder (`medsyn assess prepare`) whose answers to compare with; unset: DATASET "
            "itself "
            "when it is one."
        },
    )
    json: bool = field(default=False, metadata={"help": "Print one JSON line."})

    def __post_init__(self):
        check_fields(self)  # YAML values arrive untyped
        check_range("max_retries", self.max_retries, 0, 100)
        check_range("max_notes", self.max_notes, 1)
        check_range("min_score", self.min_score, *SCORE_RANGE)
