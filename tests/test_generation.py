"""Generation: per-row sampling, the run folder (resume after a real `kill -9`, idempotence, data parallelism) and the
OpenAI-compatible backend against a real `transformers serve` of the tiny model."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from conftest import REPO

from medsyn_hf.errors import MedsynError

# One thread per process: the tiny model's small matrix products gain nothing from a second one, and on a shared
# 2-core machine two spinning threads per process slow every test down several times.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
    "OMP_NUM_THREADS": "1",
}
pytestmark = pytest.mark.usefixtures("one_torch_thread")
COMPARED = ["idx", "seed", "prior_seed", "ICD-10", "response", "prompt_tokens", "completion_tokens", "finish_reason"]


def write_config(path, model, output_dir, **overrides):
    config = {
        "model_name_or_path": str(model),
        "dtype": "float32",
        "num_priors": 16,
        "shard_size": 8,
        "example_p": 0.0,
        "output_dir": str(output_dir),
        "max_new_tokens": 12,
        "batch_size": 8,
        "seed": 3,
        **overrides,
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def run_inprocess(config, *overrides):
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.run import main
    from medsyn_hf.recipe_args import parse_args

    return main(*parse_args(["--config", str(config), *overrides], make_parser()))


def notes_table(run_dir):
    return pq.read_table(os.path.join(run_dir, "notes.parquet")).select(COMPARED).to_pylist()


# -- per-row sampling -------------------------------------------------------------------------------------------------
def test_row_sampling_draws_from_the_softmax():
    import torch

    from medsyn_hf.generation.backends.transformers import sample_rows

    probs = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03, 0.0])
    keys = torch.arange(20000, dtype=torch.int64) * 7919
    logits = probs.log().expand(len(keys), -1)  # the last token is masked (-inf)
    picks = sample_rows(logits, keys, step=4)[:, 0]
    freq = torch.bincount(picks, minlength=6).float() / len(keys)
    assert torch.allclose(freq, probs, atol=0.012), freq  # 4 sigma of a 20k-draw binomial
    assert torch.equal(picks, sample_rows(logits, keys, step=4)[:, 0])
    assert (picks != sample_rows(logits, keys, step=5)[:, 0]).float().mean() > 0.3
    assert torch.equal(sample_rows(logits[:3], keys[:3], step=4)[:, 0], picks[:3])  # a row ignores the others


def test_rows_do_not_depend_on_their_batch(tiny_model_dir, kg):
    import torch
    from trl import ModelConfig

    from medsyn_hf.generation.backends import load_model, make_backend, row_key
    from medsyn_hf.generation.config import GenerationArguments
    from medsyn_hf.priors import sample_priors

    priors = sample_priors(kg, 5, seed=1, example_p=0.0)
    messages, keys = [list(m) for m in priors["messages"]], [row_key(0, s) for s in priors["seed"]]
    model_args = ModelConfig(model_name_or_path=str(tiny_model_dir))
    loaded = load_model(model_args, "cpu")

    def run(**kw):
        args = GenerationArguments(**{"max_new_tokens": 10, **kw})
        return make_backend(args, model_args, model_and_tokenizer=loaded).generate(messages, keys)

    big, small = run(batch_size=5), run(batch_size=2)
    assert big == small
    assert len({c.text for c in big}) == len(big)  # different rows, different keys, different notes
    assert all(c.completion_tokens == 10 and c.finish_reason == "length" or c.finish_reason == "stop" for c in big)
    reseeded = make_backend(GenerationArguments(max_new_tokens=10), model_args, model_and_tokenizer=loaded).generate(
        messages, [k + 1 for k in keys]
    )
    assert [c.text for c in reseeded] != [c.text for c in big]

    # temperature 0 is exactly greedy `generate`
    model, tok = loaded
    greedy = run(batch_size=3, temperature=0.0)
    ids = tok.apply_chat_template(messages[0], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        ref = model.generate(**ids, max_new_tokens=10, do_sample=False)[0, ids["input_ids"].shape[1] :]
    assert greedy[0].text == tok.decode(ref, skip_special_tokens=True).strip()
    assert greedy[0].prompt_tokens == ids["input_ids"].shape[1]


# -- the run folder ---------------------------------------------------------------------------------------------------
def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_model_dir, caplog):
    small = dict(num_priors=12, shard_size=2, batch_size=2)
    config = write_config(tmp_path / "killed.yaml", tiny_model_dir, tmp_path / "killed", **small)
    cmd = [sys.executable, "-m", "medsyn_hf.cli", "generate", "--config", str(config)]
    log = open(tmp_path / "killed.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while not list((tmp_path / "killed").glob("*/shards/shard-*.parquet")):
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "no shard written in time"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    run_dir = next(p for p in (tmp_path / "killed").iterdir() if p.is_dir())  # beside it: the output marker
    written = {p.name: p.stat().st_mtime_ns for p in (run_dir / "shards").glob("shard-*.parquet")}
    assert 1 <= len(written) < 6, written  # killed mid-run
    assert not (run_dir / "notes.parquet").exists()

    with caplog.at_level("INFO", logger="medsyn_hf.generation.run"):
        report = run_inprocess(config)  # the same command again
    assert report["run_dir"] == str(run_dir) and report["notes"] == 12
    assert f"6 shards, {6 - len(written)} to do" in caplog.text
    assert sorted(os.listdir(run_dir / "shards")) == [f"shard-{i:05d}.parquet" for i in range(6)]  # no temporaries
    assert all((run_dir / "shards" / name).stat().st_mtime_ns == t for name, t in written.items())  # kept as they were

    reference = run_inprocess(write_config(tmp_path / "ref.yaml", tiny_model_dir, tmp_path / "ref", **small))
    assert os.path.basename(reference["run_dir"]) == run_dir.name  # same config, same run id
    notes = notes_table(run_dir)
    assert [n["idx"] for n in notes] == list(range(12))  # nothing lost, nothing twice
    assert notes == notes_table(reference["run_dir"])
    assert all(n["prompt_tokens"] > 0 and 0 < n["completion_tokens"] <= 12 for n in notes)
    assert (tmp_path / "killed" / "latest").resolve() == run_dir.resolve()


# `medsyn` with the `medsyn_hf.training` package unimportable: every attempt to import it is recorded (and fails), and
# the command exits 3 if there was one, so an import inside a try/except is caught too.
WITHOUT_TRAINING = """
import sys

