"""`medsyn env`: the versions, device and Hub settings a bug report needs (like `hf env`, `trl env`, `accelerate env`),
as a list to paste or as JSON."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version

from medsyn_hf import __version__

# The stack medsyn_hf runs on, by distribution name; the optional ones (train, space extras) may be missing.
PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "huggingface_hub",
    "tokenizers",
    "evaluate",
    "gradio",
    "networkx",
)
# What decides whether anything reaches the Hub, and where downloads go.
HUB_VARIABLES = (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "HF_ENDPOINT",
    "HF_HOME",
)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def devices() -> dict:
    """The accelerator torch sees: its kind, how many, and their names."""
    try:
        import torch
    except ImportError:
        return {"kind": "none (torch not installed)", "count": 0, "names": []}
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return {"kind": "cuda", "count": count, "names": [torch.cuda.get_device_name(i) for i in range(count)]}
    if torch.backends.mps.is_available():
        return {"kind": "mps", "count": 1, "names": ["MPS"]}
    return {"kind": "cpu", "count": os.cpu_count() or 1, "names": [platform.processor() or platform.machine()]}


def environment() -> dict:
    """Everything `medsyn env` reports, as plain values."""
    from huggingface_hub import constants

    return {
        "medsyn_hf": __version__,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "device": devices(),
        "hub": {
            "offline": bool(constants.HF_HUB_OFFLINE),  # what huggingface_hub decided from the variables below
            "variables": {name: os.environ.get(name) for name in HUB_VARIABLES},
        },
    }


def render(info: dict) -> str:
    device = info["device"]
    lines = [
        f"- medsyn_hf version: {info['medsyn_hf']}",
        f"- Platform: {info['platform']}",
        f"- Python version: {info['python']}",
    ]
    lines += [f"- {name} version: {value}" for name, value in info["packages"].items()]
    names = f" ({', '.join(device['names'])})" if device["names"] else ""
    lines.append(f"- Device: {device['kind']} x {device['count']}{names}")
    lines.append(f"- Hub offline: {info['hub']['offline']}")
    lines += [f"- {name}: {'unset' if value is None else value}" for name, value in info["hub"]["variables"].items()]
    return "\n".join(lines)


def _run(args) -> None:
    info = environment()
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        print(f"\nCopy-paste the following information when reporting an issue:\n\n{render(info)}\n")


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("env", help="versions of python and the HF stack, the torch device, offline settings")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the list")
    p.set_defaults(func=_run)
