"""Every command the READMEs show runs, scaled down to the tiny model, in a sandbox copy of the repository.

Commands are read from the ```bash blocks of README.md and spaces/medsyn-demo/README.md (``\\`` continuations joined,
``# comments`` dropped, ``a && b`` split, each ``[optional | part]`` run once without and once with each choice), and
```python blocks are run as scripts. RULES below says how a command is run: scaled down (extra arguments or
substitutions), expected to fail cleanly offline, served and stopped, expanded into its Makefile recipe, or not run at
all — every rule with its reason. A command no rule knows is run as written, so a new README command is covered as
soon as it is written. Everything runs in one session sandbox: a copy of the repository (never the repository itself:
commands write into ``runs/`` and ``outputs/`` there) in which the "What `make demo` does" chain runs first, scaled
down, so later commands find ``runs/demo/{ift,sft,generate/latest,ru-notes}``. Commands run in README
order; the same command twice (``--json`` aside) runs once.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, free_port

READMES = (REPO / "README.md", REPO / "spaces" / "medsyn-demo" / "README.md")
DEMO_HEADING = "What `make demo` does"
DEMO_OUTPUTS = ("runs/demo/ift", "runs/demo/sft", "runs/demo/generate/latest", "runs/demo/ru-notes")
NOT_COPIED = {".git", ".venv", "runs", "outputs", "__pycache__", ".pytest_cache", ".ruff_cache", "medsyn_hf.egg-info"}
TIMEOUT = 600  # seconds for one command


@dataclass(frozen=True)
class Rule:
    """How commands matching ``pattern`` (a regex searched in the command as the README writes it) are run."""

    pattern: str
    why: str
    add: str = ""  # arguments appended (for TrlParser/argparse the last value of an option wins)
    sub: tuple[tuple[str, str], ...] = ()  # (regex, replacement) applied to the command
    yaml: tuple[tuple[str, object], ...] = ()  # keys set in a copy of its --config YAML (options the CLI lacks)
    run: str = "ok"  # ok: exit 0 | offline: exit 2, one error line about the Hub | server | make | skip

    def applies(self, command: str) -> bool:
        return re.search(self.pattern, command) is not None


STAND_IN = r"\1 --model_name_or_path runs/recipe-models/\2"  # the recipe folder's tiny stand-in (build_recipe_models)
LIMITS = "--max_steps 2 --gradient_accumulation_steps 1 --eval_strategy no --save_strategy no"
RULES = (
    Rule(r"^make (test|test-all)\b", run="skip", why="runs the test suite, this test included: recursion"),
    Rule(
        r"^make ",
        run="make",
        why="a Makefile target: its recipe's steps (`make -n`, the venv's bin/ prefix and "
        "`echo`s dropped) run through these same rules; `make demo`'s are README's demo block with --json",
    ),
    Rule(
        r"^(python3? -m venv|\. |source |pip3? install)",
        run="skip",
        why="sets up the venv: the test runs inside the installed one",
    ),
    Rule(
        r"^medsyn tiny-model --pretrain\b",
        add="--limit 40 --vocab-size 600 --steps 2 --stop-after 2 --batch-size 2 "
        "--seq-len 1024 --val-rows 4 --log-every 1 --threads 1",
        why="the writer's pretraining takes ~1 h on 2 cores: 40 rows per source and 2 steps run the same code and "
        "write the same files (tests/test_tiny_writer.py checks them)",
    ),
    Rule(
        r"^python benchmarks/tiny_writer\.py",
        add="--n 4",
        why="200 notes take minutes on 2 cores; 4 priors (2 per group) run the same benchmark code",
    ),
    Rule(
        r"^medsyn ift build\b",
        add="--limit 30",
        why="the full build takes ~1 min; 30 examples per task still build every task",
    ),
    Rule(r"recipes/tiny/sft/config\.yaml", add=LIMITS, why="100 steps take ~3 min on 2 cores; 2 steps train and save"),
    Rule(
        r"^medsyn sft --config recipes/tiny/sft/config\.yaml\s*$",
        add="--dataset_name runs/demo/ift --output_dir runs/sft-tiny",
        why="the recipe's path outputs/ift is what its header's command writes; here: the demo's",
    ),
    Rule(
        r"recipes/[\w.-]+/sft/config_lora\.yaml",
        sub=((r"(--config recipes/([\w.-]+)/sft/config_lora\.yaml)", STAND_IN),),
        add=f"--dtype float32 --bf16 false --use_cpu true --max_length 512 {LIMITS}",
        why="a 7-8B model needs a GPU (and a Llama one a licence): the recipe as written, on a tiny random model of "
        "the same architecture class with its family's tokenizer and chat template (tests/recipe_models.py; the "
        "sandbox builds one per GPU recipe into runs/recipe-models/), on CPU, 2 steps of 512-token rows",
    ),
    Rule(
        r"recipes/tiny/generate/config\.yaml",
        add="--num_priors 8 --shard_size 4 --batch_size 4",
        why="300 notes take ~3 min; 8 notes in 2 shards still give each of 2 processes a shard; the recipe's length "
        "and default filters stay: the pretrained writer's notes pass them (publish needs kept notes)",
    ),
    Rule(
        r"recipes/tiny/generate/config_complaints\.yaml",
        add="--num_priors 8 --shard_size 4 --batch_size 4",
        why="300 complaints take ~1 min on 2 cores; 8 in 2 shards run the same recipe with its own filters",
    ),
    Rule(
        r"recipes/(?!tiny/)[\w.-]+/generate/config\.yaml",
        sub=((r"(--config recipes/([\w.-]+)/generate/config\.yaml)", STAND_IN),),
        add="--dtype float32 --num_priors 8 --shard_size 8 --max_new_tokens 16 --batch_size 8",
        yaml=(("filters", {"min_symptom_recall": 0.0, "min_words": 0, "min_cyrillic_share": 0.0}),),
        why="as the SFT rule: the recipe's tiny stand-in with the LoRA adapter its scaled-down SFT wrote (the "
        "recipe's own adapter_name_or_path), 8 short notes; a random model's notes fail the real filter thresholds, "
        "and publish refuses a dataset with no kept note",
    ),
    Rule(
        r"^medsyn kg build\b",
        sub=(
            (r"--sources data/sources", "--sources tests/fixtures/sources"),
            (r"--out medsyn_hf/resources/mkg\.json\.gz", "--out runs/mkg.json.gz"),
        ),
        why="the full build is slow (test_kg checks it rebuilds the shipped graph byte for byte); the sandbox's "
        "package keeps the shipped graph",
    ),
    Rule(
        r"^medsyn assess prepare\b",
        add="--n 2",
        why="the scaled-down demo publishes a handful of notes: one real/synthetic pair runs the same code",
    ),
    Rule(
        r"^medsyn eval icd\b",
        sub=((r"data/sources/rumedtop3/train_v1\.jsonl", "tests/fixtures/sources/rumedtop3/train_v1.jsonl"),),
        add="--drop-unseen --seeds 0 --bootstrap 50",
        why="~30 s per classifier on the full data: the fixture's 50 real notes (4 codes; dev notes of other codes "
        "dropped, synthetic ones of other codes too), one seed",
    ),
    Rule(
        r"^medsyn plan\b",
        sub=(
            (r"data/sources/rumedtop3/train_v1\.jsonl", "tests/fixtures/sources/rumedtop3/train_v1.jsonl"),
            (r"--fill-to 80\b", "--fill-to 11"),
        ),
        why="RuMedTop3 filled to 80 is 6,071 priors, hours of generation on 2 cores: the fixture's 50 real notes "
        "(4 codes) filled to 11 plan 15 priors over 3 codes, generated by the tiny recipe's command below",
    ),
    Rule(
        r"^medsyn eval icd\b.*--choose-on-train",
        add="--bootstrap 100",
        why="the choice rule weighs gains by the bootstrap's standard errors, which need at least 100 resamples "
        "(the rule above asks for 50); on the fixture's ~11 validation notes they take well under a second",
    ),
    Rule(
        r"--model outputs/sft\b",
        sub=((r"--model outputs/sft\b", "--model runs/demo/sft"),),
        why="README's placeholder for a GPU-trained model: the demo's",
    ),
    Rule(
        r"--repo-id",
        run="offline",
        why="pushes to the Hub: offline it must fail with one line and exit 2, its local output left as it was",
    ),
    Rule(
        r"spaces/medsyn-demo/app\.py",
        run="server",
        add="--host 127.0.0.1 --port {port}",
        why="a server: started on a free port, polled until it answers, checked (/config, datasets), stopped",
    ),
)


@dataclass(frozen=True)
class Command:
    text: str  # as the README writes it, continuations joined, comment dropped, optional parts chosen
    where: str  # README.md:LINE
    kind: str = "shell"  # shell | python (a ```python block, run as a script)


# -- reading the READMEs ---------------------------------------------------------------------------------------------
def code_blocks(text: str):
    """(language, line number of its first line, body) of each fenced code block of a markdown text."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^\s*```\s*(\w*)", lines[i])
        i += 1
        if fence:
            start, body = i + 1, []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            i += 1
            yield fence.group(1).lower(), start, "\n".join(body)


