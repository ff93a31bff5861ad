"""Dataset cards and Hub-layout folders: rendering, the Hub's metadata rules, `load_dataset` on the folder, pushing."""

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest
from conftest import REPO
from datasets import Dataset, load_dataset
from huggingface_hub import DatasetCard

from medsyn_hf.card import CARD_DIR, render_card, size_category, validate_card
from medsyn_hf.errors import MedsynError
from medsyn_hf.hub import push_folder, write_folder

METADATA = {
    "license": "mit",
    "language": ["ru"],
    "task_categories": ["text-generation"],
    "size_categories": ["n<1K"],
    "source_datasets": ["original"],
    "pretty_name": "Тестовый набор",
}
TEMPLATE = (
    "---\n{{ card_data }}\n---\n\n# {{ pretty_name }}\n\n"
    "{% for k, v in counts.items() %}- {{ k }}: {{ v }}\n{% endfor %}"
)


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "t.md"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


@pytest.fixture
def card(template):
    return render_card(template, METADATA, counts={"a": 3, "b": 1})


def configs():
    return {
        "a": {"train": Dataset.from_dict({"x": ["один", "два", "три"]})},
        "b": {"train": Dataset.from_dict({"x": ["четыре"]}), "validation": Dataset.from_dict({"x": ["пять"]})},
    }


def test_render_fills_front_matter_and_body(card):
    assert card.data.license == "mit" and card.data.language == ["ru"] and card.data.pretty_name == "Тестовый набор"
    assert "# Тестовый набор" in card.text and "- a: 3\n- b: 1" in card.text


def test_render_refuses_a_missing_fact_and_a_missing_template(template, tmp_path):
    with pytest.raises(MedsynError, match="'counts' is undefined"):
        render_card(template, METADATA)
    with pytest.raises(MedsynError, match="not found"):
        render_card(tmp_path / "absent.md", METADATA)


def test_card_templates_live_in_dataset_card():
    assert (CARD_DIR / "ift.md").is_file() and CARD_DIR == REPO / "dataset_card"


@pytest.mark.parametrize(
    "n, label", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (40_546, "10K<n<100K"), (100_000, "100K<n<1M")]
)
def test_size_category(n, label):
    assert size_category(n) == label


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"license": "my-own-license"}, "license: 'my-own-license' not allowed"),
        ({"license": "other"}, "license: 'other' needs license_name and license_link"),
        ({"language": ["russian"]}, "language: 'russian' not allowed"),
        ({"size_categories": ["5K"]}, "size_categories: '5K' not allowed"),
        ({"task_categories": ["medical-notes"]}, "task_categories: 'medical-notes' not allowed"),
        ({"pretty_name": None}, "pretty_name: missing"),
        ({"source_datasets": None}, "source_datasets: missing"),
        ({"configs": [{"data_files": "data/*"}]}, "configs: Each config must include `config_name`"),
        (
            {
                "configs": [
                    {"config_name": "a", "data_files": "x/*", "default": True},
                    {"config_name": "b", "data_files": "y/*", "default": True},
                ]
            },
            "several default configs",
        ),
    ],
)
def test_validate_reports_each_hub_rule(change, problem):
    data = {**METADATA, "configs": [{"config_name": "default", "data_files": "data/*"}], **change}
    card = DatasetCard("---\n" + json.dumps({k: v for k, v in data.items() if v is not None}) + "\n---\n# x\n")
    with pytest.raises(MedsynError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        validate_card(card)


def test_validate_accepts_a_good_card_given_as_text_or_path(tmp_path):
    text = "---\n" + json.dumps({**METADATA, "configs": [{"config_name": "default", "data_files": "d/*.parquet"}]})
    text += "\n---\n# ok\n"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.parquet").write_bytes(b"")
    (tmp_path / "README.md").write_text(text, encoding="utf-8")
    assert validate_card(text).data.license == "mit"
    validate_card(tmp_path / "README.md", folder=tmp_path)
    with pytest.raises(MedsynError, match="match no file"):
        validate_card(text, folder=tmp_path / "d")


def test_folder_loads_like_the_hub(tmp_path, card):
    out = write_folder(tmp_path / "ds", configs(), card, union_config="all", default_config="all")
    default = load_dataset(str(out))
    assert sorted(default["train"]["x"]) == sorted(["один", "два", "три", "четыре"])
    assert default["validation"]["x"] == ["пять"]
    assert load_dataset(str(out), "a")["train"]["x"] == ["один", "два", "три"]
    assert set(load_dataset(str(out), "b")) == {"train", "validation"}
    written = DatasetCard.load(out / "README.md")
    assert [c["config_name"] for c in written.data.configs] == ["a", "b", "all"]
    assert [c.get("default", False) for c in written.data.configs] == [False, False, True]
    info = {i["config_name"]: i for i in written.data.dataset_info}
    assert [s["num_examples"] for s in info["all"]["splits"]] == [4, 1]
    assert "- a: 3" in written.text


def test_extra_files_travel_with_the_folder(tmp_path, card):
    out = write_folder(
        tmp_path / "ds",
        configs(),
        card,
        default_config="a",
        files={"plot.png": b"\x89PNG", "docs/notes.txt": "заметки".encode()},
    )
    assert (out / "plot.png").read_bytes() == b"\x89PNG"
    assert (out / "docs" / "notes.txt").read_text(encoding="utf-8") == "заметки"
    assert load_dataset(str(out))["train"]["x"] == ["один", "два", "три"]
    for bad in ("../escape.txt", "data/x.parquet", "README.md"):
        with pytest.raises(MedsynError, match="extra file"):
            write_folder(tmp_path / "other", configs(), card, files={bad: b""})
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "other").exists()


