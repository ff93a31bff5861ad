"""deploy.py: the Space repository folder it writes runs on its own (the library bundled as source, the model as
``model/``), its requirements come from setup.cfg, and bad input is one line that writes nothing and loses nothing."""

import configparser
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, free_port, served
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from medsyn_hf.io import MARKER
from medsyn_hf.space.browse import HUB_EXAMPLE, card_datasets

SPACE = REPO / "spaces" / "medsyn-demo"


def deploy(*args, **env):
    return subprocess.run(
        [sys.executable, str(SPACE / "deploy.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medsyn-demo: error: "), result.stderr
    return lines[0]


def tree(folder, prefix: str = "") -> dict[str, bytes]:
    """{relative path: bytes} of every file under ``folder``, byte code aside."""
    return {
        prefix + p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def expected_tree(model=None) -> dict[str, bytes]:
    """What a bundle holds besides requirements.txt and its card: the app, the library's source, the model."""
    return {
        "app.py": (SPACE / "app.py").read_bytes(),
        **tree(REPO / "medsyn_hf", "medsyn_hf/"),
        **(tree(model, "model/") if model else {}),
    }


def card_of(folder):
    """The bundle's Space card: metadata, and its text, which must be the template's."""
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(folder / "README.md")
    assert card.text == SpaceCard.load(SPACE / "README.md").text
    return card.data


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_model_dir):
    out = tmp_path_factory.mktemp("deploy") / "space"
    result = deploy("--out", out, "--model", tiny_model_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Space folder: {out}"
    return out


def test_bundle_holds_the_app_the_library_and_the_model(bundle, tiny_model_dir):
    files = tree(bundle)
    assert files.pop("requirements.txt") and files.pop("README.md")
    assert json.loads(files.pop(MARKER))["command"] == "spaces/medsyn-demo/deploy.py"  # a re-run may replace it
    assert files == expected_tree(tiny_model_dir)
    assert not [p for p in bundle.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    for pattern in setup_cfg()["options.package_data"]["medsyn_hf"].split(","):  # resources, templates, metrics
        assert list((bundle / "medsyn_hf").glob(pattern.strip())), pattern
    assert (bundle / "medsyn_hf" / "resources" / "mkg.json.gz").is_file()
    assert not (SPACE / "requirements.txt").exists()  # deploy.py writes it: setup.cfg is the one source


def test_the_bundles_card_names_only_what_it_uses(bundle):
    """A model only this machine has (the random-init fixture: no Hub base) is named nowhere; the Datasets tab's Hub
    example is."""
    card = card_of(bundle)
    assert card.models is None and card.datasets == [HUB_EXAMPLE] and card.sdk == "gradio"


def test_requirements_come_from_setup_cfg(bundle):
    cfg = setup_cfg()
    declared: dict[str, SpecifierSet] = {}
    for value in (cfg["options"]["install_requires"], *(cfg["options.extras_require"][e] for e in ("train", "space"))):
        for line in value.splitlines():
            if line.split("#")[0].strip():
                req = Requirement(line.split("#")[0])
                name = canonicalize_name(req.name)
                declared[name] = declared.get(name, SpecifierSet()) & req.specifier
    lines = (bundle / "requirements.txt").read_text(encoding="utf-8").splitlines()
    reqs = {canonicalize_name(r.name): r.specifier for r in map(Requirement, (x for x in lines if x and x[0] != "#"))}
    assert len(reqs) == len([x for x in lines if x and x[0] != "#"])  # each package once
    assert {"transformers", "trl", "peft", "datasets", "matplotlib"} <= reqs.keys()
    assert not {"gradio", "medsyn-hf"} & reqs.keys()  # the SDK installs gradio; the library is the folder
    torch = reqs.pop("torch")
    assert str(torch) == f"=={Version(importlib.metadata.version('torch')).base_version}"  # what the tests ran
    assert reqs == {name: spec for name, spec in declared.items() if name != "gradio"}


def test_bundled_model_is_the_default_and_an_explicit_one_wins(bundle, tiny_model_dir, tmp_path, monkeypatch):
    from medsyn_hf.space.models import DEFAULT_MODEL, resolve_model

    spec = importlib.util.spec_from_file_location("medsyn_bundled_app", bundle / "app.py")
    app = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, app)  # dataclasses look their module up there
    spec.loader.exec_module(app)
    monkeypatch.chdir(tmp_path)  # with a trained demo model here too: the bundled one comes first
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo" / "sft").symlink_to(tiny_model_dir, target_is_directory=True)
    config = app.Config.make([], None, tmp_path / "cache")
    assert resolve_model(config, DEFAULT_MODEL) == (bundle / "model").resolve()
    assert resolve_model(app.Config.make([], tiny_model_dir), DEFAULT_MODEL) == tiny_model_dir.resolve()
    assert not (tmp_path / "cache").exists()


def test_bad_model_or_out_is_one_line_and_loses_nothing(tmp_path, tiny_model_dir):
    out = tmp_path / "space"
    not_model = tmp_path / "not-model"
    not_model.mkdir()
    (not_model / "config.json").write_text("{}")  # no tokenizer
    assert "not a model folder" in error_line(deploy("--out", out, "--model", not_model))
    assert "model folder not found" in error_line(deploy("--out", out, "--model", tmp_path / "missing"))
    local = tmp_path / "adapter-local"
    local.mkdir()
    (local / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_model_dir)}))
    assert "LoRA adapter of the local model" in error_line(deploy("--out", out, "--model", local))
    assert "invalid repo id" in error_line(deploy("--out", out, "--repo-id", "not a repo id"))
    assert not out.exists()

    hub = tmp_path / "adapter-hub"  # an adapter of a Hub model travels as it is
    hub.mkdir()
    (hub / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "meta-llama/Llama-2-7b-hf"}))
    (hub / "checkpoint-10").mkdir()  # SFT's leftovers stay behind
    (hub / "checkpoint-10" / "optimizer.pt").write_bytes(b"x")
    assert deploy("--out", out, "--model", hub, "--dataset", "someone/ru-notes").returncode == 0
    before = tree(out)
    assert {k for k in before if k.startswith("model/")} == {"model/adapter_config.json"}
    card = card_of(out)  # the card names what the Space uses: the adapter's base, the datasets the tab offers
    assert card.models == ["meta-llama/Llama-2-7b-hf"] and card.datasets == ["someone/ru-notes", HUB_EXAMPLE]
    assert card_datasets(out / "README.md") == ("someone/ru-notes", HUB_EXAMPLE)  # what the app reads back
    assert "--dataset 'not/a/repo/id'" in error_line(deploy("--out", out, "--dataset", "not/a/repo/id"))
    assert "not a model folder" in error_line(deploy("--out", out, "--model", not_model))
    assert tree(out) == before  # the earlier bundle is intact

    kept = tmp_path / "file"
    kept.write_text("keep")
    assert "not a folder" in error_line(deploy("--out", kept))
    assert "lies inside the input" in error_line(deploy("--out", hub / "space", "--model", hub))  # what it copies
    assert sorted(p.name for p in hub.iterdir()) == ["adapter_config.json", "checkpoint-10"]
    assert "did not write" in error_line(deploy("--out", not_model))  # never swaps out a folder of something else
    assert kept.read_text() == "keep" and (not_model / "config.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter-hub", "adapter-local", "file", "not-model", "space"]


