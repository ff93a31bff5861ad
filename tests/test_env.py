"""`medsyn --version` and `medsyn env`: what a bug report needs, read from the installed packages and the process."""

import json
import os
import subprocess
import sys
from configparser import ConfigParser
from importlib.metadata import version

from conftest import REPO

from medsyn_hf.cli import main as medsyn


def test_version_is_the_package_version(capsys):
    import medsyn_hf

    assert medsyn(["--version"]) == 0
    setup = ConfigParser()
    setup.read(REPO / "setup.cfg")
    assert capsys.readouterr().out == f"medsyn_hf {medsyn_hf.__version__}\n"
    assert medsyn_hf.__version__ == setup["metadata"]["version"]


def test_env_json_reports_versions_device_and_offline_flags(capsys, monkeypatch):
    import torch

    from medsyn_hf import env

    monkeypatch.setattr(env, "PACKAGES", (*env.PACKAGES, "no-such-package-medsyn"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert medsyn(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for name in (
        "torch",
        "transformers",
        "trl",
        "peft",
        "accelerate",
        "datasets",
        "huggingface_hub",
        "evaluate",
        "gradio",
        "networkx",
    ):
        assert info["packages"][name] == version(name), name
    assert info["packages"]["no-such-package-medsyn"] == "not installed"
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
    kind = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert info["device"]["kind"] == kind and info["device"]["count"] >= 1
    if kind == "cuda":
        assert info["device"]["count"] == torch.cuda.device_count()
    assert info["hub"]["offline"] is True  # conftest sets HF_HUB_OFFLINE=1 before huggingface_hub is imported
    assert info["hub"]["variables"]["HF_HUB_OFFLINE"] == "1"
    assert info["hub"]["variables"]["HF_ENDPOINT"] == "http://127.0.0.1:9"


def test_env_text_in_a_fresh_process_follows_the_variables():
    """The offline flag is what huggingface_hub reads at import (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE): both unset
    in a new process, it is reported off."""
    environ = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")}
    proc = subprocess.run(
        [sys.executable, "-m", "medsyn_hf.cli", "env"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "- Hub offline: False" in lines and "- HF_HUB_OFFLINE: unset" in lines and "- HF_HOME: unset" in lines
    assert f"- trl version: {version('trl')}" in lines and any(line.startswith("- Device: ") for line in lines)
