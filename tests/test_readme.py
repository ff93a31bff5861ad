"""Every command the READMEs show runs, scaled down to the tiny model, in a sandbox copy of the repository; README's
first screen gets a newcomer going, and every relative link of the documentation resolves.

Commands are read from the ```bash blocks of README.md, CONTRIBUTING.md, docs/*.md and spaces/medsyn-demo/README.md
(``\\`` continuations joined, ``# comments`` dropped, ``a && b`` split, each ``[optional | part]`` run once without and
once with each choice), and ```python blocks are run as scripts. RULES below says how a command is run: scaled down
(extra arguments or substitutions), expected to fail cleanly offline, served and stopped, expanded into its Makefile
recipe, or not run at all — every rule with its reason. A command no rule knows is run as written, so a new command
is covered as soon as it is written. Commands run in sandboxes: copies of the repository (never the repository
itself: commands write into ``runs/`` and ``outputs/`` there) in which README's "What `make demo` does" chain has run
first, scaled down, so every command finds ``runs/demo/{ift,sft,generate/latest,ru-notes}``. The demo chain runs once
per test run; each section (a ``## heading`` of README.md; of another file, its path and heading) then gets its own
copy of that sandbox, where its commands run in the file's order, so sections run in parallel (`pytest -n --dist
loadscope`: one test class per section) and a command relies only on the demo and on the commands before it in its
own section, as a reader following that section does. A command the demo chain ran, or its section ran before
(``--json`` aside), is not run again.
"""

from __future__ import annotations

import hashlib
import json
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
from conftest import REPO, build_once, free_port

# the files whose commands run, in this order (README first: later files' commands may read its outputs)
READMES = (
    REPO / "README.md",
    REPO / "CONTRIBUTING.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "spaces" / "medsyn-demo" / "README.md",
)
DOCS = (*READMES, REPO / "benchmarks" / "README.md")  # every relative link in these must resolve
FIRST_SCREEN = 60  # lines of README.md a newcomer sees first
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
        add="--limit 40 --vocab-size 600 --steps 2 --stop-after 2 --batch-size 2 --val-rows 4 --log-every 1 "
        "--threads 1",
        why="the writer's pretraining takes ~1 h on 2 cores: 40 rows per source and 2 steps (of the README's "
        "384-token rows) run the same code and write the same files (tests/test_tiny_writer.py checks them)",
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
        r"^medsyn publish outputs/generate/latest\b",
        sub=((r"outputs/generate/latest", "runs/demo/generate/latest"),),
        why="README's Publishing section names a GPU run's folder and generates nothing itself: the demo's run stands "
        "in (its section's sandbox has it)",
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
    section: str = ""  # README.md's "## heading" above it (another README: its path); its sandbox


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


def section_at(text: str, line: int) -> str:
    """The last ``## heading`` above a line of a markdown text ("" above the first)."""
    headings = [h for h in text.splitlines()[: line - 1] if h.startswith("## ")]
    return headings[-1][3:].strip() if headings else ""


def readme_commands() -> list[Command]:
    found = []
    for readme in READMES:
        name = readme.relative_to(REPO).as_posix()
        text = readme.read_text(encoding="utf-8")
        for language, line, body in code_blocks(text):
            section = f"{name}: {section_at(text, line)}" if readme != READMES[0] else section_at(text, line)
            if language == "python":
                found.append(Command(body, f"{name}:{line}", "python", section))
            elif language in ("bash", "sh", "shell"):
                found += [
                    Command(v, f"{name}:{n}", section=section)
                    for n, c in shell_commands(body, line)
                    for v in variants(c)
                ]
    return found