def strip_comment(line: str) -> str:
    """The line without its ``# comment`` (a # inside quotes or inside a word stays)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def shell_commands(body: str, first_line: int = 1):
    """(line number, command) of a shell block: continuations joined, comments dropped, ``&&`` chains split."""
    pending, start = [], None
    for n, raw in enumerate(body.splitlines(), first_line):
        line = strip_comment(raw)
        continued = line.endswith("\\")
        line = line[:-1] if continued else line
        if line.strip():
            start = n if start is None else start
            pending.append(line.strip())
        if not continued and pending:
            for part in re.split(r"\s+&&\s+", " ".join(pending)):
                yield start, part.strip()
            pending, start = [], None


def variants(command: str) -> list[str]:
    """The command without its ``[optional]`` parts, then with each choice of each part (``[a | b]``) in turn."""
    groups = list(re.finditer(r"(?<!\S)\[([^\[\]]*)\](?!\S)", command))

    def fill(chosen: dict[int, str]) -> str:
        out, last = "", 0
        for i, group in enumerate(groups):
            out += command[last : group.start()] + chosen.get(i, "")
            last = group.end()
        return " ".join((out + command[last:]).split())

    found = [fill({})]
    for i, group in enumerate(groups):
        found += [fill({i: choice.strip()}) for choice in group.group(1).split(" | ")]
    return found


def readme_commands() -> list[Command]:
    found = []
    for readme in READMES:
        name = readme.relative_to(REPO).as_posix()
        for language, line, body in code_blocks(readme.read_text(encoding="utf-8")):
            if language == "python":
                found.append(Command(body, f"{name}:{line}", "python"))
            elif language in ("bash", "sh", "shell"):
                found += [Command(v, f"{name}:{n}") for n, c in shell_commands(body, line) for v in variants(c)]
    return found


def demo_block() -> list[str]:
    """The commands of README's "What `make demo` does" block, in order."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split(f"## {DEMO_HEADING}", 1)[1]
    body = next(body for language, _, body in code_blocks(section) if language == "bash")
    return [c for _, c in shell_commands(body)]


