"""benchmarks/workflow.py scaled down: two rare codes of a small RuMedTop3 train subset; the packaged writer, the
complaint writer with the style template and the MedSyn GPT notes, each with and without selection, through the real
commands (plan, generate, eval report, publish, eval icd --choose-on-train). Checks the JSON's structure and what
selection may and may not do to the notes."""

import json
import math
import subprocess
import sys
from collections import Counter

import pyarrow.parquet as pq
import pytest
from conftest import REPO, SOURCES

RARE = ("L50", "Z00")  # 11 RuMedTop3 train notes each: with K = 14 a need of 3, 6 priors each at x2
FULL = ("J06", "K29", "I10", "M54")
SCRIPT = REPO / "benchmarks" / "workflow.py"


def _subset(source, out, per_code: dict) -> None:
    taken, rows = Counter(), []
    with open(source, encoding="utf-8") as f:
        for line in f:
            code = json.loads(line)["code"]
            if code in per_code and taken[code] < per_code[code]:
                taken[code] += 1
                rows.append(line)
    out.write_text("".join(rows), encoding="utf-8")


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workflow")
    train, dev = folder / "train.jsonl", folder / "dev.jsonl"
    _subset(SOURCES / "rumedtop3" / "train_v1.jsonl", train, {**dict.fromkeys(RARE, 99), **dict.fromkeys(FULL, 20)})
    _subset(SOURCES / "rumedtop3" / "dev_v1.jsonl", dev, {**dict.fromkeys(RARE, 99), **dict.fromkeys(FULL, 6)})
    argv = [sys.executable, str(SCRIPT), "--work", str(folder / "work"), "--train", str(train), "--eval", str(dev)]
    argv += ["--fill-to", "14", "--over", "2", "--codes", *RARE, "--sources", "writer", "gpt", "writer-complaints"]
    argv += ["--seeds", "0", "--topups", "14", "--rare-k", "14", "--bootstrap", "100"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), folder / "work"


def _texts(path) -> Counter:
    return Counter(pq.read_table(path, columns=["response"])["response"].to_pylist())


def test_every_command_and_variant_is_reported(workflow):
    result, _ = workflow
    commands = " ; ".join(result["commands"])
    for command in ("medsyn plan ", "medsyn generate ", "medsyn eval report ", "medsyn publish ", "--choose-on-train"):
        assert command in commands
    names = {"writer", "gpt", "writer-complaints"}
    assert set(result["variants"]) == names | {f"{name}-selected" for name in names}
    assert result["plan"]["planned"] == 12 and result["plan"]["need"] == 6
    assert result["other_plans"]["plan-writer-complaints"]["planned"] == 12  # its own plan: the complaints prompts
    for name, variant in result["variants"].items():
        report, icd = variant["report"], variant["icd"]
        assert variant["selection"] == name.endswith("-selected")
        assert 0 <= report["auc"] <= 1 and 0 < report["distinct_2_matched"] <= 1, name
        assert 0 <= report["share_sharing_run"] <= 1 and report["dcr_median"] >= 0, name
        assert report["notes"] == variant["notes"]["notes"], name  # the report read the variant's kept notes
        assert icd["chosen"]["view"] in (None, "head", "complaint") and icd["notes_added"] >= 0, name
        for key in ("rare_hit3", "acc1"):
            low, high = icd[key]["ci"]
            assert low <= icd[key]["diff"] <= high, (name, key)
        assert any(cell["chosen"] for cell in icd["validation_cells"]), name
        assert set(variant.get("targets_met", {})) <= {"rare_hit3", "acc1", "auc", "distinct_2_matched", "privacy"}
    assert set(result["variants"]["writer"]["targets_met"]) == set(result["targets"]) | {"privacy"}


def test_markdown_has_a_row_per_variant(workflow, tmp_path):
    result, _ = workflow
    (tmp_path / "result.json").write_text(json.dumps(result), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--markdown", str(tmp_path / "result.json")], capture_output=True, text=True
    )
    rows = done.stdout.strip().splitlines()
    assert done.returncode == 0 and len(rows) == 2 + 2 + len(result["variants"])  # header, today's figures, variants
    assert rows[-1].startswith("| complaint writer, style template | on | ")


def test_selection_keeps_at_most_the_need_and_the_baseline_its_first_priors(workflow):
    result, work = workflow
    need = {row["code"]: row["need"] for row in json.loads((work / "plan" / "plan.json").read_text())["codes"]}
    writer, selected = result["variants"]["writer"]["notes"], result["variants"]["writer-selected"]["notes"]
    assert selected["notes"] == result["generation"]["writer"]["kept"]
    for code, n in selected["per_code"].items():
        assert n <= need[code]  # the plan's quota
    for code, n in writer["per_code"].items():
        assert n <= math.ceil(need[code] * 1.25)  # the first x1.25 priors, then the old filters
    assert writer["generated"] == sum(math.ceil(need[code] * 1.25) for code in RARE)


def test_the_style_variant_keeps_its_recipe_thresholds(workflow):
    """Selection off is the old filter set at the run's own thresholds: complaints pass the recipe's 3-word floor,
    not the 50 words of a note."""
    result, _ = workflow
    for name in ("writer-complaints", "writer-complaints-selected"):
        notes = result["variants"][name]["notes"]
        assert notes["notes"] > 0, name
    words = [len(text.split()) for text in _texts(result["variants"]["writer-complaints"]["notes"]["path"])]
    assert min(words) < 50


def test_gpt_notes_with_selection_are_a_subset_of_those_without(workflow):
    result, _ = workflow
    without, with_ = (result["variants"][name]["notes"] for name in ("gpt", "gpt-selected"))
    assert with_["notes"] <= without["notes"]
    assert all(n <= without["per_code"].get(code, 0) for code, n in with_["per_code"].items())
    assert not _texts(with_["path"]) - _texts(without["path"])
    assert set(with_["per_code"]) <= set(RARE)


def test_over_below_the_baseline_is_refused(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--over", "1.1", "--work", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 2 and "--over 1.1" in done.stderr and not (tmp_path / "w").exists()
