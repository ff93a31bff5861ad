"""The bad-input sweep (issue 12): every command, fed what a hostile or clumsy user would type, answers with exactly
one line on stderr and exit code 2, and leaves its output and its inputs byte for byte as they were.

The commands run in process (``medsyn_hf.cli.main``) inside a throw-away working folder, so that the data-loss cases
(``--out .``, ``--out ""``, an output that is an input) could only ever harm that folder; the recipe entry points run
as subprocesses. Every case also names the words its error must contain, so that a case cannot pass by failing for an
unrelated reason.
"""

import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_SOURCES, REPO, write_heldout

from medsyn_hf.cli import main
from medsyn_hf.evaluation.icd.cli import COMMAND as ICD_COMMAND
from medsyn_hf.io import MARKER
from medsyn_hf.kg import sources as src

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RESOURCES = REPO / "medsyn_hf" / "resources"
BIG = 1 << 20  # files above this are compared by size and mtime, the rest by content


def tree_digest(*roots: Path) -> str:
    """Names, kinds, link targets, modes and contents of everything under ``roots``."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted([root, *root.rglob("*")]):
            if "__pycache__" in path.parts:  # Python's bytecode cache, not data
                continue
            info = path.lstat()
            digest.update(f"{path}\0{stat.S_IFMT(info.st_mode)}\0{stat.S_IMODE(info.st_mode)}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                small = info.st_size <= BIG
                digest.update(path.read_bytes() if small else f"{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def write_yaml(path: Path, **values) -> str:
    path.write_text(json.dumps(values), encoding="utf-8")  # JSON is YAML
    return str(path)


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_dir):
    """A working folder with everything the commands read or might wrongly write over."""
    root = tmp_path_factory.mktemp("world")
    shutil.copytree(FIXTURE_SOURCES, root / "sources")
    write_heldout(root / "heldout.jsonl")
    (root / "unrelated").mkdir()
    (root / "unrelated" / "thesis.txt").write_text("years of work\n", encoding="utf-8")
    (root / "afile.txt").write_text("a file, not a folder\n", encoding="utf-8")
    pq.write_table(pa.table({"measurement": [1.5, 2.5]}), root / "data.parquet")
    # a finished-looking generation output: gen/<run>/{config.json,notes.parquet}, gen/latest -> <run>
    run = root / "x" / "gen" / "0123456789ab"
    run.mkdir(parents=True)
    (root / "x" / "gen" / MARKER).write_text(json.dumps({"command": "medsyn generate"}), encoding="utf-8")
    (root / "x" / "gen" / "latest").symlink_to(run.name)
    config = {"run_id": run.name, "run_config": {}, "script_args": {}, "model_args": {}}
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    pq.write_table(pa.table({"idx": [0]}), run / "notes.parquet")
    (root / "x" / "other.txt").write_text("unrelated to the run\n", encoding="utf-8")
    # broken run folders for publish
    for name, config_text, notes in [
        ("run-bad-json", "{not json", None),
        ("run-wrong-config", "[1, 2]", None),
        ("run-empty-notes", json.dumps(config), b""),
        ("run-truncated-notes", json.dumps(config), "truncated"),
        ("run-wrong-schema", json.dumps(config), "schema"),
        ("run-no-notes", json.dumps(config), None),
    ]:
        folder = root / name
        folder.mkdir()
        (folder / "config.json").write_text(config_text, encoding="utf-8")
        if notes == "schema":
            pq.write_table(pa.table({"text": ["a note"]}), folder / "notes.parquet")
        elif notes == "truncated":
            (folder / "notes.parquet").write_bytes((run / "notes.parquet").read_bytes()[:40])
        elif notes is not None:
            (folder / "notes.parquet").write_bytes(notes)
    # earlier outputs of each command, made read-only, and a read-only parent
    for name, command in [
        ("ro-priors", "medsyn priors"),
        ("ro-tiny", "medsyn tiny-model"),
        ("ro-ift", "medsyn ift build"),
        ("ro-pub", "medsyn publish"),
        ("ro-grid", ICD_COMMAND),
        ("ro-pf", "medsyn eval prompt-following"),
        ("ro-gen", "medsyn generate"),
        ("ro-sft", "medsyn sft"),
    ]:
        (root / name).mkdir()
        (root / name / MARKER).write_text(json.dumps({"command": command}), encoding="utf-8")
        (root / name / "kept.txt").write_text("earlier output\n", encoding="utf-8")
        (root / name).chmod(0o555)
    (root / "ro-parent").mkdir()
    (root / "ro-parent").chmod(0o555)
    note = {"response": "Пациент жалуется на кашель.", "symptoms": ["кашель"], "icd10": "J06.9"}
    (root / "notes.jsonl").write_text(json.dumps(note, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "nonutf8.yaml").write_bytes("model_name_or_path: модель\n".encode("cp1251"))
    model = str(tiny_model_dir)
    gen = dict(
        model_name_or_path=model,
        dtype="float32",
        num_priors=4,
        shard_size=4,
        max_new_tokens=8,
        output_dir=str(root / "newgen"),
    )
    for name, overrides in {
        "g-seed": {"seed": 1.5},
        "g-num-priors": {"num_priors": [1, 2]},
        "g-dtype": {"dtype": "int4"},
        "g-filters": {"filters": {"min_words": "many"}},
        "g-filter-range": {"filters": {"max_copy_ratio": 7}},
        "g-filter-unknown": {"filters": {"min_wrds": 5}},
        "g-huge-tokens": {"max_new_tokens": 10**12},
        "g-context": {"max_new_tokens": 5000},
        "g-empty-dataset": {"dataset_name": ""},
        "g-fake-dataset": {"dataset_name": str(root / "no-priors-here")},
        "g-no-adapter": {"adapter_name_or_path": "./no"},
        "g-no-model": {"model_name_or_path": "./no-model"},
        "g-missing-model": {"model_name_or_path": None},
        "g-out-file": {"output_dir": "afile.txt"},
        "g-out-cwd": {"output_dir": "."},
        "g-out-model": {"output_dir": model},
        "g-out-unrelated": {"output_dir": "unrelated"},
        "g-out-ro": {"output_dir": "ro-gen"},
        "g-temperature": {"temperature": -1},
        "g-top-p": {"top_p": 0},
        "g-mode": {"priors_mode": "sometimes"},
        "g-bool": {"seed": True},
        "g-shard": {"shard_size": 0},
    }.items():
        write_yaml(root / f"{name}.yaml", **{**gen, **overrides})
    sft = dict(
        model_name_or_path=model,
        dataset_name=str(root / "no-dataset"),
        output_dir=str(root / "newsft"),
        use_cpu=True,
        report_to="none",
        max_steps=1,
    )
    for name, overrides in {
        "s-batch": {"per_device_train_batch_size": 0},
        "s-max-length": {"max_length": 0},
        "s-max-steps": {"max_steps": -5},
        "s-epochs": {"max_steps": -1, "num_train_epochs": 0},
        "s-seed": {"seed": 1.5},
        "s-lr": {"learning_rate": "fast"},
        "s-dtype": {"dtype": "int4"},
        "s-no-dataset": {"dataset_name": None},
        "s-empty-dataset": {"dataset_name": ""},
        "s-fake-dataset": {},
        "s-no-model": {"model_name_or_path": "./no-model"},
        "s-out-model": {"output_dir": model},
        "s-out-cwd": {"output_dir": "."},
        "s-out-file": {"output_dir": "afile.txt"},
        "s-out-unrelated": {"output_dir": "unrelated"},
        "s-out-ro": {"output_dir": "ro-sft"},
        "s-unknown": {"learning_rat": 1e-3},
    }.items():
        write_yaml(
            root / f"{name}.yaml", **{key: value for key, value in {**sft, **overrides}.items() if value is not None}
        )
    judge = dict(model_name_or_path=model, dtype="float32", max_new_tokens=8)
    write_yaml(root / "j.yaml", **judge)
    write_yaml(root / "j-seed.yaml", **judge, seed=1.5)
    write_yaml(root / "j-tokens.yaml", **{**judge, "max_new_tokens": 10**12})
    return root


ICD = [
    "eval",
    "icd",
    "--train",
    "sources/rumedtop3/train_v1.jsonl",
    "--eval",
    "heldout.jsonl",
    "--synthetic",
    "notes.jsonl",
    "--synthetic-code-column",
    "icd10",
    "--grid",
    "--bootstrap",
    "0",
]
IFT = ["ift", "build", "--sources", "sources", "--limit", "5"]
PRIORS = ["priors", "--n", "3"]
TINY = ["tiny-model", "--sources", "sources", "--vocab-size", "300"]
KG = ["kg", "build", "--sources", "sources"]
PF = ["eval", "prompt-following", "notes.jsonl", "--text-column", "response"]

# (id, argv, words the one error line must contain)
CASES = [
    # -- the 19 data-loss cases of the issue: refused, nothing deleted ------------------------------------------------
    *[
        (f"{name}-out-{label}", [*argv, "--out", out], words)
        for name, argv in (
            ("priors", PRIORS),
            ("tiny", TINY),
            ("ift", IFT),
            ("publish", ["publish", "x/gen/latest"]),
            ("kg", KG),
            ("icd-grid", ICD),
        )
        for label, out, words in (
            ("empty", "", ("empty", "refusing")),
            ("dot", ".", "refusing"),
            ("dot-slash", "./", "refusing"),
        )
    ],
    ("kg-build-no-out", KG, "required: --out"),
    # -- outputs that are or hold the inputs -------------------------------------------------------------------------
    ("publish-run-over-run", ["publish", "x/gen/latest", "--out", "x/gen/latest"], "input"),
    ("publish-latest-over-gen", ["publish", "x/gen/latest", "--out", "x/gen"], "input"),
    ("publish-over-grandparent", ["publish", "x/gen/latest", "--out", "x"], "input"),
    ("publish-into-run", ["publish", "x/gen/latest", "--out", "x/gen/latest/sub"], "input"),
    ("ift-over-sources", [*IFT, "--out", "sources"], "input"),
    ("ift-into-sources", [*IFT, "--out", "sources/ift"], "input"),
    ("ift-over-decontaminate", [*IFT, "--out", "unrelated", "--decontaminate", "unrelated/thesis.txt"], "input"),
    ("tiny-over-sources", [*TINY, "--out", "sources"], "input"),
    ("kg-into-sources", [*KG, "--out", "sources/mkg.json.gz"], "input"),
    ("priors-over-graph", [*PRIORS, "--graph", "afile.txt", "--out", "afile.txt"], "input"),
    ("pf-over-dataset", [*PF, "--out", "notes.jsonl"], "input"),
    ("resources-into-sources", ["priors-resources", "--sources", "sources", "--out", "sources"], "input"),
    # -- existing folders and files another command wrote -------------------------------------------------------------
    ("priors-over-unrelated", [*PRIORS, "--out", "unrelated"], "--overwrite"),
    ("tiny-over-unrelated", [*TINY, "--out", "unrelated"], "--overwrite"),
    ("ift-over-unrelated", [*IFT, "--out", "unrelated"], "--overwrite"),
    ("publish-over-unrelated", ["publish", "x/gen/latest", "--out", "unrelated"], "--overwrite"),
    ("publish-over-tiny-output", ["publish", "x/gen/latest", "--out", "ro-tiny"], "did not write"),
    ("kg-over-a-file", [*KG, "--out", "afile.txt"], "--overwrite"),
    ("priors-parquet-over-a-file", [*PRIORS, "--out", "data.parquet"], "--overwrite"),
    ("pf-over-unrelated", [*PF, "--out", "unrelated"], "--overwrite"),
    ("icd-over-unrelated", [*ICD, "--out", "unrelated"], "--overwrite"),
    # -- an output path that is a file --------------------------------------------------------------------------------
    *[
        (f"{name}-out-is-a-file", [*argv, "--out", "afile.txt"], "is a file")
        for name, argv in (
            ("priors", PRIORS),
            ("tiny", TINY),
            ("ift", IFT),
            ("publish", ["publish", "x/gen/latest"]),
            ("icd", ICD),
            ("pf", PF),
        )
    ],
    ("generate-out-is-a-file", ["generate", "--config", "g-out-file.yaml"], "is a file"),
    ("sft-out-is-a-file", ["sft", "--config", "s-out-file.yaml"], "is a file"),
    # -- read-only outputs (an earlier output of the same command, chmod 555) and a read-only parent ------------------
    *[
        (f"{name}-out-read-only", [*argv, "--out", out], "read-only")
        for name, argv, out in (
            ("priors", PRIORS, "ro-priors"),
            ("tiny", TINY, "ro-tiny"),
            ("ift", IFT, "ro-ift"),
            ("publish", ["publish", "x/gen/latest"], "ro-pub"),
            ("icd", ICD, "ro-grid"),
            ("pf", PF, "ro-pf"),
        )
    ],
    ("generate-out-read-only", ["generate", "--config", "g-out-ro.yaml"], "read-only"),
    ("sft-out-read-only", ["sft", "--config", "s-out-ro.yaml"], "read-only"),
    ("priors-read-only-parent", [*PRIORS, "--out", "ro-parent/p"], "not a writable folder"),
    ("kg-read-only-parent", [*KG, "--out", "ro-parent/g.json.gz"], "not a writable folder"),
    # -- silently wrong before: now refused ---------------------------------------------------------------------------
    ("kg-show-limit-negative", ["kg", "show", "J06", "--limit", "-1"], "--limit"),
    ("kg-search-limit-negative", ["kg", "search", "грипп", "--limit", "-5"], "--limit"),
    ("ift-ngram-zero", [*IFT, "--out", "o", "--ngram", "0"], "--ngram"),
    ("ift-ngram-negative", [*IFT, "--out", "o", "--ngram", "-3"], "--ngram"),
    ("ift-bad-repo-id", [*IFT, "--out", "o", "--repo-id", "bad id!!"], "repo id"),
    ("tiny-vocab-zero", ["tiny-model", "--sources", "sources", "--out", "o", "--vocab-size", "0"], "vocab_size"),
    ("generate-huge-max-new-tokens", ["generate", "--config", "g-huge-tokens.yaml"], "max_new_tokens"),
    ("generate-beyond-context", ["generate", "--config", "g-context.yaml"], "context"),
    ("sft-negative-max-steps", ["sft", "--config", "s-max-steps.yaml"], "max_steps"),
    # -- ranges and types on the command line -------------------------------------------------------------------------
    ("priors-n-huge", [*PRIORS[:1], "--n", "1e12", "--out", "o"], "--n"),
    ("priors-n-zero", [*PRIORS[:1], "--n", "0", "--out", "o"], "--n"),
    ("ift-limit-negative", [*IFT[:-2], "--limit", "-1", "--out", "o"], "--limit"),
    ("ift-holdout-fraction", [*IFT, "--out", "o", "--holdout-fraction", "1.5"], "--holdout-fraction"),
    ("publish-bad-repo-id", ["publish", "x/gen/latest", "--out", "o", "--repo-id", "a/b/c"], "repo id"),
    ("kg-show-limit-text", ["kg", "show", "J06", "--limit", "many"], "--limit"),
    ("unknown-flag", [*PRIORS, "--out", "o", "--speed", "11"], "unrecognized"),
    # -- YAML configs of generate and sft -----------------------------------------------------------------------------
    *[
        (f"generate-{name}", ["generate", "--config", f"g-{name}.yaml"], words)
        for name, words in (
            ("seed", "seed: 1.5"),
            ("num-priors", "num_priors"),
            ("dtype", "int4"),
            ("filters", "filters.min_words"),
            ("filter-range", "filters.max_copy_ratio"),
            ("filter-unknown", "min_wrds"),
            ("empty-dataset", "dataset_name"),
            ("fake-dataset", "dataset_name"),
            ("no-adapter", "adapter_name_or_path"),
            ("no-model", "model_name_or_path"),
            ("missing-model", "model_name_or_path"),
            ("out-cwd", "refusing"),
            ("out-model", "input"),
            ("out-unrelated", "--overwrite"),
            ("temperature", "temperature"),
            ("top-p", "top_p"),
            ("mode", "priors_mode"),
            ("bool", "seed"),
            ("shard", "shard_size"),
        )
    ],
    ("generate-non-utf8", ["generate", "--config", "nonutf8.yaml"], "UTF-8"),
    ("generate-no-config-file", ["generate", "--config", "nothere.yaml"], "not found"),
    ("generate-bad-flag", ["generate", "--config", "g-context.yaml", "--max_new_tokens", "lots"], "max_new_tokens"),
    *[
        (f"sft-{name}", ["sft", "--config", f"s-{name}.yaml"], words)
        for name, words in (
            ("batch", "per_device_train_batch_size"),
            ("max-length", "max_length"),
            ("epochs", "num_train_epochs"),
            ("seed", "seed: 1.5"),
            ("lr", "learning_rate"),
            ("dtype", "int4"),
            ("no-dataset", "dataset"),
            ("empty-dataset", "dataset_name"),
            ("fake-dataset", "no-dataset"),
            ("no-model", "model_name_or_path"),
            ("out-model", "input"),
            ("out-cwd", "refusing"),
            ("out-unrelated", "--overwrite"),
            ("unknown", "learning_rat"),
        )
    ],
    ("sft-non-utf8", ["sft", "--config", "nonutf8.yaml"], "UTF-8"),
    # -- broken inputs of publish -------------------------------------------------------------------------------------
    ("publish-no-run", ["publish", "no-run-here", "--out", "o"], "no such run folder"),
    ("publish-not-a-run", ["publish", "unrelated", "--out", "o"], "config.json"),
    ("publish-corrupt-config", ["publish", "run-bad-json", "--out", "o"], "unreadable"),
    ("publish-wrong-config", ["publish", "run-wrong-config", "--out", "o"], "not a `medsyn generate` config"),
    ("publish-no-notes", ["publish", "run-no-notes", "--out", "o"], "no notes.parquet"),
    ("publish-empty-notes", ["publish", "run-empty-notes", "--out", "o"], "parquet"),
    ("publish-truncated-notes", ["publish", "run-truncated-notes", "--out", "o"], "parquet"),
    ("publish-wrong-schema-notes", ["publish", "run-wrong-schema", "--out", "o"], "notes schema"),
]
REPORT = ["eval", "report", "notes.jsonl", "--real", "sources/rumedtop3/train_v1.jsonl"]
ASSESS = ["assess", "prepare", "--real", "sources/rumedtop3/train_v1.jsonl", "--synthetic", "notes.jsonl", "--n", "2"]
JUDGE = ["eval", "judge", "notes.jsonl", "--config", "j.yaml"]
NEWER = [  # commands added alongside this sweep: their rows run where they exist
    ("report-out-cwd", [*REPORT, "--out", "."], "refusing"),
    ("report-over-input", [*REPORT, "--out", "notes.jsonl"], "input"),
    ("report-over-unrelated", [*REPORT, "--out", "unrelated"], "--overwrite"),
    ("report-out-read-only-parent", [*REPORT, "--out", "ro-parent/r"], "not a writable folder"),
    ("judge-out-cwd", [*JUDGE, "--out", "."], "refusing"),
    ("judge-over-input", [*JUDGE, "--out", "notes.jsonl"], "input"),
    ("judge-over-unrelated", [*JUDGE, "--out", "unrelated"], "--overwrite"),
    ("judge-seed", ["eval", "judge", "notes.jsonl", "--config", "j-seed.yaml", "--out", "o"], "seed: 1.5"),
    (
        "judge-huge-max-new-tokens",
        ["eval", "judge", "notes.jsonl", "--config", "j-tokens.yaml", "--out", "o"],
        "max_new_tokens",
    ),
    ("assess-out-cwd", [*ASSESS, "--out", "."], "refusing"),
    ("assess-over-unrelated", [*ASSESS, "--out", "unrelated"], "--overwrite"),
    ("assess-over-input", [*ASSESS, "--out", "notes.jsonl"], "input"),
    ("assess-odd-n", [*ASSESS[:-1], "3", "--out", "o"], "--n"),
    ("assess-score-not-an-assessment", ["assess", "score", "unrelated", "--out", "o"], "unrelated"),
]


def _registered(words) -> bool:
    """Is `medsyn WORD1 WORD2` a command?"""
    import argparse

    from medsyn_hf.cli import build_parser

    parser = build_parser()
    for word in words:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or word not in subparsers[0].choices:
            return False
        parser = subparsers[0].choices[word]
    return True


CASES += [case for case in NEWER if _registered(case[1][:2])]


@pytest.mark.parametrize("argv, words", [pytest.param(argv, words, id=name) for name, argv, words in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, tiny_model_dir, argv, words, capsys, monkeypatch):
    monkeypatch.chdir(world)
    roots = (world, Path(tiny_model_dir), RESOURCES)
    before = tree_digest(*roots)
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith("medsyn"), err
    assert any(w in err for w in ((words,) if isinstance(words, str) else words)), err
    assert tree_digest(*roots) == before, "the command changed its output or its inputs"


def test_the_sweep_is_wide():
    """At least 60 bad inputs, over every writing command."""
    assert len(CASES) >= 60 and len({name for name, *_ in CASES}) == len(CASES)
    commands = {" ".join(argv[:2]) if argv[0] in ("eval", "ift", "kg") else argv[0] for _, argv, _ in CASES}
    assert {
        "priors",
        "priors-resources",
        "tiny-model",
        "ift build",
        "publish",
        "kg build",
        "kg show",
        "kg search",
        "eval icd",
        "eval prompt-following",
        "generate",
        "sft",
    } <= commands


@pytest.mark.parametrize("script, config", [("generate.py", "g-context.yaml"), ("sft.py", "s-fake-dataset.yaml")])
def test_recipes_answer_bad_configs_in_one_line(world, script, config):
    """The recipe scripts as users run them: a real process, its real stderr (library warnings included)."""
    before = tree_digest(world)
    proc = subprocess.run(
        [sys.executable, str(REPO / "recipes" / script), "--config", config],
        cwd=world,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("medsyn: error:"), proc.stderr
    assert tree_digest(world) == before


@pytest.mark.slow
def test_accelerate_launch_prints_the_error_once(world):
    """Under `accelerate launch` the recipe's error is still one line (from one process only); the launcher itself
    then reports the failed process (its exit code is accelerate's: 1), which no script can change."""
    before = tree_digest(world)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--quiet",
            "--cpu",
            "--num_processes",
            "1",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            str(REPO / "recipes" / "sft.py"),
            "--config",
            "s-max-length.yaml",
        ],
        cwd=world,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("medsyn: error:")]
    assert len(errors) == 1 and "max_length" in errors[0] and "Traceback" not in proc.stderr, proc.stderr
    assert tree_digest(world) == before