def rules_for(command: str) -> list[Rule]:
    return [rule for rule in RULES if rule.applies(command)]


def scaled(command: str) -> tuple[str, str]:
    """(the command as run, how: ok / offline / server / make / skip) by the rules that apply, in table order."""
    rules = rules_for(command)
    for rule in rules:
        for pattern, replacement in rule.sub:
            command = re.sub(pattern, replacement, command)
    command = " ".join([command, *(rule.add for rule in rules if rule.add)])
    return command, next((rule.run for rule in rules if rule.run != "ok"), "ok")


def make_steps(command: str, cwd: Path) -> list[str]:
    """The shell commands a ``make TARGET ...`` line runs (``make -n``, installation taken as done), the venv's bin/
    prefix dropped, ``echo`` lines left out."""
    venv = Path(sys.executable).parent.parent
    args = shlex.split(command)[1:]
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/bin/medsyn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    steps = [c for _, c in shell_commands(out) if not re.match(r"^g?make(\[\d+\])?: ", c)]  # make's own messages
    return [c.replace(f"{venv}/bin/", "") for c in steps if not re.match(r"^(echo|true|:)\b", c)]


def without_json(command: str) -> tuple[str, ...]:
    return tuple(t for t in shlex.split(command) if t != "--json")


# -- running them ----------------------------------------------------------------------------------------------------
def tree_hash(path: Path) -> str:
    """Names, link targets and bytes of everything under ``path`` (a file or a folder)."""
    digest = hashlib.sha256()
    for p in sorted([path, *path.rglob("*")] if path.is_dir() else [path]):
        digest.update(str(p.relative_to(path)).encode())
        if p.is_symlink():
            digest.update(os.readlink(p).encode())
        elif p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


