"""The demo Space: its handlers called directly, then the app served on 127.0.0.1 and every endpoint called through
gradio_client (the browser test is in test_space_browser.py)."""

import importlib.util
import json
import sys

import pytest
from conftest import REPO, SOURCES

from medsyn_hf.filters.overlap import copy_ratio
from medsyn_hf.normalize import symptoms_present
from medsyn_hf.prompts import TEMPLATE_NAMES, render_messages
from medsyn_hf.space import browse, codes, inputs, models, priors
from medsyn_hf.space import config as jail
from medsyn_hf.space import generate as notes

SPACE = REPO / "spaces" / "medsyn-demo"
NOTE = "Пациентка жалуется на боли в горле и сухой кашель. Тошноты нет. Боль в горле усиливается при глотании."


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("medsyn_space_app", SPACE / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def config(app, space_data, tiny_model_dir):
    return app.Config.make([space_data], tiny_model_dir, hub_datasets=(browse.HUB_EXAMPLE,))


def error_of(app, fn, *args) -> str:
    """The message a handler shows the user (handlers are wrapped as in the app)."""
    import gradio as gr

    with pytest.raises(gr.Error) as err:
        result = app.readable(fn)(*args)
        if hasattr(result, "__next__"):
            list(result)
    return err.value.message


# -- handlers ---------------------------------------------------------------------------------------------------------
def test_search_is_typo_tolerant_and_names_the_best_hit(app, kg):
    hits, best = codes.search("остррый ларингит")  # two typos
    assert best == "J04.0" and best == hits["code"][0]
    assert [tuple(r) for r in hits.itertuples(index=False)] == kg.search("остррый ларингит", limit=20)
    assert codes.search("diabetes")[1].startswith("E1")
    assert "no ICD-10 code matches" in error_of(app, codes.search, "qqqqqqqq zzzzzz")
    assert "too long" in error_of(app, codes.search, "x" * (inputs.MAX_QUERY + 1))
    assert "empty" in error_of(app, codes.search, "  ")


def test_code_shows_hierarchy_weighted_symptoms_and_a_picture(app, kg):
    markdown, symptoms, picture = codes.show_code("k29")
    assert "**K29** Гастрит и дуоденит" in markdown
    for node in kg.path("K29"):
        assert f"{node} {kg.graph.nodes[node]['name_ru']}" in markdown.replace("**", "")
    assert list(symptoms["symptom"]) == [s.name for s in kg.symptoms("K29")]
    assert list(symptoms["weight"]) == sorted(symptoms["weight"], reverse=True) and symptoms["weight"].iloc[0] > 0
    assert picture.size == (800, 650)
    # The focus node is drawn red, symptoms green: the picture is a drawing of the graph, not a blank canvas.
    colours = {rgb for _, rgb in picture.convert("RGB").getcolors(1 << 20)}
    assert {(214, 39, 40), (44, 160, 44)} <= colours
    assert "unknown ICD-10 code 'K99.99'" in error_of(app, codes.show_code, "K99.99")


def test_priors_are_reproducible_and_show_the_rendered_prompt(app):
    table, prompt, prior = priors.sample("K29", 4, 7, 1.0, "anamnesis_patient", 2)
    again = priors.sample("K29", 4, 7, 1.0, "anamnesis_patient", 2)
    assert table.equals(again[0]) and (prompt, prior) == again[1:]
    prior = json.loads(prior)
    assert list(table["code"])[2] == prior["code"] and all(c.startswith("K29") for c in table["code"])
    assert set(table["template"]) == {"anamnesis_patient"}
    assert prompt == priors.prompt_text(render_messages(prior, prior["template"]))
    assert ", ".join(prior["symptoms"]) in prompt
    assert priors.sample("K29", 4, 8, 1.0, "anamnesis_patient", 2)[1] != prompt  # another seed, another prior
    for template in TEMPLATE_NAMES:
        assert priors.sample("J06", 3, 0, 10.0, template, 0)[0]["template"].iloc[0] in TEMPLATE_NAMES


@pytest.mark.parametrize(
    "args, message",
    [
        (("", 5, 0, 0.01, "mix", 0), "symptom temperature must be between 0.1 and 100.0"),
        (("", 21, 0, 10, "mix", 0), "number of priors must be between 1 and 20"),
        (("", 5, 0, 10, "mix", 5), "row must be between 0 and 4"),
        (("", 5, 1.5, 10, "mix", 0), "seed must be a whole number"),
        (("", 5, 0, 10, "nonesuch", 0), "unknown prompt template 'nonesuch'"),
        (("Q99.99", 5, 0, 10, "mix", 0), "unknown ICD-10 code"),
    ],
)
def test_priors_reject_bad_input(app, args, message):
    assert message in error_of(app, priors.sample, *args)


def test_found_symptoms_are_highlighted_with_recall_and_copy_ratio(app):
    prior = {"symptoms": ["боль в горле", "кашель", "головокружение"], "example": NOTE[:60]}
    pieces, checks = notes.note_checks(NOTE, prior)
    assert "".join(text for text, _ in pieces) == NOTE
    marked = [(text.lower(), label) for text, label in pieces if label]
    assert (
        ("боли", "боль в горле") in marked and ("кашель", "кашель") in marked and ("горле", "боль в горле") in marked
    )
    assert not any(label == "головокружение" for _, label in marked)
    assert checks == {
        "symptom_recall": 2 / 3,
        "found": ["боль в горле", "кашель"],
        "missing": ["головокружение"],
        "copy_ratio": copy_ratio(NOTE, NOTE[:60], 5, prior["symptoms"]),
    }
    assert 0 < checks["copy_ratio"] < 1


def test_generate_streams_a_note_and_checks_it(app, config):
    prior = priors.sample("K29", 1, 3, 10.0, "short", 0)[2]
    outputs = list(app.generate(config, prior, models.DEFAULT_MODEL, 0.0, 16, 0))
    notes = [note for note, _, _ in outputs]
    assert len(outputs) >= 3 and notes[-1] and all(b.startswith(a) for a, b in zip(notes, notes[1:]))
    assert outputs[0][1:] == (None, None)  # highlighting and checks come with the finished note
    note, pieces, checks = outputs[-1]
    assert "".join(text for text, _ in pieces) == note
    symptoms = json.loads(prior)["symptoms"]
    assert checks["symptom_recall"] == sum(symptoms_present(note, symptoms)) / len(symptoms)
    # The same seed repeats a sampled note, from the default model or its copy picked by path in the data folder.
    sampled = list(app.generate(config, prior, str(config.data_dirs[0] / "models" / "tiny"), 1.0, 8, 5))[-1][0]
    assert sampled and list(app.generate(config, prior, models.DEFAULT_MODEL, 1.0, 8, 5))[-1][0] == sampled


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"code": "Z99.99x"}, "unknown ICD-10 code"),
        ({"symptoms": []}, "prior symptoms must be a list of 1-10"),
        ({"symptoms": ["x" * 101]}, "prior symptoms must be a list"),
        ({"age": 300}, "age must be between 0 and 120"),
        ({"sex": "other"}, "sex must be 'male' or 'female'"),
        ({"extra": 1}, "unknown prior field(s) extra"),
        ({"code": 29}, "prior code must be text"),
        ({"example": ["a"]}, "prior example must be text or null"),
        ({"smoking": "no"}, "prior smoking must be true, false or null"),
        ({"template": "example", "example": "слово " * 1200}, "the prompt is too long (7"),
        ({"template": "example", "example": "слово " * 4000}, "prior is too long (2"),
    ],
)
def test_generate_rejects_bad_priors(app, config, edit, message):
    prior = {**json.loads(priors.sample("K29", 1, 0, 10.0, "anamnesis_patient", 0)[2]), **edit}
    prior = json.dumps(prior, ensure_ascii=False)
    assert message in error_of(app, app.generate, config, prior, models.DEFAULT_MODEL, 0.5, 16, 0)


