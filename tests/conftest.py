"""Shared test set-up: offline Hugging Face stack, repository paths, the packaged MKG."""

import contextlib
import os
import shutil
from pathlib import Path

import pytest

for _var, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_var, _value)

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "data" / "sources"
FIXTURE_SOURCES = REPO / "tests" / "fixtures" / "sources"


@pytest.fixture(scope="session")
def kg():
    from medsyn_hf.kg import load_graph

    return load_graph()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module: a tiny model's small matrix products gain nothing from a second thread, and
    on a shared 2-core machine spinning threads slow them down several times."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """`medsyn tiny-model`'s model and tokenizer, trained on the fixture sources (small vocab: fast)."""
    from medsyn_hf.tiny_model import build

    return build(tmp_path_factory.mktemp("tiny") / "model", FIXTURE_SOURCES, vocab_size=1000)


IFT_SYSTEM = "Ты — опытный врач. Пиши медицинские записи на русском языке."


@pytest.fixture(scope="session")
def ift_dir(tmp_path_factory):
    """A tiny instruction dataset in `medsyn ift build`'s Hub layout (data/<task>/*.parquet + README configs):
    conversational prompt-completion rows from the fixture GPT notes and RuMedTop3 train complaints."""
    import gzip
    import json

    import datasets

    def row(user, answer):
        return {
            "prompt": [{"role": "system", "content": IFT_SYSTEM}, {"role": "user", "content": user}],
            "completion": [{"role": "assistant", "content": answer}],
        }

    with gzip.open(FIXTURE_SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "rt", encoding="utf-8") as f:
        notes = [json.loads(line) for line in f]
    with open(FIXTURE_SOURCES / "rumedtop3" / "train_v1.jsonl", encoding="utf-8") as f:
        complaints = [json.loads(line) for line in f]
    tasks = {
        "note_writing": [row(n["prompt"].strip(), n["response"]) for n in notes],
        "complaint_to_icd": [row(f"Жалобы: {c['symptoms']}\nУкажи код МКБ-10.", c["code"]) for c in complaints],
    }
    out = tmp_path_factory.mktemp("ift")
    configs = ""
    for task, rows in tasks.items():
        (out / "data" / task).mkdir(parents=True)
        datasets.Dataset.from_list(rows).to_parquet(str(out / "data" / task / "train-00000-of-00001.parquet"))
        configs += f"- config_name: {task}\n  data_files:\n  - split: train\n    path: data/{task}/*.parquet\n"
    (out / "README.md").write_text(f"---\nconfigs:\n{configs}---\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def space_data(tmp_path_factory, tiny_model_dir):
    """The demo Space's data folder: a published dataset (Hub layout: two configs and their union), a model, and a
    symlink to a model outside the folder (which the Space must refuse)."""
    import shutil

    from huggingface_hub import DatasetCard

    from medsyn_hf.hub import write_folder
    from medsyn_hf.kg import load_graph
    from medsyn_hf.priors import sample_priors

    root = tmp_path_factory.mktemp("space-data")
    configs = {
        code: {"train": sample_priors(load_graph(), 12, seed=i, codes=[code])} for i, code in enumerate(("J06", "K29"))
    }
    card = DatasetCard(
        "---\nlicense: mit\nlanguage: [ru]\ntask_categories: [text-generation]\nsize_categories: [n<1K]\n"
        "source_datasets: [original]\npretty_name: Space test priors\n---\n# Space test priors\n"
    )
    write_folder(root / "published", configs, card, union_config="all", default_config="all")
    shutil.copytree(tiny_model_dir, root / "models" / "tiny")
    (root / "models" / "escape").symlink_to(tiny_model_dir, target_is_directory=True)
    return root


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(cmd, url: str, log: Path, timeout: float = 180, **popen):
    """Run a server subprocess, yield it once ``url`` answers, stop it afterwards; its log tail is in any failure."""
    import subprocess
    import time
    import urllib.request

    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{' '.join(map(str, cmd[:2]))} did not start (exit code {proc.poll()}):\n"
                    f"{log.read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def tiny_model_server(tiny_model_dir, tmp_path_factory):
    """`transformers serve` (FastAPI + uvicorn, OpenAI API) serving the tiny model on 127.0.0.1: its base URL and its
    log (one access line per request). One server for the session: starting one takes tens of seconds."""
    import sys

    pytest.importorskip("openai", reason="`transformers serve` needs transformers[serving] (openai, fastapi, uvicorn)")
    port = free_port()
    cli = os.path.join(os.path.dirname(sys.executable), "transformers")
    cmd = [cli, "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
        "OMP_NUM_THREADS": "1",
    }
    with served(cmd, f"http://127.0.0.1:{port}/health", log, timeout=120, env=env):
        yield f"http://127.0.0.1:{port}/v1", log


def space_command(port: int, model, data_dirs, cache, *extra) -> tuple[list[str], dict]:
    """`python spaces/medsyn-demo/app.py` on 127.0.0.1:`port` as a subprocess: its command and environment (the
    repository importable; no SPACE_ID, so it runs as a local app, not as a Space)."""
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
    env.pop("SPACE_ID", None)
    app = REPO / "spaces" / "medsyn-demo" / "app.py"
    args = [
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--model",
        model,
        "--data-dirs",
        *data_dirs,
        "--cache",
        cache,
        *extra,
    ]
    return [sys.executable, str(app), *map(str, args)], env


@pytest.fixture(scope="session")
def space_url(tmp_path_factory, space_data, tiny_model_dir):
    """The demo Space served on 127.0.0.1 by a subprocess, exactly as `python spaces/medsyn-demo/app.py` runs it."""

    port, work = free_port(), tmp_path_factory.mktemp("space")
    cmd, env = space_command(port, tiny_model_dir, [space_data], work / "cache")
    url = f"http://127.0.0.1:{port}/"
    with served(cmd, url, work / "server.log", env=env, cwd=work):
        yield url


@pytest.fixture(scope="session")
def gpt_notes_sample():
    """Every 100th real MedSyn GPT note: 115 notes of both models (15 gpt-4, 100 gpt-3.5-turbo) and many codes."""
    import gzip
    import json

    with gzip.open(SOURCES / "medsyn_gpt_notes" / "notes.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for i, line in enumerate(f) if i % 100 == 0]


@pytest.fixture(scope="session")
def recipe_models(tmp_path_factory):
    """{Hub id: folder} of a tiny random model of each GPU recipe's architecture class with its family's tokenizer
    (tests/recipe_models.py); built once, a second each."""
    from recipe_models import FAMILIES, build_recipe_model

    root = tmp_path_factory.mktemp("recipe-models")
    return {hub_id: build_recipe_model(hub_id, root / hub_id.split("/")[1]) for hub_id in FAMILIES}


@pytest.fixture(scope="session")
def built_ift(tmp_path_factory):
    """`medsyn ift build --limit 8`: the real Hub layout (seven task configs and `all`), 8 examples per task."""
    from medsyn_hf.ift.build import build_ift

    return Path(build_ift(tmp_path_factory.mktemp("built-ift") / "ift", SOURCES, limit=8)["out"])


# -- a real browser: Selenium driving Debian's headless chromium through its chromium-driver -------------------------
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1500",
)


class Browser:
    """Selenium's Chrome driver and the few steps the page tests take: ``js`` evaluates an expression in the page,
    ``wait`` polls one until it is truthy (saving a screenshot if it never is), ``click`` and ``type`` act on the
    element an expression finds, as a user would."""

    def __init__(self, driver, failure_png: Path):
        self.driver, self.failure_png = driver, failure_png

    def get(self, url: str) -> None:
        self.driver.get(url)

    def js(self, expression: str):
        return self.driver.execute_script(f"return ({expression});")

    def wait(self, expression: str, timeout: float = 90):
        from selenium.common.exceptions import JavascriptException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        waiter = WebDriverWait(self.driver, timeout, poll_frequency=0.25, ignored_exceptions=(JavascriptException,))
        try:
            return waiter.until(lambda _: self.js(expression))
        except TimeoutException:
            page = self.screenshot(self.failure_png)
            raise TimeoutError(f"still false after {timeout} s: {expression} (the page: {page})") from None

    def click(self, expression: str) -> None:
        """A real click on the element ``expression`` finds (scrolled into view first)."""
        element = self.wait(expression)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def type(self, expression: str, text: str) -> None:
        """Key input into the element, replacing its value; retyped if the page was still re-rendering it."""
        import json
        import time

        from selenium.webdriver.common.keys import Keys

        deadline = time.monotonic() + 30
        while self.js(f"{expression}.value") != text and time.monotonic() < deadline:
            element = self.wait(expression)
            element.send_keys(Keys.CONTROL, "a")
            element.send_keys(text)
            time.sleep(0.5)
        self.wait(f"{expression}.value == {json.dumps(text)}", timeout=1)

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG (beyond the window's height)."""
        import base64

        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture
def browser(tmp_path):
    """A headless chromium driven by Selenium through Debian's chromium-driver (no driver download)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    service = Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield Browser(driver, tmp_path / "failure.png")
    finally:
        driver.quit()


def q(css: str) -> str:
    """A JavaScript expression for the first element matching ``css``."""
    import json

    return f"document.querySelector({json.dumps(css)})"
