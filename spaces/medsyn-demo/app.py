"""MedSyn demo: search the Medical Knowledge Graph, sample priors, stream a synthetic note, browse a published dataset.

    python spaces/medsyn-demo/app.py [--host 127.0.0.1 --port 7860 --model DIR --data-dirs DIR ...]

Runs offline (on a Space, the Hub stays reachable: a bundled LoRA adapter's base model comes from there). The app
reads files only under the configured data folders (``--data-dirs`` / ``MEDSYN_DATA_DIRS``) and the default model;
every handler checks its inputs and shows bad input as one readable line, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import io
import json
import logging
import os
import re
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

for _var, _value in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "0" if os.environ.get("SPACE_ID") else "1",
                     "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_var, _value)

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

import medsyn_hf  # noqa: E402
from medsyn_hf.errors import MedsynError  # noqa: E402
from medsyn_hf.generation.backends import adapter_base, is_model_folder  # noqa: E402
from medsyn_hf.kg import load_graph  # noqa: E402
from medsyn_hf.kg.graph import SYMPTOM  # noqa: E402
from medsyn_hf.priors_symptoms import DEFAULTS as PRIOR_DEFAULTS  # noqa: E402
from medsyn_hf.priors_symptoms import provenance  # noqa: E402
from medsyn_hf.prompts import TEMPLATE_NAMES, get_template, patient_description, render_messages  # noqa: E402
from medsyn_hf.schemas import COLUMN_ROLES, column_for  # noqa: E402

try:  # ZeroGPU Spaces lend a GPU per call to functions decorated with spaces.GPU
    from spaces import GPU as gpu  # (from the repository root, ``spaces`` is also this folder's parent: no GPU there)
except ImportError:
    def gpu(fn=None, **_):
        """No-op stand-in for ``spaces.GPU``, bare or with arguments."""
        return fn if fn is not None else (lambda f: f)

log = logging.getLogger("medsyn.space")

BUNDLED_MODEL = Path(__file__).resolve().parent / "model"  # deploy.py --model puts the Space's model here
DEMO_MODEL = Path("runs/demo/sft")  # `make demo`'s trained tiny model
DEFAULT_MODEL = "default"
MIX = "mix"  # the sampler's own template mix (examples with probability 0.5)
MAX_QUERY = 200
MAX_PRIORS = 20
PRIOR_TEMPERATURE = (0.1, 100.0)
TEMPERATURE = (0.0, 2.0)
MAX_NEW_TOKENS = 512
MAX_SEED = 2**32 - 1
MAX_SYMPTOMS = 10
MAX_SYMPTOM_CHARS = 100
MAX_PRIOR_CHARS = 20_000
MAX_PROMPT_CHARS = 6_000
MAX_ROWS = 500
PRIOR_KEYS = ("code", "code_name_ru", "symptoms", "age", "sex", "location", "marital", "smoking", "example", "template")


@dataclass(frozen=True)
class Config:
    """What the app may read: published datasets and models under ``data_dirs``, the default model, the cache."""

    data_dirs: tuple[Path, ...] = ()
    model: Path | None = None  # None: BUNDLED_MODEL or DEMO_MODEL if present, else a tiny model built into ``cache``
    cache: Path = Path("~/.cache/medsyn_hf").expanduser()
    assess: Path | None = None  # an assessment folder (`medsyn assess prepare`): adds the Assess tab
    assess_repo_id: str | None = None  # a Hub dataset the answers are synced to

    @classmethod
    def make(cls, data_dirs=(), model=None, cache=None, assess=None, assess_repo_id=None) -> Config:
        if model is not None and not Path(model).is_dir():
            raise MedsynError(f"{model}: model folder not found")
        return cls(data_dirs=tuple(Path(d).expanduser().resolve() for d in data_dirs),
                   model=Path(model).resolve() if model else None,
                   cache=Path(cache).expanduser().resolve() if cache else cls.cache,
                   assess=Path(assess).expanduser().resolve() if assess else None, assess_repo_id=assess_repo_id)


# -- input checks ------------------------------------------------------------------------------------------------------
def readable(fn):
    """Bad input (MedsynError) shows its own line; anything else a generic one, the traceback goes to the server log."""

    def explain(err: Exception) -> gr.Error:
        if isinstance(err, gr.Error):
            return err
        if isinstance(err, MedsynError):
            return gr.Error(str(err), print_exception=False)
        log.exception("handler failed")
        return gr.Error(f"internal error ({type(err).__name__}); the server log has the details", print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                raise explain(err) from None

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise explain(err) from None

    return call


def text(value, name: str, limit: int, required: bool = True) -> str:
    if not isinstance(value, (str, type(None))):
        raise MedsynError(f"{name} must be text, got {value!r}")
    value = (value or "").strip()
    if required and not value:
        raise MedsynError(f"{name} is empty")
    if len(value) > limit:
        raise MedsynError(f"{name} is too long ({len(value)} characters; at most {limit})")
    return value


def number(value, name: str, lo: float, hi: float, integer: bool = False):
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MedsynError(f"{name} must be a number, got {value!r}") from None
    if not lo <= x <= hi:
        raise MedsynError(f"{name} must be between {lo} and {hi}, got {value}")
    if integer and not x.is_integer():
        raise MedsynError(f"{name} must be a whole number, got {value}")
    return int(x) if integer else x


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
    """How the app shows a path under a data folder: the folder's public name and the path inside it. The server's
    absolute paths stay private: dropdown choices are published by gradio's /config to every visitor."""
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