def test_resume_after_a_truncated_shard_regenerates_it(tmp_path, tiny_model_dir, caplog):
    """A shard cut short (a full disk, a half copy) is found on resume, removed with a warning and written again."""
    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.run import main as generate
    from medsyn_hf.generation.run import shard_path
    from medsyn_hf.recipe_args import parse_args

    config = write_yaml(
        tmp_path / "c.yaml",
        model_name_or_path=str(tiny_model_dir),
        dtype="float32",
        num_priors=8,
        shard_size=4,
        max_new_tokens=6,
        batch_size=4,
        output_dir=str(tmp_path / "gen"),
        filters={"min_words": 1, "min_symptom_recall": 0.0},
    )
    args = parse_args(["--config", config], make_parser())
    run_dir = Path(generate(*args)["run_dir"])
    shard = shard_path(run_dir, 1)
    good = pq.read_table(shard)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    caplog.clear()
    report = generate(*parse_args(["--config", config], make_parser()))
    assert report["notes"] == 8
    assert any("shard-00001.parquet" in r.message and r.levelname == "WARNING" for r in caplog.records)
    assert pq.read_table(shard).equals(good)  # per-row sampling: the same notes again


def test_a_killed_runs_temporary_is_removed_by_the_next_run(tmp_path, monkeypatch):
    """`kill -9` during a write leaves `.<name>.tmp-<pid>-*` beside the output; the next run of the command removes
    it (its process is gone), and leaves the temporaries of live processes alone."""
    monkeypatch.chdir(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / f".ift.tmp-{dead}-abc123"
    (stale / "ift" / "data").mkdir(parents=True)
    live = tmp_path / f".ift.tmp-{os.getpid()}-def456"
    live.mkdir()
    assert main(["ift", "build", "--sources", str(REPO / "data" / "sources"), "--out", "ift", "--limit", "3"]) == 0
    assert not stale.exists() and live.exists() and (tmp_path / "ift" / "README.md").is_file()


def test_reruns_replace_their_own_outputs_and_overwrite_replaces_others(tmp_path, monkeypatch, capsys):
    """Safety must not cost the ordinary re-run: a command replaces what it wrote; --overwrite replaces the rest."""
    monkeypatch.chdir(tmp_path)
    assert main(["priors", "--n", "3", "--out", "p"]) == 0
    assert main(["priors", "--n", "4", "--out", "p"]) == 0  # its own output: replaced
    assert main(["priors", "--n", "3", "--out", "p.parquet"]) == 0
    assert main(["priors", "--n", "4", "--out", "p.parquet"]) == 0  # a priors parquet file: replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x", encoding="utf-8")
    assert main(["priors", "--n", "3", "--out", "mine"]) == 2
    assert main(["priors", "--n", "3", "--out", "mine", "--overwrite"]) == 0
    assert not (tmp_path / "mine" / "notes.txt").exists() and (tmp_path / "mine" / MARKER).is_file()
    capsys.readouterr()
    # the fixture sources: the rerun is the point, not the size (the full build is test_kg's)
    assert main(["kg", "build", "--sources", str(FIXTURE_SOURCES), "--out", "g.json.gz"]) == 0
    assert main(["kg", "build", "--sources", str(FIXTURE_SOURCES), "--out", "g.json.gz"]) == 0
    with gzip.open(tmp_path / "g.json.gz", "rt", encoding="utf-8") as f:
        assert json.load(f)["format"] == "medsyn-mkg/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json.gz", "mine", "p", "p.parquet"]  # no temporaries