def test_generate_rejects_bad_settings(app, config):
    prior = priors.sample("K29", 1, 0, 10.0, "short", 0)[2]
    assert "temperature must be between 0.0 and 2.0" in error_of(
        app, app.generate, config, prior, models.DEFAULT_MODEL, 2.5, 16, 0
    )
    assert "max new tokens must be between 1 and 512" in error_of(
        app, app.generate, config, prior, models.DEFAULT_MODEL, 0.5, 10_000, 0
    )
    assert "prior is not valid JSON" in error_of(app, app.generate, config, "{oops", models.DEFAULT_MODEL, 0.5, 16, 0)


def test_paths_outside_the_data_folders_are_refused(app, config, space_data, tiny_model_dir):
    inside = space_data / "models" / "tiny"
    assert jail.inside(str(inside), config.data_dirs) == inside.resolve()
    dotdot = space_data / ".." / tiny_model_dir.parent.name / tiny_model_dir.name
    no_default = app.Config.make([space_data])
    for path in (tiny_model_dir, space_data / "models" / "escape", dotdot, "/etc"):
        assert "outside the configured data folders" in error_of(app, jail.inside, str(path), config.data_dirs)
        assert "outside the configured data folders" in error_of(app, browse.browse, config, str(path), "all", "", 10)
        assert "outside the configured data folders" in error_of(app, models.resolve_model, no_default, str(path))
    assert "not found" in error_of(app, jail.inside, str(space_data / "missing"), config.data_dirs)
    assert "not a model folder" in error_of(app, models.resolve_model, config, str(space_data / "published"))
    # The configured default model may live anywhere, however it is named; it is listed once, as "default".
    for path in (tiny_model_dir, space_data / "models" / "escape", dotdot):
        assert models.resolve_model(config, str(path)) == tiny_model_dir.resolve()
    assert models.model_choices(config) == [models.DEFAULT_MODEL, f"{space_data.name}/models/tiny"]  # a public name
    assert models.resolve_model(config, f"{space_data.name}/models/tiny") == inside.resolve()
    assert "outside the configured data folders" in error_of(
        app, jail.inside, f"{space_data.name}/../{tiny_model_dir.parent.name}", config.data_dirs
    )
    assert "outside the configured data folders (none configured)" in error_of(
        app, jail.inside, str(inside), app.Config.make([], None).data_dirs
    )


