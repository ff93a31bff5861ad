"""Shared test set-up: offline Hugging Face stack, repository paths, the packaged MKG."""

import os
from pathlib import Path

import pytest

for _var, _value in {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                     "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_var, _value)

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "data" / "sources"
FIXTURE_SOURCES = REPO / "tests" / "fixtures" / "sources"


@pytest.fixture(scope="session")
def kg():
    from medsyn_hf.kg import load_graph

    return load_graph()