def load_deploy():
    import importlib.util

    spec = importlib.util.spec_from_file_location("deploy", REPO / "spaces" / "medsyn-demo" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--out", "."], "refusing"),
        (["--out", ""], "refusing"),
        (["--out", "afile.txt"], "is a file"),
        (["--out", "unrelated"], "--overwrite"),
        (["--out", "ro-parent/space"], "not a writable folder"),
        (["--out", "ro-pub"], "did not write"),
        (["--out", "s", "--model", "unrelated"], "not a model folder"),
        (["--out", "s", "--repo-id", "bad id!!"], "repo id"),
        (["--out", "s", "--private"], "--repo-id"),
    ],
    ids=[
        "cwd",
        "empty",
        "file",
        "unrelated",
        "read-only-parent",
        "other-command",
        "not-a-model",
        "repo-id",
        "private",
    ],
)
def test_deploy_refuses_in_one_line(world, argv, words, capsys, monkeypatch):
    """`spaces/medsyn-demo/deploy.py` (the Space bundle) answers like the `medsyn` commands."""
    monkeypatch.chdir(world)
    before = tree_digest(world, REPO / "medsyn_hf")
    try:
        code = load_deploy().main(argv)
    except SystemExit as exit_:  # its own usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert tree_digest(world, REPO / "medsyn_hf") == before