def out_path(command: str) -> str | None:
    tokens = shlex.split(command)
    return next((tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t in ("--out", "--output_dir")), None)


def children_cpu() -> float:
    """CPU seconds used by finished child processes: with the wall time, how long a command takes on idle cores."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sandbox:
    """A copy of the repository where commands run, each once; ``failures(command)`` says what went wrong."""

    def __init__(self, root: Path):
        self.root, self.done, self.count = root, {}, 0
        venv_bin = Path(sys.executable).parent
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")},
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(venv_bin.parent),
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1",
            "HF_HOME": str(root / ".hf"),
            "MEDSYN_CACHE": str(root / ".cache"),
        }

    def failures(self, command: Command) -> list[str]:
        """What went wrong running a README command (empty: it ran as its rule expects)."""
        if command.kind == "python":
            script = self.root / ".readme" / f"{command.where.replace('/', '_').replace(':', '_')}.py"
            script.parent.mkdir(exist_ok=True)
            script.write_text(command.text, encoding="utf-8")
            return self.run_shell(f"python {shlex.quote(str(script))}", "ok", command.where)
        final, how = scaled(command.text)
        if how == "skip":
            return []
        final = self.with_yaml(final, [kv for rule in rules_for(command.text) for kv in rule.yaml])
        if how == "make":
            return [
                f"{command.text} -> {line}"
                for step in make_steps(command.text, self.root)
                for line in self.failures(Command(step, command.where))
            ]
        key = without_json(final)
        if key not in self.done:
            self.done[key] = self.run_shell(final, how, command.where)
        return self.done[key]

    def with_yaml(self, command: str, settings: list[tuple[str, object]]) -> str:
        """The command reading a copy of its --config YAML with ``settings`` set (beside the original)."""
        if not settings:
            return command
        import yaml

        config = re.search(r"--config (\S+)", command).group(1)
        values = {**yaml.safe_load((self.root / config).read_text(encoding="utf-8")), **dict(settings)}
        scaled_config = str(Path(config).with_suffix(".readme.yaml"))
        (self.root / scaled_config).write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
        return command.replace(f"--config {config}", f"--config {scaled_config}")

    def run_shell(self, final: str, how: str, where: str) -> list[str]:
        self.count += 1
        log = self.root / ".readme" / f"{self.count:03d}.log"
        log.parent.mkdir(exist_ok=True)
        if how == "server":
            return self.serve(final, log)
        out = out_path(final)
        before = tree_hash(self.root / out) if how == "offline" and out and (self.root / out).exists() else None
        started, cpu = time.monotonic(), children_cpu()
        try:
            result = subprocess.run(
                ["bash", "-o", "pipefail", "-c", final],
                cwd=self.root,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return [f"{where}: `{final}` ran past {TIMEOUT} s"]
        log.write_text(
            f"$ {final}\n# {time.monotonic() - started:.1f} s ({children_cpu() - cpu:.1f} CPU s), "
            f"exit {result.returncode}\n"
            f"{result.stdout}\n--- stderr\n{result.stderr}",
            encoding="utf-8",
        )
        said = f"{where}: `{final}` exited {result.returncode}:\n{result.stderr[-3000:]}"
        if "Traceback (most recent call last)" in result.stderr + result.stdout:
            return [f"{said}\n(a traceback, not a one-line error)"]
        if how == "ok":
            return [said] if result.returncode != 0 else []
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        problems = []
        if result.returncode != 2 or len(errors) != 1:
            problems.append(f"{said}\n(offline, a push must fail with exit 2 and one error line)")
        elif not re.search(r"(?i)hub|offline|token|connect|network|push|upload", errors[0]):
            problems.append(f"{said}\n(the error line does not say the push failed)")
        if before is not None and tree_hash(self.root / out) != before:
            problems.append(f"{where}: `{final}` changed {out} although its push failed")
        return problems

    def serve(self, final: str, log: Path) -> list[str]:
        from conftest import served

        port = free_port()
        final = final.replace("{port}", str(port))
        url = f"http://127.0.0.1:{port}/"
        with served(["bash", "-c", f"exec {final}"], url, log, env=self.env, cwd=self.root):
            return check_space(url, self.root)


def check_space(url: str, root: Path) -> list[str]:
    """The served Space: /config names no server path; the demo's published notes and instruction datasets filter
    by code through their own code columns (ICD-10, icd10)."""
    from gradio_client import Client

    with urllib.request.urlopen(url + "config", timeout=60) as response:
        config = response.read().decode("utf-8")
    problems = [f"/config shows the server path {root}"] if str(root) in config else []
    if '"runs/demo/ru-notes"' not in config:
        return problems + ["the Space does not list runs/demo/ru-notes among its datasets"]
    client = Client(url, verbose=False)
    for folder, column in (("runs/demo/ru-notes", "ICD-10"), ("runs/demo/ift", "icd10")):
        name = client.predict(folder, api_name="/configs")["value"]
        every, _ = client.predict(folder, name, "", 500, api_name="/browse")
        codes = [row[every["headers"].index(column)] for row in every["data"]]
        category = next(c[:3] for c in codes if c)
        rows, summary = client.predict(folder, name, category, 500, api_name="/browse")
        shown = [row[rows["headers"].index(column)] for row in rows["data"]]
        if not shown or sorted(shown) != sorted(c for c in codes if c.startswith(category)):
            problems.append(f"{folder} ({name}) filtered by {category}: {summary}")
    return problems


COMMANDS = readme_commands()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The repository copied (not linked: commands write beside their inputs), then README's demo chain run in it."""
    root = tmp_path_factory.mktemp("readme")
    for entry in REPO.iterdir():
        if entry.name not in NOT_COPIED:
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(
                entry,
                root / entry.name,
                **({"symlinks": True, "ignore": shutil.ignore_patterns(*NOT_COPIED)} if entry.is_dir() else {}),
            )
    build_recipe_models(root)
    box = Sandbox(root)
    for command in demo_block():
        box.failures(Command(command, f"README.md ({DEMO_HEADING})"))
    return box


