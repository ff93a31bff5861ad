"""`medsyn eval judge DATASET --config ...`: an LLM scores every note 1-5 on the human assessment's criteria.

Why: the filters are lexical; nothing else checks that a note is plausible and fits its code. The judge asks a model
(through the generation backends: in process with transformers, or any OpenAI-compatible server) the Russian rubric of
``templates/judge.yaml`` per note — code, its name, the prompted symptoms, the note — and wants one JSON object with
a score per criterion (``schemas.ASSESSMENT_CRITERIA``, the same names annotators score in `medsyn assess`) and a
one-line reason; servers that enforce a JSON schema get it as ``response_format``.

- **Never invented**: a reply without a valid object (every criterion an integer 1-5, a non-empty reason) is asked
  again with a new seed, ``max_retries`` times, then the note's judge columns are null.
- **Cached per request**: a request's key is a hash of the model (weights or served name), sampling settings, messages
  and seed; its reply is appended to ``cache_dir/requests.jsonl`` once the chunk it was sent in is back (one write of
  whole lines; a torn last line of a killed run is ignored). A re-run sends only the requests it has no reply for, and
  none at all when everything was judged (then not even the model is loaded).
- **Output**: a new Hub-layout dataset folder (``--out``; the input is never touched) with the JUDGE_FEATURES columns,
  and a card section. With ``min_score`` the notes below it are marked ``keep: false``, ``filter_reason`` 'judge'
  (``FilterConfig.min_judge_score``'s rule) and, in a published train/rejected dataset, move to ``rejected``.
- **Agreement**: judging an assessment folder of `medsyn assess prepare` (its public items) reports, per criterion,
  the agreement with the annotators' answers there (Spearman's rho with their mean, quadratic-weighted kappa).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medsyn_hf.assess import ITEMS as ASSESS_ITEMS
from medsyn_hf.errors import MedsynError
from medsyn_hf.request_cache import append_cache, read_cache, request_key
from medsyn_hf.textfile import read_text

logger = logging.getLogger(__name__)

COMMAND = "medsyn eval judge"
TEMPLATES_PATH = Path(__file__).resolve().parent.parent / "templates" / "judge.yaml"
TEMPLATE_FIELDS = frozenset({"code", "code_name_ru", "symptoms", "note"})
TEXT_COLUMNS = ("response", "text")
CODE_COLUMNS = ("ICD-10", "code", "icd10")
CODE_NAME_COLUMNS = ("code_name_ru", "code_name")
NO_SYMPTOMS = "не указаны"
CACHE_FILE = "requests.jsonl"
MAX_REASON_CHARS = 300


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
    text_column: str | None = field(default=None, metadata={"help": "Unset: 'response', else 'text'."})
    code_column: str | None = field(default=None, metadata={"help": "Unset: 'ICD-10', else 'code', else 'icd10'."})
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
        from medsyn_hf.validate import check_fields, check_range

        check_fields(self)  # YAML values arrive untyped
        check_range("max_retries", self.max_retries, 0, 100)
        check_range("max_notes", self.max_notes, 1)
        check_range("min_score", self.min_score, *_score_range())


def _score_range() -> tuple[int, int]:
    from medsyn_hf.schemas import SCORE_RANGE

    return SCORE_RANGE


def _criteria() -> tuple[str, ...]:
    from medsyn_hf.schemas import ASSESSMENT_CRITERIA

    return tuple(ASSESSMENT_CRITERIA)


# -- the prompt and the reply ---------------------------------------------------------------------------------------
def load_template(name: str | None = None):
    """A judge template (``prompts.Template``) that uses exactly the judge's fields and names every criterion."""
    from medsyn_hf.prompts import load_templates

    templates = load_templates(TEMPLATES_PATH)
    name = name or next(iter(templates))
    if name not in templates:
        raise MedsynError(f"unknown judge template {name!r}; choose from {', '.join(templates)}")
    template = templates[name]
    unknown = template.fields - TEMPLATE_FIELDS
    missing = [c for c in _criteria() if f'"{c}"' not in template.user]
    if unknown or missing or "note" not in template.fields:
        raise MedsynError(
            f"judge template {name!r}: needs the field {{note}}, only {sorted(TEMPLATE_FIELDS)} and "
            f"every criterion as a JSON key (unknown fields {sorted(unknown)}, criteria missing "
            f"{missing})"
        )
    return template


