"""The `evaluate` modules in medsyn_hf/metrics/ follow evaluate's module template (the script, a README.md metric card
with YAML, requirements.txt declaring what the script imports) and load by path from any folder, even a copy of the
module folder alone, computing the values their cards show."""

import ast
import doctest
import re
import shutil
from importlib.metadata import packages_distributions, version

import pytest
import yaml
from packaging.requirements import Requirement

from medsyn_hf.metrics import METRICS_DIR, NAMES, metric_path
from medsyn_hf.provenance import MEDSYN_CITATION

SECTIONS = ("## Metric Description", "## How to Use", "### Inputs", "### Output Values", "## Limitations and Bias")


def test_every_metric_folder_is_listed():
    folders = sorted(p.parent.name for p in METRICS_DIR.glob("*/*.py") if p.stem == p.parent.name)
    assert folders == sorted(NAMES)
    with pytest.raises(ValueError, match="no medsyn metric"):
        metric_path("bleu")


@pytest.mark.parametrize("name", NAMES)
def test_metric_card_and_requirements_follow_the_template(name):
    folder = METRICS_DIR / name
    card = (folder / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["title"] and meta["description"].strip() and {"evaluate", "metric"} <= set(meta["tags"])
    assert card.split("---", 2)[2].lstrip().startswith(f"# Metric Card for {meta['title']}")
    positions = [card.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    citation = card.split("## Citation")[1]
    assert " ".join(MEDSYN_CITATION.split()) in " ".join(citation.split())

    requirements = [
        Requirement(line.split(" #")[0])
        for line in (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for requirement in requirements:  # declared, and what is installed satisfies it
        assert requirement.specifier.contains(version(requirement.name), prereleases=True), requirement
    declared = {r.name.replace("_", "-").lower() for r in requirements}
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text(encoding="utf-8")))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    distributions = packages_distributions()
    for module in imported:  # every import of the script comes from a declared distribution
        names = {d.replace("_", "-").lower() for d in distributions.get(module, [])}
        assert names & declared, f"{name}.py imports {module}, which requirements.txt does not declare"


def examples(text: str) -> str:
    """The doctest examples of a card's python blocks."""
    return "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))


@pytest.mark.parametrize("name", NAMES)
def test_metric_loads_from_another_folder_and_computes_its_cards_values(name, tmp_path, monkeypatch):
    import evaluate

    monkeypatch.chdir(tmp_path)  # not the repository: the module is found by its path
    card = (METRICS_DIR / name / "README.md").read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(examples(card), {}, f"{name}/README.md", None, 0)
    assert len(test.examples) >= 3
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))

    copy = tmp_path / "downloaded" / name  # the module folder alone, as `hf download` would fetch it
    shutil.copytree(METRICS_DIR / name, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert evaluate.load(str(copy)).name == evaluate.load(metric_path(name)).name == name