def test_large_splits_are_sharded_in_order(tmp_path, card):
    ds = Dataset.from_dict({"x": [f"строка {i}" for i in range(1000)]})
    out = write_folder(tmp_path / "ds", {"default": {"train": ds}}, card, max_shard_size=2000)
    shards = sorted((out / "data" / "default").glob("train-*.parquet"))
    assert len(shards) > 1 and shards[-1].name.endswith(f"-of-{len(shards):05d}.parquet")
    assert load_dataset(str(out))["train"]["x"] == ds["x"]


def test_a_failed_write_keeps_the_previous_folder(tmp_path, card):
    out = write_folder(tmp_path / "pub" / "ds", configs(), card, union_config="all", default_config="all")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    bad = DatasetCard(str(card).replace("license: mit", "license: nonsense"))
    with pytest.raises(MedsynError, match="license"):
        write_folder(out, {"c": {"train": Dataset.from_dict({"x": ["шесть"]})}}, bad)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert [p.name for p in out.parent.iterdir()] == ["ds"]  # no temporary folder left behind


def test_write_refuses_bad_names_and_mixed_schemas(tmp_path, card):
    with pytest.raises(MedsynError, match="split name"):
        write_folder(tmp_path / "x", {"a": {"my-split": Dataset.from_dict({"x": ["1"]})}}, card)
    with pytest.raises(MedsynError, match="is empty"):
        write_folder(tmp_path / "x", {"a": {"train": Dataset.from_dict({"x": []})}}, card)
    with pytest.raises(MedsynError, match="default config 'zzz'"):
        write_folder(tmp_path / "x", configs(), card, default_config="zzz")
    mixed = {"a": {"train": Dataset.from_dict({"x": ["1"]})}, "b": {"train": Dataset.from_dict({"y": [1]})}}
    with pytest.raises(MedsynError, match="share one schema"):
        write_folder(tmp_path / "x", mixed, card, union_config="all")
    assert not (tmp_path / "x").exists()


class _Unauthorised(http.server.BaseHTTPRequestHandler):
    def _deny(self):
        body = json.dumps({"error": "Invalid username or password."}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _deny

    def log_message(self, *args):
        pass


def _push_in_subprocess(folder, endpoint):
    """huggingface_hub reads HF_HUB_OFFLINE / HF_ENDPOINT at import time, so the push runs in a fresh interpreter."""
    code = (
        "import sys\nfrom medsyn_hf.errors import MedsynError\nfrom medsyn_hf.hub import push_folder\n"
        f"try:\n    push_folder({str(folder)!r}, 'someone/medsyn-test', token='hf_invalid')\n"
        "except MedsynError as err:\n    print(err)\n    sys.exit(2)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": endpoint, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_push_errors_become_one_line(tmp_path, card):
    out = write_folder(tmp_path / "ds", configs(), card, union_config="all", default_config="all")
    with pytest.raises(MedsynError, match="HF_HUB_OFFLINE is set"):  # the test session runs offline
        push_folder(out, "someone/medsyn-test")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorised)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        denied = _push_in_subprocess(out, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert denied.returncode == 2, denied.stderr
    assert "not authorised (HTTP 401)" in denied.stdout and len(denied.stdout.strip().splitlines()) == 1
    refused = _push_in_subprocess(out, f"http://127.0.0.1:{server.server_address[1]}")  # nothing listens any more
    assert refused.returncode == 2, refused.stderr
    assert "cannot push" in refused.stdout and "Traceback" not in refused.stderr