def build_recipe_models(root: Path) -> None:
    """runs/recipe-models/<recipe>: the tiny stand-in of each GPU recipe's model, which the GPU recipes' rules load."""
    import yaml
    from recipe_models import build_recipe_model

    for config in sorted((root / "recipes").glob("*/sft/config_lora.yaml")):
        model = yaml.safe_load(config.read_text(encoding="utf-8"))["model_name_or_path"]
        build_recipe_model(model, root / "runs" / "recipe-models" / config.parents[1].name)


def command_id(command: Command) -> str:
    first = command.text.splitlines()[0]
    return f"{command.where} {first if len(first) <= 90 else first[:50] + '...' + first[-37:]}"


@pytest.mark.parametrize("command", COMMANDS, ids=map(command_id, COMMANDS))
def test_readme_command(command, sandbox):
    if command.kind == "shell" and scaled(command.text)[1] == "skip":
        pytest.skip(next(r.why for r in rules_for(command.text) if r.run == "skip"))
    problems = sandbox.failures(command)
    assert not problems, "\n\n".join(problems)


def test_the_demo_chain_leaves_its_outputs(sandbox):
    missing = [p for p in DEMO_OUTPUTS if not (sandbox.root / p).exists()]
    assert not missing, f"README's demo chain did not write {missing} (see its commands' failures above)"