def demo_block() -> list[str]:
    """The commands of README's "What `make demo` does" block, in order."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split(f"## {DEMO_HEADING}", 1)[1]
    body = next(body for language, _, body in code_blocks(section) if language == "bash")
    return [c for _, c in shell_commands(body)]


def prose_lines(text: str):
    """(line number, line) of a markdown text outside its fenced code blocks."""
    fenced = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield n, line


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters of any script, digits, ``_`` and ``-``
    stay), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a markdown text's headings (a repeated one numbered -1, -2, ... as GitHub does)."""
    found, seen = set(), {}
    for _, line in prose_lines(text):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every markdown link and image outside code (fenced blocks, inline code spans), its
    text possibly wrapped over lines."""
    prose = dict(prose_lines(text))
    lines = [prose.get(n, "") for n in range(1, len(text.splitlines()) + 1)]
    plain = re.sub(r"`[^`]*`", lambda span: re.sub(r"[^\n]", " ", span.group()), "\n".join(lines))
    return [(plain.count("\n", 0, m.start()) + 1, m.group(1)) for m in LINK.finditer(plain)]


def broken_links(doc: Path) -> list[str]:
    """The relative links of ``doc`` whose file, or whose heading in a markdown file, does not exist."""
    problems = []
    for n, target in links(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][\w+.-]*:", target):  # https:, mailto:, ...: not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        where = f"{doc.relative_to(REPO)}:{n}: {target}"
        if not file.exists():
            problems.append(f"{where} (no such file)")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file.read_text(encoding="utf-8"))):
            problems.append(f"{where} (no such heading)")
    return problems


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

    def __init__(self, root: Path, done: dict | None = None):
        self.root, self.done, self.count = root, dict(done or {}), len(done or {})
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


DONE = ".readme/done.json"  # the demo sandbox's commands (as `without_json` keys) and what went wrong with each


def copy_repository(root: Path) -> None:
    """The repository's files into ``root`` (copied, not linked: commands write beside their inputs)."""
    for entry in REPO.iterdir():
        if entry.name not in NOT_COPIED:
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(
                entry,
                root / entry.name,
                **({"symlinks": True, "ignore": shutil.ignore_patterns(*NOT_COPIED)} if entry.is_dir() else {}),
            )


def build_demo_sandbox(root: Path) -> None:
    """The repository copied, the GPU recipes' stand-in models built, then README's demo chain run in it."""
    copy_repository(root)
    build_recipe_models(root)
    box = Sandbox(root)
    for command in demo_block():
        box.failures(Command(command, f"README.md ({DEMO_HEADING})"))
    (root / DONE).write_text(json.dumps([[list(k), v] for k, v in box.done.items()]), encoding="utf-8")


@pytest.fixture(scope="session")
def demo_sandbox(tmp_path_factory) -> Sandbox:
    """The sandbox after README's demo chain: built once per test run, however many workers run README sections."""
    root = build_once(tmp_path_factory, "readme-demo", build_demo_sandbox)
    return Sandbox(root, {tuple(k): v for k, v in json.loads((root / DONE).read_text(encoding="utf-8"))})


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory, demo_sandbox):
    """``sandbox(section)``: that README section's own copy of the demo sandbox, made when its first command runs."""
    boxes = {}

    def for_section(section: str) -> Sandbox:
        if section not in boxes:
            root = tmp_path_factory.mktemp("readme-section")
            shutil.copytree(demo_sandbox.root, root, symlinks=True, dirs_exist_ok=True)
            boxes[section] = Sandbox(root, demo_sandbox.done)
        return boxes[section]

    return for_section


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


def run_readme_command(command: Command, sandbox) -> None:
    if command.kind == "shell" and scaled(command.text)[1] == "skip":
        pytest.skip(next(r.why for r in rules_for(command.text) if r.run == "skip"))
    problems = sandbox(command.section).failures(command)
    assert not problems, "\n\n".join(problems)


def section_class(section: str, commands: list[Command]) -> type:
    """A test class whose ``test_readme_command`` runs one README section's commands in order: `pytest -n N --dist
    loadscope` runs a class on one worker, so sections run in parallel and each one's commands in sequence."""

    @pytest.mark.parametrize("command", commands, ids=map(command_id, commands))
    def test_readme_command(self, command, sandbox):
        run_readme_command(command, sandbox)

    name = "Test" + "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", section or "Top"))
    return type(
        name,
        (),
        {"__doc__": f"README section: {section or '(above the first)'}", "test_readme_command": test_readme_command},
    )


SECTIONS = {}
for _command in COMMANDS:
    SECTIONS.setdefault(_command.section, []).append(_command)
for _section, _commands in SECTIONS.items():
    _cls = section_class(_section, _commands)
    assert _cls.__name__ not in globals(), f"two README sections make the test class {_cls.__name__}"
    globals()[_cls.__name__] = _cls