def render(template, note: str, code: str, code_name_ru: str, symptoms) -> list[dict]:
    """The chat messages asking the judge about one note."""
    if symptoms is not None and not isinstance(symptoms, str):
        symptoms = ", ".join(symptoms)
    user = template.user.format(
        note=note.strip(), code=code, code_name_ru=code_name_ru, symptoms=symptoms or NO_SYMPTOMS
    )
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]


def reply_schema() -> dict:
    """The JSON schema of a valid reply (``response_format`` for servers that constrain decoding to it)."""
    low, high = _score_range()
    properties = {c: {"type": "integer", "enum": list(range(low, high + 1))} for c in _criteria()}
    return {
        "type": "object",
        "properties": {**properties, "reason": {"type": "string"}},
        "required": [*_criteria(), "reason"],
        "additionalProperties": False,
    }


def validate_scores(obj) -> dict | None:
    """``{criterion: int, ..., "reason": one line}`` when ``obj`` is a valid reply, else None (nothing is repaired:
    a score outside the range, a float, a string or a boolean makes the reply invalid; extra keys are ignored)."""
    low, high = _score_range()
    if not isinstance(obj, dict):
        return None
    scores = {}
    for criterion in _criteria():
        value = obj.get(criterion)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return None
        scores[criterion] = value
    reason = obj.get("reason")
    reason = " ".join(reason.split())[:MAX_REASON_CHARS] if isinstance(reason, str) else ""
    return {**scores, "reason": reason} if reason else None