def test_default_model_is_the_trained_demo_model_when_present(app, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo" / "sft").symlink_to(tiny_model_dir, target_is_directory=True)
    assert models.resolve_model(app.Config.make([], None, tmp_path / "cache"), models.DEFAULT_MODEL) == tiny_model_dir
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_default_model_is_built_on_first_use(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/demo/sft here
    monkeypatch.setattr(models, "WRITER_DIR", tmp_path / "no-writer")  # nor a packaged writer (a source tree)
    config = app.Config.make([], None, tmp_path / "cache")
    built = models.resolve_model(config, models.DEFAULT_MODEL)
    assert built == tmp_path / "cache" / "tiny-model" and models.is_model_folder(built)
    prior = priors.sample("K29", 1, 0, 10.0, "short", 0)[2]
    assert list(app.generate(config, prior, models.DEFAULT_MODEL, 0.0, 4, 0))[-1][0]


def test_browse_filters_a_published_dataset_by_code(app, config, space_data, kg):
    from datasets import load_dataset

    folder = f"{space_data.name}/published"  # the public name: data folder's name and the path inside it
    assert browse.dataset_folders(config) == [folder]
    assert browse.browse(config, str(space_data / "published"), "K29", "", 5)[0].equals(
        browse.browse(config, folder, "K29", "", 5)[0]
    )  # a server path works too
    assert browse.card_configs(space_data / "published").keys() == {"J06", "K29", "all"}
    rows, summary = browse.browse(config, folder, "all", "", 500)
    everything = load_dataset(str(space_data / "published"), "all", split="train")
    assert len(rows) == everything.num_rows == 24 and summary.startswith("24 of 24 rows")
    j06 = {"J06", *kg.descendants("J06")}
    rows, summary = browse.browse(config, folder, "all", "j06", 500)
    assert sorted(rows["code"]) == sorted(c for c in everything["code"] if c in j06) and len(rows)
    assert summary.startswith(f"{len(rows)} of 24 rows with code J06")
    assert json.loads(rows["symptoms"].iloc[0]) and json.loads(rows["messages"].iloc[0])[0]["role"] == "system"
    assert len(browse.browse(config, folder, "K29", "", 5)[0]) == 5
    assert browse.browse(config, folder, "K29", "J06", 500)[0].empty
    assert "no config 'X'" in error_of(app, browse.browse, config, folder, "X", "", 10)
    assert "unknown ICD-10 code" in error_of(app, browse.browse, config, folder, "all", "ZZZ", 10)


def test_a_hub_dataset_is_one_line_offline_and_local_names_stay_local(app, config, space_data, tmp_path):
    """The Datasets tab reads a Hub dataset id when online (on a Space); offline (this session) it says so in one
    line. A folder's public name shaped like a Hub id (`space-data/published`) stays a local folder."""
    from medsyn_hf.space import ui

    hub = browse.HUB_EXAMPLE
    for handler, args in ((browse.browse, (config, hub, "default", "", 10)), (ui.configs, (config, hub))):
        message = error_of(app, handler, *args)
        assert message.startswith(f"{hub}: a Hub dataset, and this app runs offline (HF_HUB_OFFLINE=1")
        assert "\n" not in message
    # online, a Hub id is read by medsyn_hf.data's one loader (which reads a folder alike): every split, tagged
    table = browse.read_hub(str(space_data / "published"), "all")
    assert table.num_rows == 24 and set(table["split"].to_pylist()) == {"train"} and "code" in table.column_names
    assert browse.hub_id(config, f"{space_data.name}/published") is None
    assert browse.dataset_configs(config, f"{space_data.name}/published") == ["J06", "K29", "all"]
    assert ui.folders(config).choices[-1] == (hub, hub)  # offered besides the local folders (the card's datasets)
    card = tmp_path / "README.md"
    card.write_text("---\ntitle: x\ndatasets:\n- someone/notes\n---\n", encoding="utf-8")
    assert browse.card_datasets(card) == ("someone/notes",) and browse.card_datasets(tmp_path / "no") == (hub,)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A data folder with both datasets the project publishes: notes (NOTES_FEATURES: the code in `ICD-10`, split
    train/rejected as `medsyn publish` writes them) and instruction data (a limited real `ift build`: `icd10`)."""
    import datasets
    from huggingface_hub import DatasetCard

    from medsyn_hf.hub import write_folder
    from medsyn_hf.ift.build import build_ift
    from medsyn_hf.schemas import NOTES_FEATURES

    root = tmp_path_factory.mktemp("published")
    codes = ["J06.9", "K29.7", "J06", "J20.9", "K29.0", "J06.0"]
    notes = datasets.Dataset.from_list(
        [
            {
                **dict.fromkeys(NOTES_FEATURES),
                "idx": i,
                "ICD-10": code,
                "example": False,
                "response": f"Жалобы на кашель, запись {i}.",
                "symptoms": ["кашель"],
            }
            for i, code in enumerate(codes)
        ],
        features=NOTES_FEATURES,
    )
    card = DatasetCard(
        "---\nlicense: mit\nlanguage: [ru]\ntask_categories: [text-generation]\n"
        "size_categories: [n<1K]\nsource_datasets: [original]\npretty_name: Space test notes\n---\n"
        "# Space test notes\n"
    )
    write_folder(
        root / "ru-notes", {"default": {"train": notes.select(range(4)), "rejected": notes.select([4, 5])}}, card
    )
    build_ift(root / "ift", SOURCES, limit=12)
    return root


@pytest.mark.parametrize("dataset, column", [("ru-notes", "ICD-10"), ("ift", "icd10")])
def test_browse_filters_both_published_datasets_by_their_code_column(app, published, kg, dataset, column):
    from datasets import load_dataset

    config = app.Config.make([published])
    folder = f"{published.name}/{dataset}"
    assert folder in browse.dataset_folders(config)
    for name in browse.card_configs(published / dataset):
        rows = load_dataset(str(published / dataset), name)
        values = [v for split in rows.values() for v in split[column]]
        category = next(v[:3] for v in values if v)
        family = {category, *kg.descendants(category)}
        shown, summary = browse.browse(config, folder, name, category.lower(), 500)
        assert sorted(shown[column]) == sorted(v for v in values if v in family) and len(shown)
        assert summary.startswith(f"{len(shown)} of {len(values)} rows with code {category}")
    assert "unknown ICD-10 code" in error_of(app, browse.browse, config, folder, name, "ZZZ", 10)


def test_browse_refuses_to_filter_a_dataset_without_a_code_column(app, published, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    shutil.copytree(published / "ru-notes", tmp_path / "no-code")
    for shard in (tmp_path / "no-code" / "data").rglob("*.parquet"):
        pq.write_table(pq.read_table(shard).drop_columns(["ICD-10"]), shard)
    config = app.Config.make([tmp_path])
    assert "has no ICD-10 code column to filter on (one of ICD-10, icd10, code)" in error_of(
        app, browse.browse, config, f"{tmp_path.name}/no-code", "default", "J06", 10
    )
    assert len(browse.browse(config, f"{tmp_path.name}/no-code", "default", "", 10)[0]) == 6  # unfiltered: fine


def test_an_adapter_builds_only_on_a_model_inside_the_data_folders(app, tiny_model_dir, tmp_path):
    """adapter_config.json names its base model: from the data folders it may not reach outside them."""
    import os
    import shutil

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    data = tmp_path / "data"
    shutil.copytree(tiny_model_dir, data / "base")
    lora = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    get_peft_model(AutoModelForCausalLM.from_pretrained(data / "base"), lora).save_pretrained(data / "adapter")
    adapter_config = data / "adapter" / "adapter_config.json"
    settings = json.loads(adapter_config.read_text(encoding="utf-8"))
    assert settings["base_model_name_or_path"] == str(data / "base")
    (data / "escape").symlink_to(tiny_model_dir, target_is_directory=True)
    config = app.Config.make([data])
    prior = priors.sample("K29", 1, 0, 10.0, "short", 0)[2]
    choice = f"{data.name}/adapter"
    assert models.loadable(config, choice) == (str(data / "adapter"), str(data / "base"))
    assert list(app.generate(config, prior, choice, 0.0, 8, 0))[-1][0]  # the adapter on its base, merged

    def point_to(base):
        adapter_config.write_text(json.dumps({**settings, "base_model_name_or_path": base}), encoding="utf-8")

    for base in (str(tiny_model_dir), os.path.relpath(tiny_model_dir), str(data / "escape"), f"{data}/../..", "/"):
        point_to(base)
        message = error_of(app, app.generate, config, prior, choice, 0.0, 8, 0)
        assert message == (
            f"{choice}: the adapter's base model (base_model_name_or_path in adapter_config.json) "
            "lies outside the configured data folders"
        )
    point_to(str(tiny_model_dir))  # the operator's default model may be the base wherever it lives
    assert models.loadable(app.Config.make([data], tiny_model_dir), choice)[1] == str(tiny_model_dir.resolve())
    point_to(str(data))
    assert "the adapter's base model is not a model folder" in error_of(app, models.loadable, config, choice)
    point_to("medsyn/llama-2-7b-ru")  # a Hub id stays one: only a Space, online, downloads it
    assert models.loadable(config, choice)[1] == "medsyn/llama-2-7b-ru"


def test_gpu_decorator_falls_back_to_a_no_op(app):
    if app.gpu.__module__.startswith("spaces"):
        pytest.skip("the spaces package is installed")

    def f():
        return 1

    assert app.gpu(f) is f and app.gpu(duration=10)(f) is f


def test_space_card():  # its requirements.txt is deploy.py's (test_space_deploy.py)
    import gradio
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(SPACE / "README.md").data
    assert card.sdk == "gradio" and card.sdk_version == gradio.__version__  # the Space runs what the tests ran
    assert (SPACE / card.app_file).is_file() and card.license == "cc-by-sa-4.0"  # it bundles the CC BY-SA writer
    assert 0 < len(card.short_description) <= 60
    assert card.models is None and card.datasets is None  # deploy.py names what a bundle uses (test_space_deploy.py)


# -- the app served ---------------------------------------------------------------------------------------------------
def test_every_endpoint_through_gradio_client(space_url, space_data, kg):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(space_url, verbose=False)
    called = set()

    def call(api_name, *args):
        called.add(api_name)
        return client.predict(*args, api_name=api_name)

    hits, best = call("/search", "остррый ларингит")
    assert best == "J04.0" and hits["data"][0][0] == "J04.0"
    markdown, symptoms, picture = call("/code", "K29")
    assert "**K29** Гастрит и дуоденит" in markdown and symptoms["data"][0][0] == kg.symptoms("K29")[0].name
    with open(picture, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    table, prompt, prior = call("/sample", "K29", 3, 1, 5.0, "short", 1)
    assert len(table["data"]) == 3 and json.loads(prior)["code"] == table["data"][1][0] and "[user]" in prompt

    called.add("/generate")
    job = client.submit(prior, "default", 0.0, 16, 0, api_name="/generate")
    note, pieces, checks = job.result()
    assert len(job.outputs()) >= 3 and note and job.outputs()[-1][0] == note
    assert "".join(p["token"] for p in pieces) == note and 0 <= checks["symptom_recall"] <= 1

    folder = call("/folders")["value"]  # dropdown updates: choices and value
    assert folder == f"{space_data.name}/published"
    assert call("/configs", folder)["choices"] == [["J06", "J06"], ["K29", "K29"], ["all", "all"]]
    rows, summary = call("/browse", folder, "all", "K29", 100)
    assert rows["data"] and all(row[rows["headers"].index("code")].startswith("K29") for row in rows["data"])

    api = client.view_api(print_info=False, return_format="dict")
    assert called == set(api["named_endpoints"])  # a new endpoint needs a check here

    for api_name, args, message in [
        ("/code", ("K99.99",), "unknown ICD-10 code 'K99.99'"),
        ("/browse", ("/etc", "all", "", 10), "outside the configured data folders"),
        ("/generate", (prior.replace("K29", "K99"), "default", 0.5, 24, 0), "unknown ICD-10 code 'K99"),
        ("/generate", (prior, "default", 9.0, 24, 0), "greater than maximum value 2.0"),  # the slider's own check
    ]:
        with pytest.raises(AppError) as err:
            client.predict(*args, api_name=api_name)
        assert message in str(err.value) and "Traceback" not in str(err.value)


def test_config_shows_no_server_paths(space_url, space_data, tiny_model_dir):
    """gradio's /config goes to every visitor: dropdowns hold public names (data folder's name + path inside it)."""
    import os
    import urllib.request
    from pathlib import Path

    with urllib.request.urlopen(space_url + "config", timeout=30) as response:
        text = response.read().decode("utf-8")
    assert f'"{space_data.name}/published"' in text and f'"{space_data.name}/models/tiny"' in text
    for path in (space_data, tiny_model_dir, REPO, space_data.parent):
        assert str(path) not in text

    def strings(value):
        if isinstance(value, dict):
            yield from (s for v in value.values() for s in strings(v))
        elif isinstance(value, list):
            yield from (s for v in value for s in strings(v))
        elif isinstance(value, str):
            yield value

    server_paths = [
        s for s in strings(json.loads(text)) if s.startswith("/") and len(Path(s).parts) > 2 and os.path.lexists(s)
    ]
    assert not server_paths


def test_priors_tab_shows_why_each_symptom_was_drawn(space_url, kg):
    """Each drawn symptom with its MKG weight and sources (and, for a subcode, the category it inherited it from)."""
    from gradio_client import Client

    from medsyn_hf.priors import sample_priors

    table = Client(space_url, verbose=False).predict("J06 K29", 8, 3, 3.0, "short", 0, api_name="/sample")[0]
    columns = table["headers"]
    rows = [dict(zip(columns, row)) for row in table["data"]]
    expected = sample_priors(
        kg, 8, seed=3, mode="random", codes=["J06", "K29"], temperature=3.0, example_p=0.0, templates={"short": 1.0}
    )
    assert [r["code"] for r in rows] == expected["code"] and any("." in r["code"] for r in rows)
    inherited = 0
    for row, symptoms in zip(rows, expected["symptoms"]):
        parts = row["why (MKG weight 0-10 · sources)"].split("; ")
        assert len(parts) == len(symptoms) and row["symptoms"] == ", ".join(symptoms)
        for part, symptom in zip(parts, symptoms):
            own = {s.name: s for s in kg.symptoms(row["code"])}
            if symptom in own:
                assert part == f"{symptom}: {own[symptom].weight:g} · {', '.join(own[symptom].sources)}"
            else:  # drawn through the category (is-a inheritance): named with the edge it came from
                category = row["code"][:3]
                key = next(s.key for s in kg.symptoms(category) if s.name == symptom)
                edge = kg.graph.edges[category, "sym:" + key]
                assert part == f"{symptom}: {edge['weight']:g} · {', '.join(edge['sources'])} (from {category})"
                inherited += 1
    assert inherited  # the default policy lets subcodes draw their category's voiced complaints
