"""Extending the toolkit through its public interfaces only, as the README's "Extending" section shows: one class plus
its registration per extension. One section per interface."""

import pytest

from medsyn_hf.errors import MedsynError

# -- filters: a toy filter, registered with `medsyn_hf.filters.register` ----------------------------------------------


# The README's "Extending" example, verbatim: run as it is by the fixture below.
TOY_FILTER = '''
from datasets import Value
from medsyn_hf.filters import FilterConfig, NoteFilter, Threshold, apply_filters, register


@register  # after the built-in filters; its threshold becomes a FilterConfig field (a YAML `filters:` key)
class Exclamations(NoteFilter):
    """Exclamation marks: a clinical note states, it does not exclaim."""

    name = "exclamations"
    columns = {"n_exclamations": (Value("int32"), "exclamation marks in the note")}
    reasons = {"too_excited": "more than `max_exclamations` exclamation marks"}
    thresholds = {"max_exclamations": Threshold(3, "Drop notes with more exclamation marks.", low=0)}

    def score(self, notes, config):  # batched: one value per note
        return {"n_exclamations": [text.count("!") for text in notes.texts]}

    def reject(self, note, config):  # the reasons this note fails ([]: it passes)
        return ["too_excited"] if note["n_exclamations"] > config.max_exclamations else []


notes = apply_filters([{"response": "Кашель!!!!", "symptoms": ["кашель"]}], FilterConfig(min_words=1))
print(notes[0]["n_exclamations"], notes[0]["filter_reason"])  # 4 too_excited
'''


@pytest.fixture
def toy_filter(capsys):
    """The README's toy filter registered for one test (its own example prints what it shows), then removed: later
    tests see only the built-in filters."""
    from medsyn_hf.filters import REGISTRY, unregister

    namespace = {}
    try:
        exec(compile(TOY_FILTER, "README.md (Extending)", "exec"), namespace)
        assert capsys.readouterr().out == "4 too_excited\n"
        yield namespace["Exclamations"]
    finally:
        if "exclamations" in REGISTRY:
            unregister("exclamations")


def test_readme_shows_the_toy_filter():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    if "## Extending" not in readme:
        pytest.skip("README has no Extending section yet")
    assert TOY_FILTER.strip() in readme


NOTE = "Пациент жалуется на кашель и насморк в течение трёх дней, температура тела до тридцати восьми градусов. " * 5


def test_toy_filter_adds_its_column_reason_and_threshold(toy_filter):
    from medsyn_hf.filters import FilterConfig, apply_filters

    rows = [
        {"response": NOTE.replace("трёх", days) + "!" * n, "symptoms": ["кашель"], "example": None}
        for days, n in (("двух", 0), ("пяти", 4), ("семи", 9))
    ]
    rows.append({"response": "Кашель!!!!", "symptoms": ["кашель"], "example": None})
    out = apply_filters(rows)
    assert [r["n_exclamations"] for r in out] == [0, 4, 9, 4]
    assert [r["filter_reason"] for r in out] == ["", "too_excited", "too_excited", "too_short,too_excited"]
    assert [r["keep"] for r in out] == [True, False, False, False]
    set_columns = ["real_run", "label_rank", "realism", "is_duplicate", "selection_rank", "plan_need"]
    # after the built-ins' note columns; set filters' columns come after every note filter's
    assert list(out[0])[-9:] == ["n_exclamations", *set_columns, "keep", "filter_reason"]
    looser = apply_filters(out, FilterConfig(max_exclamations=5))  # its threshold, re-filtered
    assert [r["filter_reason"] for r in looser] == ["", "", "too_excited", "too_short"]


def test_toy_filter_is_in_the_schema_and_the_config(toy_filter):
    from datasets import Value

    from medsyn_hf import schemas
    from medsyn_hf.filters import FilterConfig
    from medsyn_hf.generation.notes import filter_config

    assert schemas.FILTER_FEATURES["n_exclamations"] == Value("int32")
    assert schemas.NOTES_FEATURES["n_exclamations"] == Value("int32")
    assert schemas.FILTER_COLUMNS_DOC["n_exclamations"] == "exclamation marks in the note"
    assert "too_excited" in schemas.FILTER_COLUMNS_DOC["filter_reason"]
    assert FilterConfig().max_exclamations == 3
    assert filter_config({"max_exclamations": "7"}).max_exclamations == 7  # a YAML `filters:` key, typed
    with pytest.raises(MedsynError, match=r"filters\.max_exclamations: -1 is out of range"):
        FilterConfig(max_exclamations=-1)