def test_make_demo_runs_the_readme_demo_block():
    """`make demo`'s steps are README's "What `make demo` does" block (with --json), in order."""
    steps = [without_json(c) for c in make_steps("make demo", REPO)]
    block = [without_json(c) for c in demo_block() if not c.startswith("python")]
    assert steps == block


def test_every_rule_is_used():
    """A rule no README command (or Makefile step it reaches) needs any more is stale: remove or fix it."""
    commands = [c.text for c in COMMANDS if c.kind == "shell"]
    commands += [s for c in commands if scaled(c)[1] == "make" for s in make_steps(c, REPO)]
    assert [r.pattern for r in RULES if not any(r.applies(c) for c in commands)] == []


def test_reading_commands():
    body = (
        "medsyn a --x 1 \\\n    --y 'p # q'   # a comment\n    # only a comment\n"
        "python -m venv .venv && . .venv/bin/activate\nmedsyn b [--c d | --e f] [--g]\n"
    )
    assert list(shell_commands(body)) == [
        (1, "medsyn a --x 1 --y 'p # q'"),
        (4, "python -m venv .venv"),
        (4, ". .venv/bin/activate"),
        (5, "medsyn b [--c d | --e f] [--g]"),
    ]
    assert variants("medsyn b [--c d | --e f] [--g]") == [
        "medsyn b",
        "medsyn b --c d",
        "medsyn b --e f",
        "medsyn b --g",
    ]
    assert variants('python -c "print([1])"') == ['python -c "print([1])"']
    assert scaled("medsyn ift build --out x")[0] == "medsyn ift build --out x --limit 30"
    assert scaled("medsyn publish a --out b --repo-id c")[1] == "offline"
    assert scaled("make test")[1] == "skip" and scaled("make demo")[1] == "make"
    assert scaled("medsyn nonesuch")[0] == "medsyn nonesuch" and scaled("medsyn nonesuch")[1] == "ok"


def test_make_install_takes_the_torch_the_user_chooses():
    """`make install` installs TORCH_SPEC (default torch==2.13.0) from TORCH_INDEX when given (README, "Install")."""

    def torch_step(*variables: str) -> str:
        out = subprocess.run(
            ["make", "-n", "-B", "install", "VENV=/nonexistent/venv", *variables],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return next(line for line in out.splitlines() if "torch" in line)

    pip = "/nonexistent/venv/bin/pip install -q"
    assert torch_step() == f'{pip} "torch==2.13.0"'
    cpu = "https://download.pytorch.org/whl/cpu"
    assert torch_step(f"TORCH_INDEX={cpu}") == f'{pip} --index-url {cpu} "torch==2.13.0"'
    assert torch_step("TORCH_SPEC=torch>=2.8") == f'{pip} "torch>=2.8"'