# -- tab 1: ICD-10 codes -----------------------------------------------------------------------------------------------
def search(query: str):
    """Codes by Russian or English name, or by code prefix, typo tolerant; the best hit is shown right away."""
    query = text(query, "search text", MAX_QUERY)
    hits = load_graph().search(query, limit=20)
    if not hits:
        raise MedsynError(f"no ICD-10 code matches {query!r}")
    return pd.DataFrame(hits, columns=["code", "name", "score"]), hits[0][0]


def show_code(code: str):
    """The code's place in the hierarchy, its weighted symptoms and a picture of its MKG neighbourhood."""
    from PIL import Image

    kg = load_graph()
    code = kg.resolve(text(code, "ICD-10 code", 20))
    markdown, png = code_view(code)
    symptoms = pd.DataFrame([(s.name, round(s.weight, 2), ", ".join(s.sources)) for s in kg.symptoms(code)],
                            columns=["symptom", "weight", "sources"])
    return markdown, symptoms, Image.open(io.BytesIO(png))


@functools.lru_cache(maxsize=128)
def code_view(code: str) -> tuple[str, bytes]:
    """Markdown and neighbourhood PNG of a code, cached: finding related codes takes seconds for big categories."""
    kg = load_graph()
    info = kg.code(code)
    sub = kg.neighbourhood(code, radius=2, limit=6)
    lines = [f"### {code} — {info['name_ru']}", ""]
    if info["name_en"]:
        lines += [f"*{info['name_en']}*", ""]
    lines += [f"level: {info['level']} · sex: {info['sex'] or 'any'}", ""]
    for depth, node in enumerate(kg.path(code)):
        name = kg.graph.nodes[node]["name_ru"]
        lines.append(f"{'  ' * depth}- **{node}** {name}" if node == code else f"{'  ' * depth}- {node} {name}")
    children = kg.children(code)
    if children:
        lines += ["", f"subcodes: {', '.join(children)}"]
    lines += ["", f"symptoms in the MKG (with its subcodes'): {len(kg.symptoms(code))}"]
    family = {code, *kg.parents(code), *children}
    related = [n for n, a in sub.nodes(data=True) if a["kind"] == "code" and n not in family]
    if related:
        lines += ["", f"codes sharing symptoms: {', '.join(related)}"]
    if info["description"]:
        lines += ["", info["description"]]
    return "\n".join(lines), draw_neighbourhood(kg, code, sub)