def parse_reply(text: str) -> dict | None:
    """The first valid JSON object in a reply (text or a markdown fence around it is skipped), or None."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text or ""):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        scores = validate_scores(obj)
        if scores is not None:
            return scores
    return None


# -- requests and their cache -----------------------------------------------------------------------------------------
def request_seed(seed: int, messages: list[dict], attempt: int) -> int:
    """A 31-bit seed per (run seed, prompt, attempt): a retry is a new draw, a re-run the same one."""
    text = json.dumps([seed, attempt, messages], ensure_ascii=False, sort_keys=True)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little") >> 1


def judge_messages(
    messages_list: list[list[dict]],
    make_generate,
    identity: dict,
    seed: int,
    max_retries: int,
    cache_path: Path,
    chunk_size: int = 64,
    progress=None,
) -> tuple[list, list[int], dict]:
    """Ask every prompt until a valid reply, at most ``1 + max_retries`` times; returns per prompt the parsed scores
    (None: missing) and the attempts made, and the number of requests sent and answered from the cache.

    ``make_generate()`` builds the backend (its ``generate(messages_list, seeds, on_batch)``) only when a request is
    due; each reply is appended to the cache as it arrives."""
    cache = read_cache(cache_path)
    results, attempts = [None] * len(messages_list), [0] * len(messages_list)
    pending, generate, sent, asked = list(range(len(messages_list))), None, 0, 0
    for attempt in range(max_retries + 1):
        if not pending:
            break
        seeds = {i: request_seed(seed, messages_list[i], attempt) for i in pending}
        keys = {i: request_key(identity, messages_list[i], seeds[i]) for i in pending}
        todo = list({keys[i]: i for i in pending if keys[i] not in cache}.values())  # identical requests once
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            generate = generate or make_generate()

            def store(done: dict, chunk=chunk, keys=keys, seeds=seeds) -> None:  # as replies arrive
                records = [
                    {
                        "key": keys[i],
                        "seed": seeds[i],
                        "text": c.text,
                        "finish_reason": c.finish_reason,
                        "completion_tokens": c.completion_tokens,
                    }
                    for i, c in ((chunk[j], c) for j, c in done.items())
                    if keys[i] not in cache
                ]
                append_cache(cache_path, records)
                cache.update((r["key"], r) for r in records)
                if progress:
                    progress(len(records))

            store(dict(enumerate(generate([messages_list[i] for i in chunk], [seeds[i] for i in chunk], store))))
            sent += len(chunk)
        for i in pending:
            attempts[i] += 1
            results[i] = parse_reply(cache[keys[i]]["text"])
        asked += len(pending)
        pending = [i for i in pending if results[i] is None]
    return results, attempts, {"requests": sent, "cached": asked - sent}


# -- datasets ---------------------------------------------------------------------------------------------------------
def is_assessment(path: Path) -> bool:
    """An assessment folder of `medsyn assess prepare` (judged by its public items)."""
    return path.is_dir() and (path / ASSESS_ITEMS).is_file()


def load_input(args) -> tuple[dict, Path | None]:
    """``{split: Dataset}`` to judge (first ``max_notes`` rows of each) and the assessment folder to compare with."""
    import datasets

    from medsyn_hf.data import read_dataset

    if not args.dataset_name:
        raise MedsynError(f"name the notes to judge: {COMMAND} DATASET --config ...")
    source = Path(args.dataset_name)
    assessment = Path(args.assessment) if args.assessment else None
    if is_assessment(source):  # judge its public items
        from medsyn_hf.assess.prepare import load_items

        data = datasets.Dataset.from_list(load_items(source))
        assessment = assessment or source
    else:
        data = read_dataset(source)
    splits = dict(data) if isinstance(data, datasets.DatasetDict) else {"train": data}
    if args.split is not None:
        if args.split not in splits:
            raise MedsynError(f"{source}: no split {args.split!r} (have {', '.join(splits)})")
        splits = {args.split: splits[args.split]}
    splits = {name: ds.select(range(min(len(ds), args.max_notes or len(ds)))) for name, ds in splits.items()}
    splits = {name: ds.flatten_indices() for name, ds in splits.items() if len(ds)}
    if not splits:
        raise MedsynError(f"{source}: the dataset has no rows")
    return splits, assessment


def prompts_for(data, template, args, source) -> list[list[dict]]:
    """Judge messages for every row of ``data``; codes missing from the data are named from the packaged MKG."""
    from datasets import Sequence

    from medsyn_hf.data import pick_column

    text = pick_column(data, args.text_column, TEXT_COLUMNS, "text", source, flag="--text_column")
    code = pick_column(data, args.code_column, CODE_COLUMNS, "code", source, flag="--code_column")
    name = pick_column(
        data, args.code_name_column, CODE_NAME_COLUMNS, "code_name", source, flag="--code_name_column", required=False
    )
    symptoms = args.symptoms_column or (
        "symptoms" if isinstance(data.features.get("symptoms"), (Sequence, list)) else None
    )
    if symptoms:
        pick_column(data, symptoms, (), "symptoms", source, flag="--symptoms_column")
    codes = [str(c or "").strip() for c in data[code]]
    if not all(codes):
        raise MedsynError(f"{source}: row {codes.index('')} has no code in column {code!r}")
    names = list(data[name]) if name else [_code_name(c) for c in codes]
    symptom_lists = list(data[symptoms]) if symptoms else [None] * len(data)
    return [
        render(template, note or "", c, n or c, s) for note, c, n, s in zip(data[text], codes, names, symptom_lists)
    ]


def _code_name(code: str) -> str:
    from medsyn_hf.kg import load_graph

    kg = load_graph()
    return kg.code(code)["name_ru"] if kg.has_code(code) else code


def judge_columns(results: list, attempts: list[int], model_name: str) -> dict[str, list]:
    """The JUDGE_FEATURES columns of the judged rows (null scores where the judge gave no valid reply)."""
    criteria = _criteria()
    columns = {f"judge_{c}": [r[c] if r else None for r in results] for c in criteria}
    columns["judge_score"] = [sum(r[c] for c in criteria) / len(criteria) if r else None for r in results]
    columns["judge_reason"] = [r["reason"] if r else None for r in results]
    columns["judge_model"] = [model_name] * len(results)
    columns["judge_attempts"] = attempts
    return columns


def apply_min_score(splits: dict, min_score: float | None) -> dict:
    """``FilterConfig.min_judge_score`` on judged splits: below it, ``keep`` false and 'judge' in ``filter_reason``
    (the columns are added when missing; an earlier judge's 'judge' is replaced); a published train/rejected pair is
    re-split by ``keep``."""
    import datasets

    from medsyn_hf.filters import FilterConfig, judge_failed
    from medsyn_hf.schemas import FILTER_FEATURES

    if min_score is None:
        return splits
    config = FilterConfig(min_judge_score=min_score)
    out = {}
    for name, ds in splits.items():
        low = judge_failed(ds["judge_score"], config)
        if "filter_reason" in ds.column_names:
            earlier = [[r for r in reason.split(",") if r and r != "judge"] for reason in ds["filter_reason"]]
            keep = [not reasons for reasons in earlier]
        else:
            earlier = [[] for _ in range(len(ds))]
            keep = ds["keep"] if "keep" in ds.column_names else [True] * len(ds)
        reasons = [",".join(r + ["judge"] if bad else r) for r, bad in zip(earlier, low)]
        ds = ds.remove_columns([c for c in ("keep", "filter_reason") if c in ds.column_names])
        ds = ds.add_column("keep", [k and not bad for k, bad in zip(keep, low)], feature=FILTER_FEATURES["keep"])
        out[name] = ds.add_column("filter_reason", reasons, feature=FILTER_FEATURES["filter_reason"])
    if set(out) <= {"train", "rejected"}:
        every = datasets.concatenate_datasets(list(out.values()))
        out = {
            "train": every.filter(lambda k: k, input_columns="keep").flatten_indices(),
            "rejected": every.filter(lambda k: not k, input_columns="keep").flatten_indices(),
        }
        if not len(out["train"]):
            raise MedsynError(f"no note has judge_score >= {min_score} (or the filters dropped it); lower min_score")
        out = {name: ds for name, ds in out.items() if len(ds)}
    return out


# -- agreement with human answers -------------------------------------------------------------------------------------
def human_answers(folder: Path) -> list[dict]:
    """Every annotator's answers in an assessment folder (``medsyn_hf.assess.answers``: first answer per item)."""
    from medsyn_hf.assess.answers import AnswerStore

    if not folder.is_dir():
        raise MedsynError(f"assessment: {folder} is not a folder of `medsyn assess prepare`")
    return AnswerStore(folder).all()


def agreement(judged: dict[str, dict], answers: list[dict]) -> dict | None:
    """Per criterion and for the overall score: Spearman's rho between the judge's score and the annotators' mean
    score of the same item, and the quadratic-weighted Cohen's kappa between the judge and each answer (pooled).
    ``judged`` maps item id -> the judge's scores (None: missing). None when no item has both."""
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    criteria = _criteria()
    pairs = [
        (judged[a["item_id"]], a)
        for a in answers
        if judged.get(a["item_id"]) is not None and all(isinstance(a.get(c), int) for c in criteria)
    ]
    if not pairs:
        return None
    report = {
        "items": len({a["item_id"] for _, a in pairs}),
        "answers": len(pairs),
        "annotators": len({a.get("annotator") for _, a in pairs}),
    }
    low, high = _score_range()
    for criterion in (*criteria, "overall"):

        def score(s, c=criterion):
            return float(np.mean([s[k] for k in criteria])) if c == "overall" else s[c]

        by_item: dict[str, list] = {}
        for j, a in pairs:
            by_item.setdefault(a["item_id"], [score(j), []])[1].append(score(a))
        judge = [v[0] for v in by_item.values()]
        human = [float(np.mean(v[1])) for v in by_item.values()]
        rho = spearmanr(judge, human).statistic if len(judge) > 2 else math.nan
        entry = {"spearman": None if math.isnan(rho) else round(float(rho), 4)}
        if criterion != "overall":
            js, hs = [score(j) for j, _ in pairs], [score(a) for _, a in pairs]
            kappa = cohen_kappa_score(js, hs, weights="quadratic", labels=list(range(low, high + 1)))
            entry["kappa_quadratic"] = None if math.isnan(kappa) else round(float(kappa), 4)
        entry.update(judge_mean=round(float(np.mean(judge)), 3), human_mean=round(float(np.mean(human)), 3))
        report[criterion] = entry
    return report


# -- the command ----------------------------------------------------------------------------------------------------
def model_name(gen_args, model_args) -> str:
    from medsyn_hf.generation.run import generation_model_name

    return gen_args.served_model_name or generation_model_name(model_args)


def judge(args: JudgeArguments, gen_args, model_args) -> dict:
    """Judge the notes of ``args.dataset_name`` and write ``args.out``; returns the report."""
    from dataclasses import replace

    from tqdm.auto import tqdm

    from medsyn_hf.generation.backends import make_backend
    from medsyn_hf.generation.run import backend_config
    from medsyn_hf.io import check_output, safe_output

    if not args.out:
        raise MedsynError(f"name the output folder: {COMMAND} DATASET --config ... --out DIR")
    inputs = [args.dataset_name, args.cache_dir, args.assessment]
    check_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite)  # fail before any request
    if args.max_retries and gen_args.temperature == 0:
        logger.warning("temperature 0: a retry gets the same greedy reply again; set temperature > 0 for new draws")
    template = load_template(args.template)
    splits, assessment = load_input(args)
    answers = human_answers(assessment) if assessment is not None else None  # read (and checked) before any request
    messages = {name: prompts_for(ds, template, args, args.dataset_name) for name, ds in splits.items()}
    flat = [m for name in splits for m in messages[name]]
    if args.response_format and gen_args.backend == "openai":
        schema = {
            "type": "json_schema",
            "json_schema": {"name": "note_scores", "schema": reply_schema(), "strict": True},
        }
        gen_args = replace(gen_args, extra_body={**(gen_args.extra_body or {}), "response_format": schema})

    def make_generate():
        import torch

        return make_backend(gen_args, model_args, "cuda" if torch.cuda.is_available() else "cpu").generate

    chunk = gen_args.batch_size if gen_args.backend == "transformers" else 4 * gen_args.concurrency
    with tqdm(unit="request", desc="judging (requests sent)", dynamic_ncols=True) as bar:
        results, attempts, counts = judge_messages(
            flat,
            make_generate,
            backend_config(gen_args, model_args),
            gen_args.seed,
            args.max_retries,
            Path(args.cache_dir) / CACHE_FILE,
            chunk,
            progress=bar.update,
        )
    model = model_name(gen_args, model_args)
    columns = judge_columns(results, attempts, model)
    judged, by_item, start = {}, {}, 0
    for name, ds in splits.items():
        rows = slice(start, start + len(ds))
        start += len(ds)
        judged[name] = _with_columns(ds, {k: v[rows] for k, v in columns.items()})
        if "item_id" in ds.column_names:
            by_item.update(zip(ds["item_id"], results[rows]))
    agree = agreement(by_item, answers) if answers is not None else None
    out_splits = apply_min_score(judged, args.min_score)
    report = _report(args, results, attempts, counts, columns, out_splits, agree, model)
    with safe_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite) as tmp:
        _write(tmp, out_splits, args, gen_args, model_args, report)
    return report