# -- issue 25: every reader, fed broken files ---------------------------------------------------------------------
# Each command that reads a file gets a copy with one byte that is not UTF-8, an empty or blank file, a folder where
# the file should be, a .gz that is not gzip, rows of the wrong JSON type, a CSV cut short, shifted or split on the
# wrong delimiter... The answer is one line naming the file (for a bad byte: its offset and line), exit code 2, and
# every input and output byte for byte as it was. Each case builds its broken input in a folder of its own.
GOOD = "good"
TRAIN = "sources/rumedtop3/train_v1.jsonl"
GPT = "sources/medsyn_gpt_notes/notes.jsonl.gz"
NOTE = {"response": "Пациент жалуется на кашель и насморк.", "symptoms": ["кашель"], "icd10": "J06.9"}


def spoil(data: bytes, how: str) -> bytes:
    """``data`` broken one way: ``byte``: a 0xFF in the middle of line 2; ``header``: the first line only; ``blank``:
    white space only; ``cut``: cut just after the first quote that opens a cell; ``shift``: every row's cells moved
    one column right; ``semicolon`` / ``comma``: the other delimiter."""
    lines = data.split(b"\n")
    if how == "byte":
        line = bytearray(lines[1])
        line[len(line) // 2] = 0xFF
        return b"\n".join([lines[0], bytes(line), *lines[2:]])
    if how == "header":
        return lines[0] + b"\n"
    if how == "blank":
        return b"\n \n\n"
    if how == "cut":
        return data[: data.index(b',"', len(lines[0])) + 2]
    if how == "shift":
        return b"\n".join([lines[0], *(b"," + line.rsplit(b",", 1)[0] for line in lines[1:] if line)]) + b"\n"
    if how == "semicolon":
        return data.replace(b",", b";")
    if how == "comma":
        return data.replace(b";", b",")
    raise AssertionError(how)


def _write(path: Path, data: bytes | None, gz: bool | None = None) -> Path:
    """``data`` at ``path`` (gzip'd for a .gz name unless ``gz`` is False); None: an empty folder instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(gzip.compress(data, mtime=0) if (path.suffix == ".gz" if gz is None else gz) else data)
    return path


def _text(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def bad_copy(root: Path, case: str, rel: str, how=None, data=None, gz=None) -> str:
    """good/<rel> copied into the case's folder, broken as ``_content`` says."""
    return str(_write(root / case / Path(rel).name, _content(_text(root / GOOD / rel), how, data), gz))


def _content(good: bytes, how, data) -> bytes | None:
    """The broken content: ``spoil(good, how)``, ``data``, ``data(good)`` if callable, None for ``"folder"``."""
    if data == "folder":
        return None
    return spoil(good, how) if data is None else data(good) if callable(data) else data


def bad_tree(root: Path, case: str, folder: str, rel: str, how=None, data=None, gz=None) -> str:
    """A copy of the folder good/<folder> in the case's folder with <rel> in it broken as in ``bad_copy``."""
    dst = root / case / Path(folder).name
    shutil.copytree(root / GOOD / folder, dst)
    target = dst / rel
    content = _content(_text(target) if target.is_file() else b"", how, data)
    if target.is_file():
        target.unlink()
    _write(target, content, gz)
    return str(dst)


@pytest.fixture(scope="module")
def broken(tmp_path_factory, tiny_model_dir):
    """good/: inputs every command accepts (the fixture sources with the Wikipedia table ift needs and the packaged
    demographics tables, notes, evaluation texts, symptom lists, configs, an assessment and a model folder)."""
    import csv
    import io

    from medsyn_hf.assess.prepare import prepare

    root = tmp_path_factory.mktemp("broken")
    good = root / GOOD
    shutil.copytree(FIXTURE_SOURCES, good / "sources")
    data = REPO / "data" / "sources" / "medsyn_kg"
    shutil.copytree(data / "demographics", good / "sources" / "medsyn_kg" / "demographics")
    wiki = list(csv.reader(io.StringIO((data / "wiki_disease_ru.csv").read_text(encoding="utf-8"))))[:40]
    with open(good / "sources" / "medsyn_kg" / "wiki_disease_ru.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(wiki)
    notes = [{**NOTE, "response": f"{NOTE['response']} Болеет {i + 2} дня."} for i in range(4)]
    _write(good / "notes.jsonl", _jsonl(notes))
    _write(good / "dev.txt", "кашель и насморк три дня подряд\nболит горло при глотании второй день\n".encode())
    _write(
        good / "dev.csv", "text,code\nкашель и насморк три дня подряд,J06\nболит горло два дня подряд,J02\n".encode()
    )
    _write(good / "lists.yaml", "J06.9:\n  - кашель\n  - насморк\n".encode())
    _write(good / "lists.json", json.dumps({"J06.9": ["кашель", "насморк"]}, ensure_ascii=False).encode())
    model = str(tiny_model_dir)
    out = str(root / "never-written")
    for name, config in {
        "gen.yaml": {"model_name_or_path": model, "num_priors": 2, "output_dir": out},
        "sft.yaml": {"model_name_or_path": model, "output_dir": out, "use_cpu": True},
        "judge.yaml": {"model_name_or_path": model, "max_new_tokens": 4},
    }.items():
        _write(good / name, json.dumps(config, indent=1).encode())  # JSON is YAML; one key per line
    shutil.copytree(tiny_model_dir, good / "model")
    prepare(str(good / TRAIN), str(good / GPT), 4, str(good / "assess"), seed=1)
    from medsyn_hf.assessment_folder import AnswerStore, check_answer, load_items
    from medsyn_hf.schemas import ASSESSMENT_CRITERIA

    ids = [item["item_id"] for item in load_items(good / "assess")]
    for name in ("anna", "boris"):
        for item in ids:
            AnswerStore(good / "assess").append(
                name, check_answer(item, "real", dict.fromkeys(ASSESSMENT_CRITERIA, 3), set(ids))
            )
    return root


def _out(root, case):
    return str(root / case / "out")


def _kg(how=None, data=None, rel=src.MAIN_PROC, gz=None):
    return lambda r, c: (
        ["kg", "build", "--sources", bad_tree(r, c, "sources", rel, how, data, gz), "--out", _out(r, c)]
    )


def _graph(*command, data=None, gz=True):
    return lambda r, c: ([*command, "--graph", str(_write(r / c / "mkg.json.gz", data, gz))])


BYTE = ("not UTF-8", "at offset", "(line 2)")
BROKEN = [  # (id, builder(root, case) -> argv, words that must all be in the error line)
    # -- kg build: every source file with a bad byte, then one source broken each way the issue names ------------
    *[(f"kg-byte-{Path(rel).stem}", _kg("byte", rel=rel), (Path(rel).name, *BYTE)) for rel in src.ALL_SOURCES],
    ("kg-header-only", _kg("header"), ("main_proc.csv", "no rows")),
    ("kg-cut-in-a-cell", _kg("cut"), ("main_proc.csv", "malformed CSV", "cut short")),
    ("kg-columns-shifted", _kg("shift"), ("main_proc.csv", "shifted")),
    ("kg-semicolons", _kg("semicolon"), ("main_proc.csv", "missing column")),
    ("kg-tree-commas", _kg("comma", rel=src.ICD_TREE), ("mkb10_nsi_v2.27.csv", "missing column")),
    ("kg-empty-file", _kg(data=b""), ("main_proc.csv", "empty file")),
    ("kg-folder", _kg(data="folder"), ("main_proc.csv", "is a folder")),
    ("kg-not-gzip", _kg(data=b'{"icd10": "J06"}\n', rel=src.GPT_NOTES, gz=False), ("notes.jsonl.gz", "gzip")),
    ("kg-gzip-cut", _kg(data=gzip.compress(b'{"a": 1}\n' * 500)[:40], rel=src.GPT_NOTES, gz=False), ("gzip",)),
    (
        "kg-wrong-json-type",
        _kg(data=b'{"icd10": "J06.9", "symptoms": 5}\n', rel=src.GPT_NOTES),
        ("notes.jsonl.gz:1", "symptoms", "list of strings"),
    ),
    ("kg-not-an-object", _kg(data=b"[1, 2]\n", rel=src.RUMEDTOP3_TRAIN), ("train_v1.jsonl:1", "not a JSON object")),
    ("kg-blank-jsonl", _kg("blank", rel=src.RUMEDTOP3_TRAIN), ("train_v1.jsonl", "no records")),
    ("kg-json-list", _kg(data=b"[]", rel=src.GENDER_SPLIT), ("icd_gender_split.json", "JSON object")),
    ("kg-json-invalid", _kg(data=b'{"a": [', rel=src.GENDER_SPLIT), ("icd_gender_split.json:1", "invalid JSON")),
    # -- an MKG file (--graph) --------------------------------------------------------------------------------------
    ("graph-byte", _graph("kg", "stats", data=b'{"format": "\xff"}'), ("mkg.json.gz", "not UTF-8")),
    ("graph-not-gzip", _graph("kg", "stats", data=b"{}", gz=False), ("mkg.json.gz", "gzip")),
    ("graph-a-list", _graph("kg", "show", "J06", data=b"[1]"), ("mkg.json.gz", "MKG format")),
    ("graph-cut", _graph("kg", "search", "кашель", data=b'{"format": "medsyn-mkg/1", "co'), ("invalid JSON",)),
    ("graph-folder", _graph("priors", "--n", "2", "--out", "p", data=None), ("mkg.json.gz", "is a folder")),
    ("graph-no-codes", _graph("kg", "stats", data=b'{"format": "medsyn-mkg/1"}'), ("not a readable MKG file",)),
    # -- priors --symptom-lists, priors-resources --sources, tiny-model --sources -------------------------------------
    *[
        (
            f"symptom-lists-{name}",
            lambda r, c, f=f, how=how, data=data: (
                ["priors", "--n", "2", "--out", _out(r, c), "--symptom-lists", bad_copy(r, c, f, how, data)]
            ),
            words,
        )
        for name, f, how, data, words in (
            ("yaml-byte", "lists.yaml", "byte", None, ("lists.yaml", *BYTE)),
            ("json-byte", "lists.json", None, b'{"J06.9": ["\xff"]}', ("lists.json", "not UTF-8", "line 1")),
            ("yaml-invalid", "lists.yaml", None, b"J06.9: [\n", ("lists.yaml", "invalid YAML")),
            ("folder", "lists.yaml", None, "folder", ("lists.yaml", "is a folder")),
        )
    ],
    *[
        (
            f"resources-{name}",
            lambda r, c, rel=rel, how=how, data=data: (
                ["priors-resources", "--sources", bad_tree(r, c, "sources", rel, how, data), "--out", _out(r, c)]
            ),
            words,
        )
        for name, rel, how, data, words in (
            ("train-byte", "rumedtop3/train_v1.jsonl", "byte", None, ("train_v1.jsonl", *BYTE)),
            ("ages-byte", "medsyn_kg/demographics/EdgeGenderRU_2022.csv", "byte", None, ("EdgeGender", *BYTE)),
            ("marriages-header", "medsyn_kg/demographics/FamilyStatusRU.csv", "header", None, ("no rows",)),
            ("ages-semicolon", "medsyn_kg/demographics/EdgeGenderRU_2022.csv", "semicolon", None, ("no column",)),
            ("ages-text", "medsyn_kg/demographics/EdgeGenderRU_2022.csv", None, b"Age,M_City\nten,5\n", ("column",)),
        )
    ],
    *[
        (
            f"tiny-{name}",
            lambda r, c, rel=rel, how=how, data=data: (
                ["tiny-model", "--sources", bad_tree(r, c, "sources", rel, how, data), "--out", _out(r, c)]
            ),
            words,
        )
        for name, rel, how, data, words in (
            ("notes-byte", src.GPT_NOTES, "byte", None, ("notes.jsonl.gz", *BYTE)),
            ("train-byte", src.RUMEDTOP3_TRAIN, "byte", None, ("train_v1.jsonl", *BYTE)),
            ("notes-not-gzip", src.GPT_NOTES, None, b"plain text", ("notes.jsonl.gz", "gzip")),
        )
    ],
    # -- ift build --decontaminate FILE and --sources ----------------------------------------------------------------
    *[
        (
            f"ift-decontaminate-{name}",
            lambda r, c, f=f, how=how, data=data: (
                [
                    "ift",
                    "build",
                    "--sources",
                    str(r / GOOD / "sources"),
                    "--limit",
                    "3",
                    "--out",
                    _out(r, c),
                    "--decontaminate",
                    bad_copy(r, c, f, how, data),
                ]
            ),
            words,
        )
        for name, f, how, data, words in (
            ("txt-byte", "dev.txt", "byte", None, ("dev.txt", *BYTE)),
            ("csv-byte", "dev.csv", "byte", None, ("dev.csv", *BYTE)),
            ("jsonl-byte", "notes.jsonl", "byte", None, ("notes.jsonl", *BYTE)),
            ("txt-blank", "dev.txt", "blank", None, ("dev.txt", "no text")),
            ("txt-folder", "dev.txt", None, "folder", ("dev.txt", "is a folder")),
            ("jsonl-empty", "notes.jsonl", None, b"", ("notes.jsonl", "no rows")),
        )
    ],
    (
        "ift-sources-wiki-byte",
        lambda r, c: [
            "ift",
            "build",
            "--limit",
            "3",
            "--out",
            _out(r, c),
            "--sources",
            bad_tree(r, c, "sources", "medsyn_kg/wiki_disease_ru.csv", "byte"),
        ],
        ("wiki_disease_ru.csv", *BYTE),
    ),
]


SAME = lambda data: data  # noqa: E731  (an unchanged copy, under another path)


def _notes(*around):
    """A command fed a broken copy of a good file in place of ``BAD`` (``OUT``: the case's output folder, ``GOOD/``:
    the good inputs)."""

    def build(how=None, data=None, f="notes.jsonl", gz=None):
        def argv(r, c):
            swap = {"BAD": bad_copy(r, c, f, how, data, gz), "OUT": _out(r, c)}
            return [swap.get(a, a.replace("GOOD", str(r / GOOD))) for a in around]

        return argv

    return build


def _with_dataset(command, config, how="byte"):
    """``command --config`` a copy of good/<config> whose dataset_name is a notes file broken ``how``."""

    def argv(r, c):
        bad = bad_copy(r, c, "notes.jsonl", how, SAME if how is None else None)
        values = json.loads((r / GOOD / config).read_text(encoding="utf-8"))
        return [command, "--config", str(_write(r / c / config, json.dumps({**values, "dataset_name": bad}).encode()))]

    return argv


def _assessment(rel, how=None, data=None):
    """`assess score` of a copy of the good assessment with <rel> broken (``data`` may edit the good bytes)."""
    return lambda r, c: ["assess", "score", bad_tree(r, c, "assess", rel, how, data), "--out", _out(r, c)]


def _rows(edit):
    """Bytes of JSON lines -> the same with their rows edited."""
    return lambda data: _jsonl(edit([json.loads(line) for line in data.decode().splitlines()]))


def _cut_line(number):
    return lambda data: b"\n".join(x[: len(x) // 2] if i == number else x for i, x in enumerate(data.split(b"\n")))


def _answers_copy(changed: bool):
    """The assessment with anna's answers also in anna-2.jsonl: the same rows, or one answered otherwise."""

    def argv(r, c):
        folder = Path(bad_tree(r, c, "assess", "answers/anna.jsonl", data=lambda data: data))
        rows = [json.loads(x) for x in (folder / "answers" / "anna.jsonl").read_text(encoding="utf-8").splitlines()]
        rows[0]["origin"] = "synthetic" if changed else rows[0]["origin"]
        _write(folder / "answers" / "anna-2.jsonl", _jsonl(rows))
        return ["assess", "score", str(folder), "--out", _out(r, c)]

    return argv


def _deploy(rel, data):
    return lambda r, c: ["DEPLOY", "--out", _out(r, c), "--model", bad_tree(r, c, "model", rel, data=data)]


NULL_TEXTS = _jsonl([{**NOTE, "response": None}] * 3)
EMPTY_TEXTS = _jsonl([{**NOTE, "response": " "}] * 3)
NUMBER_TEXTS = _jsonl([{**NOTE, "response": 7}] * 3)
NO_BOOT = ("--out", "OUT", "--bootstrap", "0")
PF = _notes("eval", "prompt-following", "BAD")
REPORT_S = _notes("eval", "report", "BAD", "--real", f"GOOD/{TRAIN}", *NO_BOOT)
REPORT_R = _notes("eval", "report", f"GOOD/{GPT}", "--real", "BAD", *NO_BOOT)
REPORT_E = _notes("eval", "report", f"GOOD/{GPT}", "--real", f"GOOD/{TRAIN}", "--eval", "BAD", *NO_BOOT)
ICD_T = _notes("eval", "icd", "--train", "BAD", "--eval", f"GOOD/{TRAIN}", "--bootstrap", "0")
ICD_E = _notes("eval", "icd", "--train", f"GOOD/{TRAIN}", "--eval", "BAD", "--bootstrap", "0")
ICD_S = _notes("eval", "icd", "--train", f"GOOD/{TRAIN}", "--eval", f"GOOD/{TRAIN}", "--synthetic", "BAD")
JUDGE_N = _notes("eval", "judge", "BAD", "--config", "GOOD/judge.yaml", "--out", "OUT")
JUDGE_C = _notes("eval", "judge", "GOOD/notes.jsonl", "--config", "BAD", "--out", "OUT")
PREP_R = _notes("assess", "prepare", "--real", "BAD", "--synthetic", f"GOOD/{GPT}", "--n", "2", "--out", "OUT")
PREP_S = _notes("assess", "prepare", "--real", f"GOOD/{TRAIN}", "--synthetic", "BAD", "--n", "2", "--out", "OUT")
GEN = _notes("generate", "--config", "BAD")
SFT = _notes("sft", "--config", "BAD")
ANNA = "answers/anna.jsonl"
PREPARE_SAME = ("assess", "prepare", "--real", f"GOOD/{TRAIN}", "--synthetic", f"GOOD/{TRAIN}", "--trust-synthetic")
PREPARE_SAME += ("--n", "2", "--out", "OUT")
PREPARE_TRUSTED = (*PREPARE_SAME[:5], "BAD", *PREPARE_SAME[6:])

BROKEN += [
    # -- notes datasets: eval prompt-following, report (each side), icd (each input), judge, assess prepare ---------
    ("pf-byte", PF("byte"), ("notes.jsonl", *BYTE)),
    ("pf-empty", PF(data=b""), ("notes.jsonl", "no rows")),
    ("pf-blank", PF("blank"), ("notes.jsonl", "no rows")),
    ("pf-folder", PF(data="folder"), ("notes.jsonl",)),
    ("pf-not-gzip", PF(data=b"plain", f=GPT, gz=False), ("notes.jsonl.gz", "gzip")),
    ("pf-null-texts", PF(data=NULL_TEXTS), ("notes.jsonl", "response")),
    ("pf-empty-texts", PF(data=EMPTY_TEXTS), ("notes.jsonl", "no note has a text")),
    ("pf-number-texts", PF(data=NUMBER_TEXTS), ("notes.jsonl", "not note texts")),
    ("pf-bad-json-line", PF(data=_jsonl([NOTE]) + b'{"response": \n'), ("notes.jsonl",)),
    ("report-synthetic-byte", REPORT_S("byte"), ("notes.jsonl", *BYTE)),
    ("report-real-byte", REPORT_R("byte", f=TRAIN), ("train_v1.jsonl", *BYTE)),
    ("report-eval-byte", REPORT_E("byte", f=TRAIN), ("train_v1.jsonl", *BYTE)),
    ("report-synthetic-null", REPORT_S(data=NULL_TEXTS), ("notes.jsonl",)),
    ("report-real-folder", REPORT_R(data="folder", f=TRAIN), ("train_v1.jsonl",)),
    ("icd-train-byte", ICD_T("byte", f=TRAIN), ("train_v1.jsonl", *BYTE)),
    ("icd-eval-byte", ICD_E("byte", f=TRAIN), ("train_v1.jsonl", *BYTE)),
    ("icd-synthetic-byte", ICD_S("byte"), ("notes.jsonl", *BYTE)),
    ("judge-notes-byte", JUDGE_N("byte"), ("notes.jsonl", *BYTE)),
    ("judge-config-byte", JUDGE_C("byte", f="judge.yaml"), ("judge.yaml", *BYTE)),
    ("prepare-real-byte", PREP_R("byte", f=TRAIN), ("train_v1.jsonl", *BYTE)),
    ("prepare-synthetic-byte", PREP_S("byte", f=GPT), ("notes.jsonl.gz", *BYTE)),
    ("prepare-synthetic-folder", PREP_S(data="folder"), ("notes.jsonl",)),
    # -- recipe configs and the datasets they name ------------------------------------------------------------------
    ("generate-config-byte", GEN("byte", f="gen.yaml"), ("gen.yaml", *BYTE)),
    ("generate-config-invalid", GEN(data=b"num_priors: [\n", f="gen.yaml"), ("gen.yaml", "invalid YAML")),
    ("generate-config-folder", GEN(data="folder", f="gen.yaml"), ("gen.yaml", "is a folder")),
    ("generate-config-empty", GEN(data=b"", f="gen.yaml"), ("gen.yaml", "mapping")),
    ("generate-config-bom", GEN(data=b"\xef\xbb\xbfseed: -1\n", f="gen.yaml"), ("seed",)),
    ("generate-dataset-byte", _with_dataset("generate", "gen.yaml"), ("dataset_name", "notes.jsonl", *BYTE)),
    ("sft-config-byte", SFT("byte", f="sft.yaml"), ("sft.yaml", *BYTE)),
    ("sft-dataset-byte", _with_dataset("sft", "sft.yaml"), ("notes.jsonl", *BYTE)),
    ("sft-dataset-of-notes", _with_dataset("sft", "sft.yaml", None), ("notes.jsonl", "none of the columns SFT")),
    # -- publish: a run folder whose config.json is broken -----------------------------------------------------------
    (
        "publish-config-byte",
        lambda r, c: [
            "publish",
            str(_write(r / c / "run" / "config.json", b'{"id": "\xff"}').parent),
            "--out",
            _out(r, c),
        ],
        ("config.json", "not UTF-8", "unreadable"),
    ),
    # -- assess score: the items, the key and the answers ------------------------------------------------------------
    ("score-items-byte", _assessment("items.jsonl", "byte"), ("items.jsonl", *BYTE)),
    ("score-key-byte", _assessment("key/key.jsonl", "byte"), ("key.jsonl", *BYTE)),
    (
        "score-key-no-item-id",
        _assessment("key/key.jsonl", data=_rows(lambda rows: [{"origin": "real"}, *rows[1:]])),
        ("key.jsonl:1", "not a key row"),
    ),
    (
        "score-key-item-twice",
        _assessment("key/key.jsonl", data=_rows(lambda rows: [*rows, rows[0]])),
        ("key.jsonl:5", "again"),
    ),
    (
        "score-key-bad-origin",
        _assessment("key/key.jsonl", data=_rows(lambda rows: [{**rows[0], "origin": "maybe"}, *rows[1:]])),
        ("origin",),
    ),
    ("score-answer-cut-mid-file", _assessment(ANNA, data=_cut_line(1)), ("anna.jsonl:2", "invalid JSON")),
    ("score-answers-random-bytes", _assessment(ANNA, data=bytes(range(256)) * 4), ("anna.jsonl",)),
    ("score-answers-folder", _assessment(ANNA, data="folder"), ("anna.jsonl", "is a folder")),
    ("score-answers-differ", _answers_copy(changed=True), ("anna-2.jsonl", "differently")),
    (
        "score-answer-out-of-range",
        _assessment(ANNA, data=lambda data: data.replace(b'"realism": 3', b'"realism": 9', 1)),
        ("anna.jsonl:1", "realism"),
    ),
    # -- guards (medsyn_hf/guards.py): sides that cannot be compared, notes that are not what they claim ------------
    ("prepare-synthetic-is-real", PREP_S(data=SAME, f=TRAIN), ("train_v1.jsonl", "not generated notes")),
    ("prepare-same-file", _notes(*PREPARE_SAME)(data=b""), ("same data",)),
    ("prepare-shared-notes", _notes(*PREPARE_TRUSTED)(data=SAME, f=TRAIN), ("share", "distinct notes")),
    (
        "report-same-file",
        _notes("eval", "report", f"GOOD/{TRAIN}", "--real", f"GOOD/{TRAIN}", *NO_BOOT)(data=b""),
        ("same data", "--allow-overlap"),
    ),
    ("report-shared-notes", REPORT_S(data=SAME, f=TRAIN), ("share", "--allow-overlap")),
    ("report-eval-is-real", REPORT_E(data=SAME, f=TRAIN), ("--real (", "--eval (", "share")),
    ("icd-eval-is-train", ICD_E(data=SAME, f=TRAIN), ("--train (", "--eval (", "share", "held-out notes")),
    (
        "icd-choice-eval-is-train",
        _notes(
            "eval",
            "icd",
            "--train",
            f"GOOD/{TRAIN}",
            "--eval",
            "BAD",
            "--choose-on-train",
            "--synthetic",
            f"g=GOOD/{GPT}",
        )(data=SAME, f=TRAIN),
        ("--train (", "--eval (", "share"),
    ),
    ("report-one-note-many-times", REPORT_S(data=_jsonl([NOTE] * 6)), ("1 distinct synthetic", "too few different")),
    # -- deploy.py --model: a model folder with a broken file --------------------------------------------------------
    ("deploy-model-config-byte", _deploy("config.json", b'{"a": "\xff"}'), ("config.json", "not UTF-8")),
    ("deploy-model-config-list", _deploy("config.json", b"[]"), ("config.json", "not a JSON object")),
]


def _run_case(argv, capsys):
    if argv[0] == "DEPLOY":
        try:
            code = load_deploy().main(argv[1:])
        except SystemExit as exit_:
            code = exit_.code
    else:
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def shown_lines(err: str) -> list[str]:
    """The lines a terminal keeps of stderr: progress bars redraw themselves with carriage returns."""
    return [line.rsplit("\r", 1)[-1] for line in err.split("\n") if line.rsplit("\r", 1)[-1].strip()]


@pytest.mark.parametrize("case, build, words", [pytest.param(c, b, w, id=c) for c, b, w in BROKEN])
def test_every_reader_answers_a_broken_file_in_one_line(broken, case, build, words, capsys, monkeypatch):
    monkeypatch.chdir(broken)
    argv = build(broken, case)
    before = tree_digest(broken)
    code, out, err = _run_case(argv, capsys)
    lines = shown_lines(err)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("medsyn"), (code, err[-3000:])
    assert all(w in lines[0] for w in words), lines[0]
    assert tree_digest(broken) == before, "the command changed its output or its inputs"


def test_a_shorter_source_builds_with_a_warning_naming_it(broken, tmp_path, capsys):
    """A source that lost rows (cut at a row boundary, an older version) is valid data, only less of it: `kg build`
    writes the graph, prints its figures beside the packaged graph's and warns, naming the files behind every figure
    that dropped."""
    from medsyn_hf.kg.build import compare_stats, compile_graph, graph_stats

    sources = Path(bad_tree(broken, "kg-half-main-proc", "sources", src.MAIN_PROC, data=lambda d: _keep_rows(d, 0.5)))
    full, half = graph_stats(compile_graph(broken / GOOD / "sources")), graph_stats(compile_graph(sources))
    assert half["edges_from_hsdn_medsyn"] < full["edges_from_hsdn_medsyn"]
    warnings = compare_stats(half, full, sources)
    assert warnings[0].startswith("edges_from_hsdn_medsyn 0 against") and str(sources / src.MAIN_PROC) in warnings[0]
    assert all(str(sources / src.MAIN_PROC) in w or "rumedtop3_train" in w for w in warnings)
    assert not compare_stats(full, full, sources)

    assert main(["kg", "build", "--sources", str(sources), "--out", str(tmp_path / "g.json.gz"), "--json"]) == 0
    out, err = capsys.readouterr()
    printed = json.loads(out)
    assert printed["has_symptom_edges"] == half["has_symptom_edges"] and printed["packaged"]["codes"] > 10_000
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("medsyn: warning: ") for line in lines)
    assert any("edges_from_hsdn_medsyn" in line and str(sources / src.MAIN_PROC) in line for line in lines)


def _keep_rows(data: bytes, share: float) -> bytes:
    """The header and the last ``share`` of the rows (the fixture's weighted rows are at the start)."""
    lines = data.rstrip(b"\n").split(b"\n")
    return b"\n".join([lines[0], *lines[len(lines) - int(share * (len(lines) - 1)) :]]) + b"\n"


def test_assess_score_merges_a_copied_annotator_and_counts_a_torn_line(broken, tmp_path, capsys):
    """The answers' rows name the annotator: a copy of anna's file under another name is anna again (counted once,
    the agreement unchanged), and a last line a crash cut short is left out and reported, never silently."""
    from medsyn_hf.assess.score import score

    original = score(broken / GOOD / "assess")
    folder = tmp_path / "assess"
    shutil.copytree(broken / GOOD / "assess", folder)
    shutil.copy(folder / ANNA, folder / "answers" / "anna-1.jsonl")
    with open(folder / "answers" / "boris.jsonl", "ab") as f:
        f.write(b'{"item_id": "item-0')
    assert main(["assess", "score", str(folder), "--out", str(tmp_path / "report"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["annotators"] == ["anna", "boris"] and report["answers"] == original["answers"] == 8
    assert report["agreement"] == original["agreement"]
    assert report["read"]["duplicates_merged"] == 4 and report["read"]["partial_last_lines"] == 1
    assert report["read"]["files"]["anna-1.jsonl"] == {"answers": 4, "annotators": ["anna"]}
    text = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "1 partial last line(s)" in text and "Merged: 4 answers" in text


# -- issue 25: a remote server that misbehaves ----------------------------------------------------------------------
# `generate` with backend openai against a local server (plain sockets and threads) that reads each request and then:
# never answers, sends the headers and the body only after the timeout, answers 200 with a body that is not JSON,
# or drops the connection in the middle of the body. Each run ends within its (small) timeouts with one error line
# after the progress bar; a retry is one warning line with its reason; completions received are kept in the cache.
REPLY = {
    "id": "c",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Жалобы на кашель."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
}


class Misbehaving:
    """A TCP server on 127.0.0.1 answering the requests after the first ``good`` ones (which get ``REPLY``) ``how``:
    ``silent``, ``slow`` (headers at once, the body after ``delay`` s), ``trickle`` (headers at once, then the body a
    byte every 0.2 s: no single read waits long), ``malformed`` or ``drop``."""

    def __init__(self, how: str, good: int = 0, delay: float = 5.0):
        import socket
        import threading

        self.how, self.good, self.delay, self.requests = how, good, delay, 0
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(
                next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            how = "good" if self.requests <= self.good else self.how
            reply = json.dumps(REPLY).encode() if how in ("good", "slow", "trickle") else b"<html>not json</html>"
            header = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(reply)}\r\n\r\n"
            if how == "silent":
                self.stop.wait()
                return
            conn.sendall(header.encode())
            if how == "slow" and self.stop.wait(self.delay):
                return
            if how == "trickle":
                for i in range(len(reply)):
                    if self.stop.wait(0.2):
                        return
                    conn.sendall(reply[i : i + 1])
                return
            conn.sendall(reply[: len(reply) // 2] if how == "drop" else reply)

    def close(self):
        self.stop.set()
        self.sock.close()


def remote_config(tmp_path, url, **overrides) -> str:
    return write_yaml(
        tmp_path / "remote.yaml",
        **{
            "model_name_or_path": "org/served-model",
            "backend": "openai",
            "base_url": url,
            "num_priors": 4,
            "shard_size": 4,
            "max_new_tokens": 8,
            "connect_timeout": 1,
            "request_timeout": 1,
            "request_retries": 1,
            "concurrency": 2,
            "output_dir": str(tmp_path / "runs"),
            "filters": {"min_words": 1, "min_symptom_recall": 0.0},
            **overrides,
        },
    )


def run_remote(config, capsys) -> tuple[int, list[str], float]:
    start = time.monotonic()
    code = main(["generate", "--config", config])
    err = capsys.readouterr().err
    lines = shown_lines(err)
    assert "\nmedsyn: error:" in "\n" + err or code == 0, err  # the error starts a line: the bar was closed first
    return code, lines, time.monotonic() - start


@pytest.mark.parametrize(
    "how, requests, words",
    [
        ("silent", 1, "accepted the connection but sent nothing (no complete reply) in 1 s (request_timeout)"),
        ("slow", 1, "accepted the connection but sent nothing (no complete reply) in 1 s (request_timeout)"),
        ("trickle", 1, "accepted the connection but sent nothing (no complete reply) in 1 s (request_timeout)"),
        ("malformed", 1, "not an OpenAI chat completion reply"),
        ("drop", 2, "the first request failed (RemoteProtocolError"),
    ],
)
def test_a_misbehaving_server_ends_the_run_in_one_line_within_its_timeouts(tmp_path, capsys, how, requests, words):
    server = Misbehaving(how)
    try:
        code, lines, seconds = run_remote(remote_config(tmp_path, server.url), capsys)
    finally:
        server.close()
    assert code == 2 and lines[-1].startswith("medsyn: error:") and words in lines[-1] and server.url in lines[-1]
    assert "connect timeout 1 s, reply timeout 1 s (request_timeout), 1 retries" in "\n".join(lines)
    assert server.requests == requests  # the probe alone: no request waits behind a server that failed it
    retries = [line for line in lines if "retry 1 of 1" in line]
    assert len(retries) == requests - 1 and all("RemoteProtocolError" in line for line in retries)
    assert seconds < 30  # 1 s timeouts (the defaults' 600 s x 3 retries hung for half an hour before a word)


def test_a_server_that_goes_silent_keeps_the_completions_it_sent(tmp_path, capsys):
    """The probe is answered, then the server goes silent: each other request times out, is retried once (one line
    each) and fails; the run ends with one line, the probe's completion stays cached in <run>/requests, and a re-run
    against a server that answers again sends only the requests without a reply."""
    from medsyn_hf.request_cache import read_cache

    server = Misbehaving("silent", good=1)
    config = remote_config(tmp_path, server.url)
    try:
        code, lines, seconds = run_remote(config, capsys)
    finally:
        server.close()
    assert code == 2 and "3 request(s) failed after their retries (first: no reply in 1 s" in lines[-1]
    assert sum("retry 1 of 1" in line and "no reply in 1 s" in line for line in lines) == 3
    cache = next((tmp_path / "runs").glob("*/requests/shard-00000.jsonl"))
    assert len(read_cache(cache)) == 1 and server.requests == 7  # the probe, then 3 requests sent twice

    healthy = Misbehaving("good")
    write_yaml(tmp_path / "remote.yaml", **{**json.loads(Path(config).read_text()), "base_url": healthy.url})
    try:
        code, lines, _ = run_remote(config, capsys)
    finally:
        healthy.close()
    assert code == 0 and healthy.requests == 3 and len(read_cache(cache)) == 4