del _command, _section, _commands, _cls


def test_the_demo_chain_leaves_its_outputs(demo_sandbox):
    missing = [p for p in DEMO_OUTPUTS if not (demo_sandbox.root / p).exists()]
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


# -- the README's first screen and the documentation's links --------------------------------------------------------
def test_the_first_screen_gets_a_newcomer_to_a_published_dataset():
    """README's first 60 lines: its first commands are `make demo` and `make test`, it shows what you get with the
    Space's picture (a small PNG), says how to run on a GPU and links to every section below it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first = "\n".join(text.splitlines()[:FIRST_SCREEN])
    language, _, body = next(code_blocks(text))
    assert language == "bash" and [c for _, c in shell_commands(body)] == ["make demo", "make test"]
    assert body in first  # ... within the first screen
    assert "load_dataset(" in first and "recipes/sft.py" in first and "--repo-id" in first
    pictures = [target for _, target in links(first) if target.endswith(".png")]
    assert pictures, "the first screen shows no picture"
    for picture in pictures:
        png = (REPO / picture).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 150_000, picture
    headings = [(n, re.match(r"^## (.+)$", line)) for n, line in prose_lines(text)]
    sections = [slug(heading.group(1)) for n, heading in headings if heading and n > FIRST_SCREEN]
    linked = {target[1:] for _, target in links(first) if target.startswith("#")}
    assert sections and [s for s in sections if s not in linked] == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_every_relative_link_resolves(doc):
    assert broken_links(doc) == []


def test_links_and_anchors_are_read_as_github_renders_them(tmp_path):
    assert slug("What `make demo` does") == "what-make-demo-does"
    assert slug("Fine-tuning (SFT)") == "fine-tuning-sft"
    assert slug("The packaged writer (`medsyn-tiny`)") == "the-packaged-writer-medsyn-tiny"
    assert slug("Медицинский граф: MKG") == "медицинский-граф-mkg"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}
    doc = tmp_path / "doc.md"
    (tmp_path / "there.md").write_text("# Here\n", encoding="utf-8")
    doc.write_text(
        "# Top\n[ok](there.md#here) [self](#top) ![p](there.md) [web](https://example.org/x)\n"
        "[gone](missing.md) [no heading](there.md#nowhere) [no anchor](#bottom) `[code](nowhere.md)` [two\n"
        "lines](elsewhere.md)\n"
        "```\n[in a block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    found = [problem.split(": ", 1)[1] for problem in broken_links_at(doc)]
    assert found == [
        "missing.md (no such file)",
        "there.md#nowhere (no such heading)",
        "#bottom (no such heading)",
        "elsewhere.md (no such file)",
    ]
    assert [n for n, _ in links(doc.read_text(encoding="utf-8"))] == [2, 2, 2, 2, 3, 3, 3, 3]


def broken_links_at(doc: Path) -> list[str]:
    """``broken_links`` for a file outside the repository (its messages name it from its own folder)."""
    global REPO
    saved, REPO = REPO, doc.parent
    try:
        return broken_links(doc)
    finally:
        REPO = saved


def test_commands_of_every_documentation_file_are_run():
    """CONTRIBUTING.md's commands (the writer's pretraining stages) and docs/*.md's are read like README's."""
    where = {c.where.split(":")[0] for c in COMMANDS}
    assert {"README.md", "CONTRIBUTING.md", "docs/guide.md", "spaces/medsyn-demo/README.md"} <= where
    assert any(c.text.startswith("medsyn tiny-model --pretrain") for c in COMMANDS if c.where.startswith("CONTRIB"))


def test_a_broken_command_fails(tmp_path):
    """The sandbox reports a command that exits non-zero (or with a traceback) with its file and line."""
    box = Sandbox(tmp_path)
    problems = box.failures(Command("medsyn kg show NOT-A-CODE", "CONTRIBUTING.md:1"))
    assert len(problems) == 1 and problems[0].startswith("CONTRIBUTING.md:1: `medsyn kg show NOT-A-CODE` exited 2")
    assert box.failures(Command("python -c 'raise SystemExit(0)'", "README.md:2")) == []