def _with_columns(ds, columns: dict):
    from medsyn_hf.schemas import JUDGE_FEATURES

    ds = ds.remove_columns([c for c in JUDGE_FEATURES if c in ds.column_names])  # judging a judged dataset again
    for name, feature in JUDGE_FEATURES.items():
        ds = ds.add_column(name, columns[name], feature=feature)
    return ds


def _report(args, results, attempts, counts, columns, splits, agree, model) -> dict:
    valid = [r for r in results if r is not None]
    means = {c: round(sum(r[c] for r in valid) / len(valid), 3) if valid else None for c in _criteria()}
    report = {
        "dataset": str(args.dataset_name),
        "out": str(args.out),
        "model": model,
        "notes": len(results),
        "valid": len(valid),
        "missing": len(results) - len(valid),
        "max_attempts": args.max_retries + 1,
        **counts,
        "mean_attempts": round(sum(attempts) / len(attempts), 3),
        "mean_scores": means,
        "splits": {name: len(ds) for name, ds in splits.items()},
    }
    if args.min_score is not None:
        report["min_score"] = args.min_score
        from medsyn_hf.filters import FilterConfig, judge_failed

        report["below_min_score"] = sum(
            judge_failed(columns["judge_score"], FilterConfig(min_judge_score=args.min_score))
        )
    if agree is not None:
        report["agreement"] = agree
    return report


