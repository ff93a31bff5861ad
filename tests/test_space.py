"""The demo Space: its handlers called directly, then the app served on 127.0.0.1 and every endpoint called through
gradio_client (the browser test is in test_space_browser.py)."""

import importlib.util
import json
import sys

import pytest
from conftest import REPO

from medsyn_hf.filters.overlap import copy_ratio
from medsyn_hf.filters.recall import symptoms_present
from medsyn_hf.prompts import TEMPLATE_NAMES, render_messages

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
    return app.Config.make([space_data], tiny_model_dir)


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
    hits, best = app.search("остррый ларингит")  # two typos
    assert best == "J04.0" and best == hits["code"][0]
    assert [tuple(r) for r in hits.itertuples(index=False)] == kg.search("остррый ларингит", limit=20)
    assert app.search("diabetes")[1].startswith("E1")
    assert "no ICD-10 code matches" in error_of(app, app.search, "qqqqqqqq zzzzzz")
    assert "too long" in error_of(app, app.search, "x" * (app.MAX_QUERY + 1))
    assert "empty" in error_of(app, app.search, "  ")


def test_code_shows_hierarchy_weighted_symptoms_and_a_picture(app, kg):
    markdown, symptoms, picture = app.show_code("k29")
    assert "**K29** Гастрит и дуоденит" in markdown
    for node in kg.path("K29"):
        assert f"{node} {kg.graph.nodes[node]['name_ru']}" in markdown.replace("**", "")
    assert list(symptoms["symptom"]) == [s.name for s in kg.symptoms("K29")]
    assert list(symptoms["weight"]) == sorted(symptoms["weight"], reverse=True) and symptoms["weight"].iloc[0] > 0
    assert picture.size == (800, 650)
    # The focus node is drawn red, symptoms green: the picture is a drawing of the graph, not a blank canvas.
    colours = {rgb for _, rgb in picture.convert("RGB").getcolors(1 << 20)}
    assert {(214, 39, 40), (44, 160, 44)} <= colours
    assert "unknown ICD-10 code 'K99.99'" in error_of(app, app.show_code, "K99.99")


def test_priors_are_reproducible_and_show_the_rendered_prompt(app):
    table, prompt, prior = app.sample("K29", 4, 7, 1.0, "anamnesis_patient", 2)
    again = app.sample("K29", 4, 7, 1.0, "anamnesis_patient", 2)
    assert table.equals(again[0]) and (prompt, prior) == again[1:]
    prior = json.loads(prior)
    assert list(table["code"])[2] == prior["code"] and all(c.startswith("K29") for c in table["code"])
    assert set(table["template"]) == {"anamnesis_patient"}
    assert prompt == app.prompt_text(render_messages(prior, prior["template"]))
    assert ", ".join(prior["symptoms"]) in prompt
    assert app.sample("K29", 4, 8, 1.0, "anamnesis_patient", 2)[1] != prompt  # another seed, another prior
    for template in TEMPLATE_NAMES:
        assert app.sample("J06", 3, 0, 10.0, template, 0)[0]["template"].iloc[0] in TEMPLATE_NAMES


@pytest.mark.parametrize("args, message", [
    (("", 5, 0, 0.01, "mix", 0), "symptom temperature must be between 0.1 and 100.0"),
    (("", 21, 0, 10, "mix", 0), "number of priors must be between 1 and 20"),
    (("", 5, 0, 10, "mix", 5), "row must be between 0 and 4"),
    (("", 5, 1.5, 10, "mix", 0), "seed must be a whole number"),
    (("", 5, 0, 10, "nonesuch", 0), "unknown prompt template 'nonesuch'"),
    (("Q99.99", 5, 0, 10, "mix", 0), "unknown ICD-10 code"),
])
def test_priors_reject_bad_input(app, args, message):
    assert message in error_of(app, app.sample, *args)


def test_found_symptoms_are_highlighted_with_recall_and_copy_ratio(app):
    prior = {"symptoms": ["боль в горле", "кашель", "головокружение"], "example": NOTE[:60]}
    pieces, checks = app.note_checks(NOTE, prior)
    assert "".join(text for text, _ in pieces) == NOTE
    marked = [(text.lower(), label) for text, label in pieces if label]
    assert ("боли", "боль в горле") in marked and ("кашель", "кашель") in marked and ("горле", "боль в горле") in marked
    assert not any(label == "головокружение" for _, label in marked)
    assert checks == {"symptom_recall": 2 / 3, "found": ["боль в горле", "кашель"], "missing": ["головокружение"],
                      "copy_ratio": copy_ratio(NOTE, NOTE[:60])}
    assert 0 < checks["copy_ratio"] < 1


def test_generate_streams_a_note_and_checks_it(app, config):
    prior = app.sample("K29", 1, 3, 10.0, "short", 0)[2]
    outputs = list(app.generate(config, prior, app.DEFAULT_MODEL, 0.0, 16, 0))
    notes = [note for note, _, _ in outputs]
    assert len(outputs) >= 3 and notes[-1] and all(b.startswith(a) for a, b in zip(notes, notes[1:]))
    assert outputs[0][1:] == (None, None)  # highlighting and checks come with the finished note
    note, pieces, checks = outputs[-1]
    assert "".join(text for text, _ in pieces) == note
    symptoms = json.loads(prior)["symptoms"]
    assert checks["symptom_recall"] == sum(symptoms_present(note, symptoms)) / len(symptoms)
    # The same seed repeats a sampled note, from the default model or its copy picked by path in the data folder.
    sampled = list(app.generate(config, prior, str(config.data_dirs[0] / "models" / "tiny"), 1.0, 8, 5))[-1][0]
    assert sampled and list(app.generate(config, prior, app.DEFAULT_MODEL, 1.0, 8, 5))[-1][0] == sampled