tried = []


class NoTraining:
    def find_spec(self, name, path=None, target=None):
        if name == "medsyn_hf.training" or name.startswith("medsyn_hf.training."):
            tried.append(name)
            raise ImportError(f"{name} is blocked: generating notes must not load the trainer")


sys.meta_path.insert(0, NoTraining())
from medsyn_hf.cli import main

try:
    code = main(sys.argv[1:])
finally:
    if tried:
        print("imported training:", *tried, file=sys.stderr)
        sys.exit(3)
sys.exit(code)
"""


def test_generation_runs_without_the_training_package(tmp_path):
    """`medsyn generate` on the tiny recipe (its packaged writer, a few priors) never imports medsyn_hf.training, and
    with it TRL's trainer stack: generation is below training, not beside it."""
    recipe = REPO / "recipes" / "tiny" / "generate" / "config.yaml"
    flags = ["--num_priors", "2", "--shard_size", "2", "--batch_size", "2", "--max_new_tokens", "8"]
    cmd = [sys.executable, "-c", WITHOUT_TRAINING, "generate", "--config", str(recipe), *flags, "--json"]
    out = subprocess.run(
        [*cmd, "--output_dir", str(tmp_path / "gen")], capture_output=True, text=True, env=ENV, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["notes"] == 2 and len(notes_table(report["run_dir"])) == 2
    blocked = subprocess.run(  # the blocker works: a command that does train is stopped by it
        [sys.executable, "-c", WITHOUT_TRAINING, "sft", "--help"], capture_output=True, text=True, env=ENV
    )
    assert blocked.returncode == 3 and "imported training: medsyn_hf.training" in blocked.stderr


def test_rerun_is_idempotent_and_only_note_changing_args_change_the_run_id(tmp_path, tiny_model_dir, caplog):
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.run import load_priors, priors_fingerprint, run_config, run_id
    from medsyn_hf.recipe_args import parse_args

    config = write_config(tmp_path / "c.yaml", tiny_model_dir, tmp_path / "runs")
    first = run_inprocess(config)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/shards/*.parquet")}
    with caplog.at_level("INFO", logger="medsyn_hf.generation.run"):
        again = run_inprocess(config, "--batch_size", "3")
    assert again["run_dir"] == first["run_dir"] and "2 shards, 0 to do" in caplog.text
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/shards/*.parquet")}
    saved = json.loads((tmp_path / "runs" / "latest" / "config.json").read_text())
    assert saved["run_id"] == os.path.basename(first["run_dir"]) and saved["generation_args"]["seed"] == 3

    def rid(*overrides):
        script, gen, model = parse_args(["--config", str(config), *overrides], make_parser())
        return run_id(run_config(script, gen, model, priors_fingerprint(load_priors(script, gen.seed))))

    assert rid() == os.path.basename(first["run_dir"])
    assert rid("--batch_size", "1", "--concurrency", "2", "--output_dir", "elsewhere") == rid()
    changed = [
        rid("--temperature", "0.5"),
        rid("--seed", "4"),
        rid("--max_new_tokens", "5"),
        rid("--num_priors", "9"),
        rid("--adapter_name_or_path", str(tiny_model_dir)),
        rid("--shard_size", "4"),
    ]
    assert len({rid(), *changed}) == 7


def test_bad_config_is_one_line_error(tmp_path, capsys):
    from medsyn_hf.cli import main

    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: x\nmax_new_token: 3\n")
    assert main(["generate", "--config", str(config)]) == 2
    assert "unknown key(s)" in capsys.readouterr().err
    config.write_text("model_name_or_path: x\nbackend: openai\n")
    assert main(["generate", "--config", str(config)]) == 2
    assert "needs base_url" in capsys.readouterr().err


@pytest.mark.parametrize(
    "config", sorted((REPO / "recipes").glob("*/generate/config*.yaml")), ids=lambda p: f"{p.parts[-3]}/{p.stem}"
)
def test_recipes_parse(config):
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.notes import filter_config
    from medsyn_hf.recipe_args import parse_args

    script, gen, model = parse_args(["--config", str(config)], make_parser())
    filter_config(script.filters)  # thresholds name real FilterConfig fields
    if gen.backend == "openai":  # vLLM serves the base model with the SFT adapter, named by served_model_name
        assert gen.base_url and gen.served_model_name and model.adapter_name_or_path
        assert gen.extra_body["top_k"] == 50 and gen.concurrency >= 64
    else:
        assert (model.adapter_name_or_path is not None) == (config.parts[-3] != "tiny")  # GPU recipes: + adapter