def _write(folder: Path, splits: dict, args, gen_args, model_args, report: dict) -> None:
    """The judged dataset as a Hub-layout folder: the input's card (if any) plus a judge section; other files of the
    input folder (a plot its card shows) are copied."""
    import yaml
    from huggingface_hub import DatasetCard

    from medsyn_hf.card import render_card, size_category
    from medsyn_hf.hub import write_folder
    from medsyn_hf.schemas import JUDGE_COLUMNS_DOC

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
        criteria=list(_criteria()),
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
        from medsyn_hf.io import MARKER

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


def make_parser():
    from trl import TrlParser

    from medsyn_hf.generation.config import UNUSED_MODEL_FIELDS, GenerationArguments, GenerationModelConfig
    from medsyn_hf.recipe_args import hide_options

    parser = TrlParser((JudgeArguments, GenerationArguments, GenerationModelConfig), prog=COMMAND)
    hide_options(parser, UNUSED_MODEL_FIELDS)
    return parser


def parse(argv: list[str]):
    """``DATASET --config ... [--key value ...]`` -> (JudgeArguments, GenerationArguments, GenerationModelConfig)."""
    from medsyn_hf.recipe_args import parse_args

    if argv and not argv[0].startswith("-"):
        argv = ["--dataset_name", argv[0], *argv[1:]]
    return parse_args(argv, make_parser())


