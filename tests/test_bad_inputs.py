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
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_SOURCES, REPO

from medsyn_hf.cli import main
from medsyn_hf.evaluation.icd import COMMAND as ICD_COMMAND
from medsyn_hf.io import MARKER

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
    "sources/rumedtop3/train_v1.jsonl",
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
    assert main(["kg", "build", "--sources", str(REPO / "data" / "sources"), "--out", "g.json.gz"]) == 0
    assert main(["kg", "build", "--sources", str(REPO / "data" / "sources"), "--out", "g.json.gz"]) == 0
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