def test_offline_push_is_one_line_and_leaves_the_bundle_complete(tmp_path, tiny_model_dir):
    out = tmp_path / "space"
    result = deploy("--out", out, "--model", tiny_model_dir, "--repo-id", "someone/medsyn-demo", HF_HUB_OFFLINE="1")
    assert "cannot push" in error_line(result) and "HF_HUB_OFFLINE is set" in result.stderr
    assert result.stdout.strip() == f"Space folder: {out}"
    files = tree(out)
    assert files.pop("requirements.txt") and files.pop(MARKER) and files.pop("README.md")
    assert files == expected_tree(tiny_model_dir)


def test_the_bundle_runs_on_its_own(bundle, tmp_path):
    """`python app.py` in the bundle, as a Space starts it: no PYTHONPATH, no --model, the library and model beside."""
    from gradio_client import Client

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEDSYN_MODEL", "MEDSYN_DATA_DIRS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [
        sys.executable,
        "app.py",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dirs",
        str(tmp_path / "data"),
        "--cache",
        str(tmp_path / "cache"),
    ]
    url = f"http://127.0.0.1:{port}/"
    with served(cmd, url, tmp_path / "server.log", cwd=bundle, env=env):
        client = Client(url, verbose=False)
        hits, best = client.predict("остррый ларингит", api_name="/search")
        assert best == "J04.0" and hits["data"][0][0] == "J04.0"
        prior = client.predict("K29", 1, 3, 10.0, "short", 0, api_name="/sample")[2]
        note, _, checks = client.predict(prior, "default", 0.0, 16, 0, api_name="/generate")
        assert note and 0 <= checks["symptom_recall"] <= 1
    log = (tmp_path / "server.log").read_text()
    assert f"medsyn_hf from {(bundle / 'medsyn_hf').resolve()}\n" in log
    assert f"loading model {(bundle / 'model').resolve()}\n" in log
    assert not (tmp_path / "cache").exists()  # no tiny model was built