@pytest.mark.usefixtures("one_torch_thread")
def test_toy_filter_in_a_generation_run_and_its_card(toy_filter, tiny_model_dir, tmp_path):
    """`medsyn generate` writes the toy filter's column into notes.parquet; `medsyn publish` lists it in the card."""
    import datasets
    from test_publish import generate

    from medsyn_hf.cli import main as medsyn

    run = generate(tmp_path, tiny_model_dir, max_exclamations=50)
    notes = datasets.Dataset.from_parquet(str(run / "notes.parquet"))
    assert notes["n_exclamations"] == [r.count("!") for r in notes["response"]]
    assert medsyn(["publish", str(run), "--out", str(tmp_path / "repo")]) == 0
    card = (tmp_path / "repo" / "README.md").read_text(encoding="utf-8")
    row = next(line for line in card.splitlines() if line.startswith("| exclamations |"))
    assert "Exclamation marks: a clinical note states" in row and "`max_exclamations: 50`" in row
    assert "`too_excited`: more than `max_exclamations` exclamation marks" in row
    assert "| `n_exclamations` | exclamation marks in the note |" in card
    from medsyn_hf.filters import REGISTRY

    # the built-ins too; the LLM judge's, whose `judge_score` these notes lack, as not applied
    assert all(f"| {name} | {f.description()} |" in card for name, f in REGISTRY.items() if not f.reads)
    assert "Not applied, the notes lacking the columns they read: judge_score." in card


def test_a_filter_cannot_take_another_filters_names():
    from datasets import Value

    from medsyn_hf.filters import REGISTRY, FilterConfig, NoteFilter, Threshold, register

    before = (list(REGISTRY), repr(FilterConfig()))
    clashes = {
        "name": {"name": "copying"},
        "column": {"columns": {"n_words": (Value("int32"), "")}},
        "reason": {"reasons": {"duplicate": ""}},
        "threshold": {"thresholds": {"min_words": Threshold(1, "")}},
    }
    for kind, attributes in clashes.items():
        toy = type("Toy", (NoteFilter,), {"name": "toy", **attributes})
        with pytest.raises(MedsynError, match=f"Toy's {kind} .* is already registered"):
            register(toy)
    with pytest.raises(MedsynError, match="not a NoteFilter"):
        register(dict)
    with pytest.raises(MedsynError, match="Toy's n_bangs, max_bangs: a column is .feature, meaning."):
        register(
            type(
                "Toy",
                (NoteFilter,),
                {"name": "toy", "columns": {"n_bangs": Value("int32")}, "thresholds": {"max_bangs": 3}},
            )
        )
    with pytest.raises(MedsynError, match="a None default needs its kind"):
        Threshold(None, "Off by default.")
    with pytest.raises(MedsynError, match="has no `name`"):
        register(type("Nameless", (NoteFilter,), {}))
    assert (list(REGISTRY), repr(FilterConfig())) == before  # a refused filter changes nothing


# -- backends: a toy backend, registered with `medsyn_hf.generation.backends.register_backend` ------------------------

# The README's "Extending" example, verbatim: run as it is by the fixture below (in a temporary folder).
TOY_BACKEND = '''
from dataclasses import dataclass
from medsyn_hf.cli import main
from medsyn_hf.generation.backends import Backend, Completion, register_backend


@register_backend  # `backend: echo` in a generate or judge config
class Echo(Backend):
    """Replies with each prompt's last message, prefixed: a toy."""

    name = "echo"

    @dataclass
    class Config:  # its settings, `backend_args: {prefix: "#"}`; all enter the run id unless run_id_fields says
        prefix: str = ">"

    def generate(self, messages_list, keys, on_batch=None):  # one Completion per prompt, in order
        return [Completion(f"{self.config.prefix} {m[-1]['content']}", 0, 1, "stop") for m in messages_list]


args = "generate --config recipes/tiny/generate/config.yaml --backend echo --num_priors 4 --output_dir runs/echo"
raise SystemExit(main(args.split()))  # 4 notes (...) in runs/echo/<run id>
'''