def test_two_processes_write_the_same_notes_as_one(tmp_path, tiny_model_dir):
    # the CPU loop plans batches over groups of 16 x batch_size priors: 12 shards of 4 in groups of 8 and 4 shards
    config = write_config(
        tmp_path / "c.yaml", tiny_model_dir, tmp_path / "two", num_priors=48, shard_size=4, batch_size=2
    )
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(REPO / "recipes" / "generate.py"),
        "--config",
        str(config),
        "--json",
    ]
    two = subprocess.run(launch, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "12 shards, 8 to do on process 0/2" in two.stderr and "12 shards, 4 to do on process 1/2" in two.stderr
    one = run_inprocess(config, "--output_dir", str(tmp_path / "one"))
    two_dir = tmp_path / "two" / os.path.basename(one["run_dir"])
    assert notes_table(two_dir) == notes_table(one["run_dir"])


# -- OpenAI-compatible backend against a real server ------------------------------------------------------------------
@pytest.fixture(scope="module")
def served_tiny_model(tiny_model_server):
    """`transformers serve` of the tiny model (conftest's session server): its base URL."""
    return tiny_model_server[0]


def test_openai_backend_against_transformers_serve(tmp_path, tiny_model_dir, served_tiny_model):
    from transformers import AutoTokenizer

    config = write_config(
        tmp_path / "c.yaml",
        tiny_model_dir,
        tmp_path / "runs",
        num_priors=6,
        shard_size=4,
        max_new_tokens=8,
        backend="openai",
        base_url=served_tiny_model,
        concurrency=3,
    )
    report = run_inprocess(config)
    assert report["notes"] == 6
    notes = notes_table(report["run_dir"])
    priors = pq.read_table(os.path.join(report["run_dir"], "priors.parquet")).to_pylist()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    for note, prior in zip(notes, priors):
        # the server applied the model's chat template to exactly our messages
        assert note["prompt_tokens"] == len(
            tok.apply_chat_template(prior["messages"], add_generation_prompt=True, return_dict=True)["input_ids"]
        )
        assert 0 < note["completion_tokens"] <= 8 and note["response"]
    assert run_inprocess(config)["run_dir"] == report["run_dir"]  # finished: nothing sent again

    dead = write_config(
        tmp_path / "d.yaml",
        tiny_model_dir,
        tmp_path / "dead",
        num_priors=2,
        backend="openai",
        base_url="http://127.0.0.1:9/v1",
    )
    with pytest.raises(MedsynError, match="cannot reach"):
        run_inprocess(dead)