@pytest.mark.parametrize("edit, message", [
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
])
def test_generate_rejects_bad_priors(app, config, edit, message):
    prior = {**json.loads(app.sample("K29", 1, 0, 10.0, "anamnesis_patient", 0)[2]), **edit}
    prior = json.dumps(prior, ensure_ascii=False)
    assert message in error_of(app, app.generate, config, prior, app.DEFAULT_MODEL, 0.5, 16, 0)


def test_generate_rejects_bad_settings(app, config):
    prior = app.sample("K29", 1, 0, 10.0, "short", 0)[2]
    assert "temperature must be between 0.0 and 2.0" in error_of(
        app, app.generate, config, prior, app.DEFAULT_MODEL, 2.5, 16, 0)
    assert "max new tokens must be between 1 and 512" in error_of(
        app, app.generate, config, prior, app.DEFAULT_MODEL, 0.5, 10_000, 0)
    assert "prior is not valid JSON" in error_of(app, app.generate, config, "{oops", app.DEFAULT_MODEL, 0.5, 16, 0)


def test_paths_outside_the_data_folders_are_refused(app, config, space_data, tiny_model_dir):
    inside = space_data / "models" / "tiny"
    assert app.inside(str(inside), config.data_dirs) == inside.resolve()
    dotdot = space_data / ".." / tiny_model_dir.parent.name / tiny_model_dir.name
    no_default = app.Config.make([space_data])
    for path in (tiny_model_dir, space_data / "models" / "escape", dotdot, "/etc"):
        assert "outside the configured data folders" in error_of(app, app.inside, str(path), config.data_dirs)
        assert "outside the configured data folders" in error_of(app, app.browse, config, str(path), "all", "", 10)
        assert "outside the configured data folders" in error_of(app, app.resolve_model, no_default, str(path))
    assert "not found" in error_of(app, app.inside, str(space_data / "missing"), config.data_dirs)
    assert "not a model folder" in error_of(app, app.resolve_model, config, str(space_data / "published"))
    # The configured default model may live anywhere, however it is named; it is listed once, as "default".
    for path in (tiny_model_dir, space_data / "models" / "escape", dotdot):
        assert app.resolve_model(config, str(path)) == tiny_model_dir.resolve()
    assert app.model_choices(config) == [app.DEFAULT_MODEL, str(inside)]
    assert "outside the configured data folders (none configured)" in error_of(
        app, app.inside, str(inside), app.Config.make([], None).data_dirs)


def test_default_model_is_the_trained_demo_model_when_present(app, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo" / "sft").symlink_to(tiny_model_dir, target_is_directory=True)
    assert app.resolve_model(app.Config.make([], None, tmp_path / "cache"), app.DEFAULT_MODEL) == tiny_model_dir
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_default_model_is_built_on_first_use(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/demo/sft here
    config = app.Config.make([], None, tmp_path / "cache")
    built = app.resolve_model(config, app.DEFAULT_MODEL)
    assert built == tmp_path / "cache" / "tiny-model" and app.is_model_folder(built)
    prior = app.sample("K29", 1, 0, 10.0, "short", 0)[2]
    assert list(app.generate(config, prior, app.DEFAULT_MODEL, 0.0, 4, 0))[-1][0]


def test_browse_filters_a_published_dataset_by_code(app, config, space_data, kg):
    from datasets import load_dataset

    folder = str(space_data / "published")
    assert app.dataset_folders(config) == [folder]
    assert app.card_configs(space_data / "published").keys() == {"J06", "K29", "all"}
    rows, summary = app.browse(config, folder, "all", "", 500)
    everything = load_dataset(folder, "all", split="train")
    assert len(rows) == everything.num_rows == 24 and summary.startswith("24 of 24 rows")
    j06 = {"J06", *kg.descendants("J06")}
    rows, summary = app.browse(config, folder, "all", "j06", 500)
    assert sorted(rows["code"]) == sorted(c for c in everything["code"] if c in j06) and len(rows)
    assert summary.startswith(f"{len(rows)} of 24 rows with code J06")
    assert json.loads(rows["symptoms"].iloc[0]) and json.loads(rows["messages"].iloc[0])[0]["role"] == "system"
    assert len(app.browse(config, folder, "K29", "", 5)[0]) == 5
    assert app.browse(config, folder, "K29", "J06", 500)[0].empty
    assert "no config 'X'" in error_of(app, app.browse, config, folder, "X", "", 10)
    assert "unknown ICD-10 code" in error_of(app, app.browse, config, folder, "all", "ZZZ", 10)


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
    assert (SPACE / card.app_file).is_file() and card.license == "mit"
    assert 0 < len(card.short_description) <= 60 and card.models and card.datasets


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
    assert folder == str(space_data / "published")
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