@pytest.fixture
def toy_backend(capsys, tmp_path, monkeypatch):
    """The README's toy backend registered for one test and its example run in ``tmp_path`` (the recipe read from
    the repository), then removed: later tests see only the built-in backends."""
    from conftest import REPO

    from medsyn_hf.generation.backends import unregister_backend

    monkeypatch.chdir(tmp_path)
    namespace = {}
    code = TOY_BACKEND.replace("recipes/tiny/", f"{REPO}/recipes/tiny/")
    with pytest.raises(SystemExit) as exit_:
        exec(compile(code, "README.md (Extending)", "exec"), namespace)
    try:
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("4 notes (") and "in runs/echo/" in out, out
        yield namespace["Echo"]
    finally:
        unregister_backend("echo")


def test_readme_shows_the_toy_backend():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    if "## Extending" not in readme:
        pytest.skip("README has no Extending section yet")
    assert TOY_BACKEND.strip() in readme


def test_toy_backend_writes_notes_and_its_settings_enter_the_run_id(toy_backend, tmp_path, capsys):
    import json

    import pyarrow.parquet as pq

    from medsyn_hf.cli import main
    from medsyn_hf.request_cache import read_cache

    first = (tmp_path / "runs" / "echo" / "latest").resolve()
    priors = pq.read_table(first / "priors.parquet").to_pylist()
    notes = pq.read_table(first / "notes.parquet").to_pylist()
    assert [n["response"] for n in notes] == [f"> {p['messages'][-1]['content']}" for p in priors]
    assert len(read_cache(first / "requests" / "shard-00000.jsonl")) == 4  # its completions were cached too
    saved = json.loads((first / "config.json").read_text())
    common = {k: saved["generation_args"][k] for k in ("seed", "max_new_tokens", "temperature", "top_p")}
    assert saved["run_config"]["sampling"] == {"backend": "echo", "prefix": ">", **common}  # its field, no top_k

    config = tmp_path / "echo.yaml"
    config.write_text(
        json.dumps(
            {
                "model_name_or_path": "none",
                "num_priors": 4,
                "output_dir": "runs/echo",
                "backend": "echo",
                "backend_args": {"prefix": "#"},
                "max_new_tokens": 160,
                "temperature": 0.8,
                "filters": {"min_words": 1},
            }
        ),
        encoding="utf-8",
    )
    assert main(["generate", "--config", str(config), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)["run_dir"]
    assert second != str(first) and all(
        n["response"].startswith("# ") for n in pq.read_table(f"{second}/notes.parquet").to_pylist()
    )

    config.write_text(json.dumps({"model_name_or_path": "none", "backend": "echo", "backend_args": {"prefx": "#"}}))
    assert main(["generate", "--config", str(config)]) == 2
    assert "backend_args: prefx not a setting of backend 'echo'; allowed: prefix" in capsys.readouterr().err


def test_a_backend_name_is_registered_once(toy_backend):
    from medsyn_hf.generation.backends import Backend, backend_names, register_backend, unregister_backend
    from medsyn_hf.generation.config import GenerationArguments

    assert backend_names() == ("transformers", "openai", "echo")
    with pytest.raises(MedsynError, match="backend 'echo' is already registered"):
        register_backend(type("Other", (Backend,), {"name": "echo"}))
    with pytest.raises(MedsynError, match="not a Backend subclass with a name"):
        register_backend(type("Nameless", (Backend,), {}))
    with pytest.raises(MedsynError, match="built in"):
        unregister_backend("openai")
    with pytest.raises(MedsynError, match="unknown backend 'ech'; choose from transformers, openai, echo"):
        GenerationArguments(backend="ech")
    with pytest.raises(MedsynError, match="backend_args: prefix not a setting of backend 'transformers'"):
        GenerationArguments(backend_args={"prefix": "#"})
