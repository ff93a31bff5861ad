"""The remote backend and the per-request cache against a real `transformers serve` of the tiny model: a run killed
(`kill -9`) in the middle of a shard resends only the requests it had no reply for; a request failing after its
retries loses no other one; huggingface_hub's quirks (offline mode, the saved HF token) are handled.

Failures are injected by a small forwarding proxy in front of the real server (a server cannot be told to fail one
request); every reply that reaches the client is the real server's."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from conftest import REPO

from medsyn_hf.errors import MedsynError
from medsyn_hf.request_cache import read_cache

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
    "OMP_NUM_THREADS": "1",
}
pytestmark = pytest.mark.usefixtures("one_torch_thread")
COMPARED = ["idx", "seed", "response", "prompt_tokens", "completion_tokens", "finish_reason"]


@pytest.fixture(scope="module")
def priors_file(kg, tmp_path_factory):
    """12 priors as a parquet file (`dataset_name`): the runs skip sampling them from the MKG."""
    from medsyn_hf.priors import sample_priors

    path = tmp_path_factory.mktemp("priors") / "priors.parquet"
    sample_priors(kg, 12, seed=5, example_p=0.0).to_parquet(str(path))
    return path


def write_config(path, model, output_dir, url, priors, **overrides):
    config = {
        "model_name_or_path": str(model),
        "dataset_name": str(priors),
        "shard_size": 12,
        "output_dir": str(output_dir),
        "max_new_tokens": 12,
        "seed": 5,
        "backend": "openai",
        "base_url": url,
        "concurrency": 1,
        "filters": {"min_words": 1, "min_symptom_recall": 0.0},
        **overrides,
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def run_inprocess(config, *overrides):
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.run import main
    from medsyn_hf.recipe_args import parse_args

    return main(*parse_args(["--config", str(config), *overrides], make_parser()))


def notes(run_dir):
    return pq.read_table(os.path.join(run_dir, "notes.parquet")).select(COMPARED).to_pylist()


def posts(log) -> int:
    """Chat requests the server has answered so far (one access-log line each)."""
    return log.read_text(errors="replace").count("POST /v1/chat/completions")


@pytest.fixture
def proxy(tiny_model_server):
    """A proxy to the session's `transformers serve`: requests whose seed is in ``fail``, or whose body holds a text
    in ``fail_text``, get HTTP 503 instead of being forwarded; ``seen`` records every request's seed and
    Authorization header."""
    upstream = tiny_model_server[0].rsplit("/v1", 1)[0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seed = json.loads(body).get("seed")
            server.seen.append((seed, self.headers.get("Authorization")))
            if seed in server.fail or any(t.encode() in body for t in server.fail_text):
                status, reply = 503, b'{"error": "injected"}'
            else:
                request = urllib.request.Request(
                    upstream + self.path, data=body, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=120) as r:
                        status, reply = r.status, r.read()
                except urllib.error.HTTPError as err:
                    status, reply = err.code, err.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.fail, server.fail_text, server.seen = set(), set(), []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_kill_9_mid_shard_resends_only_the_missing_requests(tmp_path, tiny_model_dir, tiny_model_server, priors_file):
    url, log = tiny_model_server
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, tmp_path / "killed", url, priors_file)
    before = posts(log)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medsyn_hf.cli", "generate", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "killed.log", "wb"),
        env=ENV,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while True:  # some requests of the shard finished
        cache = list((tmp_path / "killed").glob("*/requests/shard-00000.jsonl"))
        if cache and len(read_cache(cache[0])) >= 3:
            break
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "no request finished in time"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = cache[0].parent.parent
    cached = read_cache(cache[0])
    assert 3 <= len(cached) < 12 and not (run_dir / "shards" / "shard-00000.parquet").exists()  # killed mid-shard

    time.sleep(0.5)  # the server's access log catches up
    sent = posts(log)
    report = run_inprocess(config)  # the same command again
    assert report["run_dir"] == str(run_dir) and report["notes"] == 12
    assert posts(log) - sent == 12 - len(cached)  # only the requests without a cached reply
    assert len(read_cache(cache[0])) == 12

    sent = posts(log)
    reference = run_inprocess(config, "--output_dir", str(tmp_path / "ref"))  # uninterrupted
    assert posts(log) - sent == 12 and os.path.basename(reference["run_dir"]) == run_dir.name
    assert notes(run_dir) == notes(reference["run_dir"])
    resumed = {r["key"]: r["text"] for r in cached.values()}
    assert resumed.items() <= {r["key"]: r["text"] for r in read_cache(cache[0]).values()}.items()
    assert before < sent


def test_a_failed_request_loses_no_other_and_a_rerun_sends_only_it(
    tmp_path, tiny_model_dir, proxy, priors_file, capsys
):
    from medsyn_hf.cli import main
    from medsyn_hf.generation.backends import row_key

    url = f"http://127.0.0.1:{proxy.server_address[1]}/v1"
    config = write_config(
        tmp_path / "c.yaml",
        tiny_model_dir,
        tmp_path / "runs",
        url,
        priors_file,
        shard_size=4,
        request_retries=1,
        concurrency=2,
    )
    keys = [row_key(5, s) for s in pq.read_table(priors_file)["seed"].to_pylist()]
    proxy.fail.add(keys[5])  # row 5 of shard 1 fails, and fails again when retried
    proxy.seen.clear()
    assert main(["generate", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("medsyn: error: 1 request(s) failed after their retries (first: HTTP 503")
    assert "1 of 3 shards not written" in error and "Re-run the same command" in error
    assert [s for s, _ in proxy.seen].count(keys[5]) == 2 and len(proxy.seen) == 13  # retried once; the others once
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    assert sorted(p.name for p in (run_dir / "shards").iterdir()) == ["shard-00000.parquet", "shard-00002.parquet"]
    assert len(read_cache(run_dir / "requests" / "shard-00001.jsonl")) == 3  # the other three of its shard
    assert not (run_dir / "notes.parquet").exists()

    proxy.fail.clear()  # the server recovered
    proxy.seen.clear()
    assert main(["generate", "--config", str(config)]) == 0
    assert [s for s, _ in proxy.seen] == [keys[5]]  # only the missing request
    assert [n["idx"] for n in notes(run_dir)] == list(range(12))


def test_no_saved_hf_token_goes_to_base_url_and_fatal_errors_are_one_line(
    tmp_path, tiny_model_dir, proxy, monkeypatch
):
    from medsyn_hf.generation.backends import make_backend
    from medsyn_hf.generation.config import GenerationArguments, GenerationModelConfig

    url = f"http://127.0.0.1:{proxy.server_address[1]}/v1"
    model_args = GenerationModelConfig(model_name_or_path=str(tiny_model_dir))
    messages = [[{"role": "user", "content": "Жалобы на кашель."}]]
    monkeypatch.setenv("HF_TOKEN", "hf_not_for_this_server")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = make_backend(GenerationArguments(backend="openai", base_url=url, max_new_tokens=4), model_args)
    assert backend.generate(messages, [7])[0].completion_tokens > 0  # through HF_HUB_OFFLINE=1 (set for the tests)
    assert proxy.seen[-1] == (7, "Bearer EMPTY")
    monkeypatch.setenv("MY_KEY", "sk-mine")
    keyed = GenerationArguments(backend="openai", base_url=url, max_new_tokens=4, api_key_env="MY_KEY")
    make_backend(keyed, model_args).generate(messages, [8])
    assert proxy.seen[-1] == (8, "Bearer sk-mine")

    with pytest.raises(MedsynError, match=r"HTTP 404 .*check base_url and served_model_name"):
        make_backend(
            GenerationArguments(backend="openai", base_url=url.replace("/v1", "/nowhere"), max_new_tokens=4),
            model_args,
        ).generate(messages, [9])
    with pytest.raises(MedsynError, match="needs base_url .* or provider"):
        GenerationArguments(backend="openai")
    with pytest.raises(MedsynError, match="not both"):
        GenerationArguments(backend="openai", base_url=url, provider="auto")
    with pytest.raises(MedsynError, match="offline mode"):  # an Inference Provider needs the Hub
        make_backend(
            GenerationArguments(
                backend="openai", provider="hf-inference", served_model_name="org/model", max_new_tokens=4
            ),
            model_args,
        ).generate(messages, [9])


def test_judge_keeps_every_reply_when_a_request_fails(tmp_path, tiny_model_dir, proxy, capsys):
    """`medsyn eval judge` shares the request cache: the replies that came back are cached even though one request
    failed for good (exit 2, one line), and the re-run sends only that one."""
    import datasets

    from medsyn_hf.cli import main
    from medsyn_hf.request_cache import read_cache

    notes = tmp_path / "notes.parquet"
    datasets.Dataset.from_list(
        [
            {"response": f"Жалобы на кашель {d} дней, температура 38.", "ICD-10": "J06", "code_name_ru": "ОРВИ"}
            for d in ("двух", "трёх", "пяти", "семи")
        ]
    ).to_parquet(notes)
    config = tmp_path / "judge.yaml"
    config.write_text(
        json.dumps(
            {
                "model_name_or_path": str(tiny_model_dir),
                "backend": "openai",
                "concurrency": 2,
                "base_url": f"http://127.0.0.1:{proxy.server_address[1]}/v1",
                "max_new_tokens": 8,
                "max_retries": 0,
                "request_retries": 0,
                "cache_dir": str(tmp_path / "cache"),
            }
        )
    )
    argv = ["eval", "judge", str(notes), "--config", str(config), "--out", str(tmp_path / "out"), "--json"]
    proxy.fail_text.add("пяти")
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("medsyn: error: 1 of 4 requests failed after their retries (first: HTTP 503")
    assert len(read_cache(tmp_path / "cache" / "requests.jsonl")) == 3 and not (tmp_path / "out").exists()

    proxy.fail_text.clear()
    proxy.seen.clear()
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requests"] == 1 and report["cached"] == 3 and len(proxy.seen) == 1