def _run(args) -> int:
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    judge_args, gen_args, model_args = parse(args.args)
    report = judge(judge_args, gen_args, model_args)
    if judge_args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    means = ", ".join(f"{c} {'–' if v is None else v}" for c, v in report["mean_scores"].items())
    print(
        f"{report['notes']} notes judged: {report['valid']} with valid scores, {report['missing']} without a valid "
        f"reply in {report['max_attempts']} attempts ({report['requests']} requests sent, {report['cached']} "
        f"answered from the cache)\nmean scores: {means}\n-> {report['out']}"
    )
    if "below_min_score" in report:
        print(
            f"{report['below_min_score']} notes below min_score {report['min_score']}: keep false, "
            f"filter_reason 'judge'"
        )
    if "agreement" in report:
        rows = ", ".join(f"{c} rho={report['agreement'][c]['spearman']}" for c in (*_criteria(), "overall"))
        print(
            f"agreement with {report['agreement']['annotators']} annotator(s) on {report['agreement']['items']} "
            f"items: {rows}"
        )
    return 0


def add_cli(eval_subparsers) -> None:
    from medsyn_hf.recipe_args import add_trl_parser

    p = add_trl_parser(
        eval_subparsers,
        "judge",
        "LLM-judge scores 1-5 per note: medsyn eval judge DATASET --config "
        "recipes/tiny/judge/config.yaml --out DIR [--key value ...]",
    )
    p.set_defaults(func=_run)