def draw_neighbourhood(kg, code: str, sub, max_symptoms: int = 12) -> bytes:
    """PNG of the code, its parent and subcodes, its heaviest symptoms and related codes sharing them."""
    import networkx as nx
    from matplotlib.figure import Figure

    top = {SYMPTOM + s.key for s in kg.symptoms(code)[:max_symptoms]}
    g = sub.subgraph(n for n, a in sub.nodes(data=True) if a["kind"] == "code" or n in top)
    g = g.subgraph(n for n in g if n == code or g.degree(n))
    family = [n for n in (*kg.parents(code), *kg.children(code)) if n in g]
    symptoms = [SYMPTOM + s.key for s in kg.symptoms(code) if SYMPTOM + s.key in g]
    related = sorted(n for n in g if n not in {code, *family, *symptoms})
    colour = {code: "#d62728", **dict.fromkeys(family, "#1f77b4"), **dict.fromkeys(symptoms, "#2ca02c"),
              **dict.fromkeys(related, "#ff7f0e")}
    labels = {n: n if a["kind"] == "code" else textwrap.fill(a["name"], 18) for n, a in g.nodes(data=True)}
    # Rings: the code, its parent and subcodes, its symptoms (heaviest first), codes sharing them.
    pos = nx.shell_layout(g, [ring for ring in ([code], family, symptoms, related) if ring])
    fig = Figure(figsize=(8, 6.5), dpi=100)
    ax = fig.subplots()
    ax.set_axis_off()
    reach = 1.2 * max(0.5, *(abs(c) for xy in pos.values() for c in xy))
    ax.set(xlim=(-1.1 * reach, 1.1 * reach), ylim=(-reach, reach))
    is_a = [e for e in g.edges(data=True) if e[2]["kind"] == "is_a"]
    has = [e for e in g.edges(data=True) if e[2]["kind"] == "has_symptom"]
    nx.draw_networkx_edges(g, pos, edgelist=is_a, ax=ax, style="dashed", edge_color="#555", arrows=False)
    nx.draw_networkx_edges(g, pos, edgelist=has, ax=ax, edge_color="#999", arrows=False,
                           width=[0.5 + 2.5 * e[2]["weight"] / 10 for e in has])
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=[colour[n] for n in g], node_size=260, alpha=0.9)
    nx.draw_networkx_labels(g, pos, labels, ax=ax, font_size=7)
    for label, c in (("code", "#d62728"), ("parent / subcode", "#1f77b4"), ("code sharing symptoms", "#ff7f0e"),
                     ("symptom (edge width = weight)", "#2ca02c")):
        ax.scatter([], [], color=c, label=label)
    fig.legend(loc="lower center", ncols=4, fontsize=7, frameon=False)
    ax.set_title(f"{code} in the MKG", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# -- tab 2: priors -----------------------------------------------------------------------------------------------------
def template_options(template: str) -> dict:
    """Sampler arguments that make every prior use ``template`` (an example template needs a note of the category)."""
    if template == MIX:
        return {}
    if get_template(template).needs_example:
        return {"example_p": 1.0}
    return {"example_p": 0.0, "templates": {template: 1.0}}


def prompt_text(messages: list[dict]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def why_drawn(code: str, symptoms: list[str]) -> str:
    """Each drawn symptom's MKG weight and sources (and the category a subcode inherited it from): why it was drawn."""
    kg, parts = load_graph(), []
    for symptom in symptoms:
        weight, sources, via = provenance(kg, code, symptom)
        parts.append(f"{symptom}: {weight:g} · {', '.join(sources)}{f' (from {via})' if via else ''}")
    return "; ".join(parts)


def sample(codes: str, n, seed, temperature, template: str, row):
    """A table of priors, the rendered prompt of row ``row`` and that prior as JSON for the Generate tab."""
    from medsyn_hf.priors import sample_priors

    codes = re.split(r"[,;\s]+", text(codes, "codes", MAX_QUERY, required=False))
    n = number(n, "number of priors", 1, MAX_PRIORS, integer=True)
    row = number(row, "row", 0, n - 1, integer=True)
    priors = sample_priors(load_graph(), n, seed=number(seed, "seed", 0, MAX_SEED, integer=True), mode="random",
                           codes=[c for c in codes if c] or None,
                           temperature=number(temperature, "symptom temperature", *PRIOR_TEMPERATURE),
                           **template_options(template)).to_list()
    table = pd.DataFrame([(p["code"], p["code_name_ru"], ", ".join(p["symptoms"]), why_drawn(p["code"], p["symptoms"]),
                           patient_description(p["sex"], p["age"], p["location"], p["marital"], p["smoking"]),
                           p["template"]) for p in priors],
                         columns=["code", "name", "symptoms", "why (MKG weight 0-10 · sources)", "patient", "template"])
    prior = {k: priors[row][k] for k in PRIOR_KEYS}
    return table, prompt_text(priors[row]["messages"]), json.dumps(prior, ensure_ascii=False, indent=1)


# -- tab 3: generation -------------------------------------------------------------------------------------------------
def parse_prior(value: str) -> dict:
    """A prior as typed or edited in the Generate tab, checked field by field."""
    try:
        prior = json.loads(text(value, "prior", MAX_PRIOR_CHARS))
    except json.JSONDecodeError as err:
        raise MedsynError(f"prior is not valid JSON ({err})") from None
    if not isinstance(prior, dict):
        raise MedsynError("prior must be a JSON object")
    unknown = sorted(set(prior) - set(PRIOR_KEYS))
    if unknown:
        raise MedsynError(f"unknown prior field(s) {', '.join(unknown)}; allowed: {', '.join(PRIOR_KEYS)}")
    prior["code"] = load_graph().resolve(text(prior.get("code"), "prior code", 20))
    symptoms = prior.get("symptoms")
    if not (isinstance(symptoms, list) and 1 <= len(symptoms) <= MAX_SYMPTOMS
            and all(isinstance(s, str) and 0 < len(s.strip()) <= MAX_SYMPTOM_CHARS for s in symptoms)):
        raise MedsynError(f"prior symptoms must be a list of 1-{MAX_SYMPTOMS} non-empty strings of at most "
                          f"{MAX_SYMPTOM_CHARS} characters")
    if prior.get("age") is not None:
        prior["age"] = number(prior["age"], "age", 0, 120, integer=True)
    for key in ("code_name_ru", "sex", "location", "marital", "example", "template"):
        if not isinstance(prior.get(key), (str, type(None))):
            raise MedsynError(f"prior {key} must be text or null")
    if not isinstance(prior.get("smoking"), (bool, type(None))):
        raise MedsynError("prior smoking must be true, false or null")
    prior["template"] = prior.get("template") or TEMPLATE_NAMES[0]
    return prior


def default_model(config: Config) -> Path:
    if config.model:
        return config.model
    for folder in (BUNDLED_MODEL, DEMO_MODEL):
        if is_model_folder(folder):
            return folder.resolve()
    return tiny_model(config.cache / "tiny-model")


_BUILD = threading.Lock()


def tiny_model(path: Path) -> Path:
    """The embedded random-init tiny model, built once (notes are gibberish, but every stage of the pipeline runs)."""
    with _BUILD:
        if not (path / "config.json").is_file():
            from medsyn_hf.tiny_model import build

            log.info("building the tiny model into %s", path)
            build(path)
    return path


def resolve_model(config: Config, choice: str) -> Path:
    if not choice or choice == DEFAULT_MODEL:
        return default_model(config)
    path = Path(choice).expanduser().resolve()
    if path != config.model:
        path = inside(choice, config.data_dirs)
    if not is_model_folder(path):
        raise MedsynError(f"{choice}: not a model folder (a model with its tokenizer, or a LoRA adapter)")
    return path


HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


def loadable(config: Config, choice: str) -> tuple[str, str | None]:
    """(model folder, base model) as the loader gets them. A LoRA adapter's base is None for a full model, a Hub id
    (found only where the Hub or its cache is reachable), or a local folder resolved here, symlinks followed. An adapter
    picked from the data folders may only build on a model under them or on the default model: its
    adapter_config.json could name any folder of the server. The default model's own base is the operator's choice."""
    path = resolve_model(config, choice)
    base = adapter_base(path)
    if base is None or (HUB_ID.fullmatch(base) and not os.path.lexists(base)):
        return str(path), base
    resolved = Path(base).expanduser().resolve()
    trusted = not choice or choice == DEFAULT_MODEL or path == config.model
    if not (trusted or resolved == config.model or any(resolved.is_relative_to(r) for r in config.data_dirs)):
        raise MedsynError(f"{choice}: the adapter's base model (base_model_name_or_path in adapter_config.json) lies "
                          "outside the configured data folders")
    if not is_model_folder(resolved):
        raise MedsynError(f"{choice}: the adapter's base model is not a model folder")
    return str(path), str(resolved)


@functools.lru_cache(maxsize=2)
def load_model(path: str, base: str | None):
    """(model, tokenizer), loaded once per folder and kept for the next request; an adapter is merged into its base."""
    import torch

    from medsyn_hf.generation.backends import load_model as load
    from medsyn_hf.generation.config import GenerationModelConfig

    log.info("loading model %s", path)
    args = GenerationModelConfig(model_name_or_path=path) if base is None else GenerationModelConfig(
        model_name_or_path=base, adapter_name_or_path=path)
    return load(args, "cuda" if torch.cuda.is_available() else "cpu")


@gpu(duration=120)
def stream_note(path: str, base: str | None, messages: list[dict], temperature: float, max_new_tokens: int,
                seed: int):
    """Yield the note as it grows; generation runs in a thread feeding transformers' TextIteratorStreamer."""
    import torch
    from transformers import TextIteratorStreamer

    model, tokenizer = load_model(path, base)
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True).to(model.device)
    room = model.config.max_position_embeddings - inputs["input_ids"].shape[1]
    if room < 1:
        raise MedsynError(f"the prompt ({inputs['input_ids'].shape[1]} tokens) fills the model's whole context")
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    sampling = dict(do_sample=True, temperature=temperature, top_p=0.95) if temperature > 0 else dict(do_sample=False)
    failed = []

    def run():
        try:
            torch.manual_seed(seed)
            with torch.inference_mode():
                model.generate(**inputs, streamer=streamer, max_new_tokens=min(max_new_tokens, room), **sampling)
        except Exception as err:  # re-raised in the request's thread below
            failed.append(err)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    note = ""
    for piece in streamer:
        note += piece
        yield note
    worker.join()
    if failed:
        raise failed[0]


def note_checks(note: str, prior: dict):
    """Highlighted prompted symptoms and the filters' numbers for one note."""
    from medsyn_hf.filters.overlap import copy_ratio
    from medsyn_hf.filters.recall import symptoms_present
    from medsyn_hf.highlight import segments, symptom_spans

    found = symptoms_present(note, prior["symptoms"])
    checks = {"symptom_recall": sum(found) / len(found),
              "found": [s for s, hit in zip(prior["symptoms"], found) if hit],
              "missing": [s for s, hit in zip(prior["symptoms"], found) if not hit],
              "copy_ratio": copy_ratio(note, prior.get("example"))}
    return segments(note, symptom_spans(note, prior["symptoms"])), checks


def generate(config: Config, prior: str, model: str, temperature, max_new_tokens, seed):
    """Stream a note for the prior, then highlight the prompted symptoms it mentions and report recall and copying."""
    prior = parse_prior(prior)
    messages = render_messages(prior, prior["template"])
    size = sum(len(m["content"]) for m in messages)
    if size > MAX_PROMPT_CHARS:
        raise MedsynError(f"the prompt is too long ({size} characters; at most {MAX_PROMPT_CHARS})")
    temperature = number(temperature, "temperature", *TEMPERATURE)
    max_new_tokens = number(max_new_tokens, "max new tokens", 1, MAX_NEW_TOKENS, integer=True)
    seed = number(seed, "seed", 0, MAX_SEED, integer=True)
    note = ""
    for note in stream_note(*loadable(config, model), messages, temperature, max_new_tokens, seed):
        yield note, None, None
    yield note, *note_checks(note, prior)


def model_choices(config: Config) -> list[str]:
    """Model folders under the data folders, by public name (the default model is listed once, as "default")."""
    found = {p.parent for root in config.data_dirs for name in ("tokenizer_config.json", "adapter_config.json")
             for p in walk(root, name) if is_model_folder(p.parent)}
    return [DEFAULT_MODEL, *sorted(public(p, config.data_dirs) for p in found if p.resolve() != config.model)]


# -- tab 4: published datasets -----------------------------------------------------------------------------------------
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


def dataset_folders(config: Config) -> list[str]:
    """Hub-layout dataset folders (a README.md next to a data/ folder) under the configured data folders."""
    return sorted(public(p.parent, config.data_dirs) for root in config.data_dirs for p in walk(root, "README.md")
                  if (p.parent / "data").is_dir())


def folders(config: Config):
    choices = dataset_folders(config)
    return gr.Dropdown(choices=choices, value=choices[0] if choices else None)


def card_configs(folder: Path) -> dict[str, dict[str, list[str]]]:
    """{config: {split: [glob patterns]}} from the card's YAML, as ``load_dataset(folder, config)`` resolves them."""
    from huggingface_hub import DatasetCard

    try:
        data = DatasetCard.load(folder / "README.md").data.to_dict()
    except (OSError, ValueError) as err:
        raise MedsynError(f"{folder}: unreadable dataset card ({err})") from None
    out = {}
    for entry in data.get("configs") or [{"config_name": "default", "data_files": "data/**/*.parquet"}]:
        files = entry.get("data_files")
        if isinstance(files, str) or (isinstance(files, list) and all(isinstance(f, str) for f in files)):
            files = [{"split": "train", "path": files}]
        out[entry["config_name"]] = {f["split"]: [f["path"]] if isinstance(f["path"], str) else list(f["path"])
                                     for f in files}
    return out


def configs(config: Config, folder: str):
    names = list(card_configs(inside(folder, config.data_dirs)))
    return gr.Dropdown(choices=names, value=names[0])


def read_config(folder: Path, name: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    splits = card_configs(folder)
    if name not in splits:
        raise MedsynError(f"{folder}: no config {name!r}; choose from {', '.join(splits)}")
    tables = []
    for split, patterns in splits[name].items():
        files = sorted({p.resolve() for pattern in patterns for p in folder.glob(pattern)})
        if any(not f.is_relative_to(folder) for f in files):
            raise MedsynError(f"{folder}: config {name!r} points outside the folder")
        for f in files:
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
            raise MedsynError(f"config {name!r} has no ICD-10 code column to filter on (one of "
                              f"{', '.join(c for c, _ in COLUMN_ROLES['code'])})")
        kg = load_graph()
        code = kg.resolve(code)
        table = table.filter(pc.is_in(table[column], pa.array([code, *kg.descendants(code)], pa.string())))
    shown = pd.DataFrame({  # nested values (symptom lists, chat messages) as JSON text
        column: [v if v is None or isinstance(v, (str, int, float, bool))
                 else json.dumps(v, ensure_ascii=False, default=str)
                 for v in table[column].slice(0, limit).to_pylist()] for column in table.column_names})
    summary = (f"{table.num_rows} of {total} rows" + (f" with code {code} or its subcodes" if code else "")
               + f"; showing {len(shown)}")
    return shown, summary


def pick_code(table: pd.DataFrame, evt: gr.SelectData) -> str:
    return table.iloc[evt.index[0]]["code"]


def pick_row(evt: gr.SelectData) -> int:
    return evt.index[0]


# -- the app -----------------------------------------------------------------------------------------------------------
INTRO = """# MedSyn demo
Synthetic Russian clinical notes grounded in a **Medical Knowledge Graph** (ICD-10 codes ↔ weighted symptoms).
Search a code, sample priors (code, symptoms, patient) and their prompts, generate a note and check which prompted
symptoms it mentions, or browse a published dataset."""


def build_demo(config: Config) -> gr.Blocks:
    def bind(fn):
        return readable(functools.partial(fn, config))

    first_prior = sample("J06", 1, 0, 1.0, "anamnesis_patient", 0)[2]
    datasets = dataset_folders(config)
    with gr.Blocks(title="MedSyn demo") as demo:
        gr.Markdown(INTRO)
        with gr.Tabs() as tabs:
            with gr.Tab("ICD-10 codes", id="codes"):
                with gr.Row():
                    query = gr.Textbox(label="Search (Russian or English name, or a code; typos are fine)",
                                       placeholder="острый ларингит · diabetes · J06", elem_id="query", scale=4)
                    search_btn = gr.Button("Search", variant="primary", elem_id="search-btn", scale=1)
                hits = gr.Dataframe(label="Matches", interactive=False, elem_id="hits", max_height=250)
                with gr.Row():
                    code = gr.Textbox(label="Code", elem_id="code", scale=4)
                    show_btn = gr.Button("Show", elem_id="show-btn", scale=1)
                with gr.Row():
                    with gr.Column():
                        hierarchy = gr.Markdown(elem_id="hierarchy")
                        symptoms = gr.Dataframe(label="Symptoms (MKG weight 0-10)", interactive=False, max_height=350)
                    picture = gr.Image(label="Neighbourhood in the MKG", type="pil", format="png", interactive=False,
                                       elem_id="picture")
            with gr.Tab("Priors", id="priors"):
                with gr.Row():
                    prior_codes = gr.Textbox(label="Codes (empty: all; e.g. J06, K29, I10-I15)", elem_id="prior-codes")
                    n = gr.Slider(1, MAX_PRIORS, value=5, step=1, label="Priors")
                    prior_seed = gr.Number(0, precision=0, label="Seed")
                with gr.Row():
                    prior_temperature = gr.Slider(*PRIOR_TEMPERATURE, value=PRIOR_DEFAULTS["temperature"],
                                                  label="Symptom temperature (softmax of the symptoms' scores: low = "
                                                        "heaviest; MedSyn used 10)")
                    template = gr.Dropdown([MIX, *TEMPLATE_NAMES], value=MIX, label="Template")
                    row = gr.Number(0, precision=0, label="Row to show")
                sample_btn = gr.Button("Sample", variant="primary", elem_id="sample-btn")
                priors = gr.Dataframe(label="Priors", interactive=False, wrap=True)
                with gr.Row():
                    prompt = gr.Textbox(label="Rendered prompt", lines=12, elem_id="prompt")
                    prior_json = gr.Code(language="json", label="Prior", elem_id="prior-json")
                use_btn = gr.Button("Use this prior in Generate")
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    gen_prior = gr.Code(first_prior, language="json", label="Prior (edit freely)", interactive=True,
                                        elem_id="gen-prior")
                    with gr.Column():
                        model = gr.Dropdown(model_choices(config), value=DEFAULT_MODEL, allow_custom_value=True,
                                            label="Model (default: the bundled or the demo's trained model, else "
                                                  "the tiny one; or a folder under the data folders)")
                        temperature = gr.Slider(*TEMPERATURE, value=0.7, step=0.05, label="Temperature (0: greedy)")
                        max_new_tokens = gr.Slider(16, MAX_NEW_TOKENS, value=160, step=8, label="Max new tokens")
                        gen_seed = gr.Number(0, precision=0, label="Seed")
                        gen_btn = gr.Button("Generate", variant="primary", elem_id="generate-btn")
                note = gr.Textbox(label="Note", lines=8, elem_id="note")
                with gr.Row():
                    marked = gr.HighlightedText(label="Prompted symptoms found in the note", show_legend=True,
                                                elem_id="marked", scale=2)
                    checks = gr.JSON(label="Filters: symptom recall, copy ratio", elem_id="checks", scale=1)
            with gr.Tab("Datasets", id="datasets"):
                with gr.Row():
                    folder = gr.Dropdown(datasets, value=datasets[0] if datasets else None, allow_custom_value=True,
                                         label="Published dataset folder", scale=3)
                    refresh_btn = gr.Button("Refresh", scale=1)
                with gr.Row():
                    config_name = gr.Dropdown([], label="Config", allow_custom_value=True)
                    code_filter = gr.Textbox(label="ICD-10 code (with its subcodes; empty: all)")
                    limit = gr.Slider(10, MAX_ROWS, value=100, step=10, label="Rows")
                browse_btn = gr.Button("Show rows", variant="primary")
                summary = gr.Markdown()
                rows = gr.Dataframe(interactive=False, wrap=True, max_chars=400)
            if config.assess:
                from medsyn_hf.assess.ui import add_assess_tab

                add_assess_tab(config.assess, readable, config.assess_repo_id)

        gr.on([search_btn.click, query.submit], readable(search), [query], [hits, code], api_name="search").then(
            readable(show_code), [code], [hierarchy, symptoms, picture], api_visibility="private")
        gr.on([show_btn.click, code.submit], readable(show_code), [code], [hierarchy, symptoms, picture],
              api_name="code")
        hits.select(pick_code, [hits], [code], api_visibility="private").then(
            readable(show_code), [code], [hierarchy, symptoms, picture], api_visibility="private")

        sample_inputs = [prior_codes, n, prior_seed, prior_temperature, template, row]
        sample_btn.click(readable(sample), sample_inputs, [priors, prompt, prior_json], api_name="sample")
        priors.select(pick_row, None, [row], api_visibility="private").then(
            readable(sample), sample_inputs, [priors, prompt, prior_json], api_visibility="private")
        use_btn.click(lambda p: (p, gr.Tabs(selected="generate")), [prior_json], [gen_prior, tabs],
                      api_visibility="private")

        gen_btn.click(bind(generate), [gen_prior, model, temperature, max_new_tokens, gen_seed],
                      [note, marked, checks], api_name="generate", concurrency_limit=1)

        refresh_btn.click(bind(folders), None, [folder], api_name="folders")
        folder.change(bind(configs), [folder], [config_name], api_name="configs")
        browse_btn.click(bind(browse), [folder, config_name, code_filter, limit], [rows, summary], api_name="browse")
        if datasets:
            demo.load(bind(configs), [folder], [config_name], api_visibility="private")
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    env_dirs = os.environ.get("MEDSYN_DATA_DIRS")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--model", default=os.environ.get("MEDSYN_MODEL"),
                   help="default model folder (env MEDSYN_MODEL; default: model/ next to app.py when deploy.py "
                        f"bundled one, else {DEMO_MODEL} when trained, else a tiny random-init model built into the "
                        "cache on first use)")
    p.add_argument("--data-dirs", nargs="*", default=env_dirs.split(os.pathsep) if env_dirs else ["runs"],
                   help="the only folders the app reads datasets and models from (env MEDSYN_DATA_DIRS, "
                        "os.pathsep-separated; default: runs)")
    p.add_argument("--cache", default=os.environ.get("MEDSYN_CACHE"),
                   help="where the tiny model is built (env MEDSYN_CACHE; default: ~/.cache/medsyn_hf)")
    p.add_argument("--assess", metavar="DIR", help="add the Assess tab for this `medsyn assess prepare` folder "
                   "(answers are appended to DIR/answers/)")
    p.add_argument("--assess-repo-id", help="sync DIR/answers to this private Hub dataset (CommitScheduler)")
    p.add_argument("--concurrency", type=int, default=2, help="requests run at once per event (generation: 1)")
    p.add_argument("--queue-size", type=int, default=32, help="requests waiting before new ones are turned away")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("medsyn_hf from %s", Path(medsyn_hf.__file__).resolve().parent)
    try:
        config = Config.make(args.data_dirs, args.model, args.cache, args.assess, args.assess_repo_id)
        demo = build_demo(config)
    except MedsynError as err:
        print(f"medsyn-demo: error: {err}", file=sys.stderr)
        return 2
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    demo.launch(server_name=args.host, server_port=args.port, ssr_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
