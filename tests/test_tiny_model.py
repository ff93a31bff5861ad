"""`medsyn tiny-model`: a deterministic, loadable tiny LLaMA whose tokenizer was trained on our Russian text."""

import json

import pytest
from conftest import FIXTURE_SOURCES

from medsyn_hf.cli import main as medsyn

NOTE = "Пациентка, 26 лет, обратилась с жалобами на боль в нижних отделах живота."


def test_loads_with_auto_classes_and_distinct_special_tokens(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert 1e6 < model.num_parameters() < 2e7
    assert len({tok.pad_token_id, tok.eos_token_id, tok.bos_token_id}) == 3
    assert (model.config.pad_token_id, model.generation_config.eos_token_id) == (tok.pad_token_id, tok.eos_token_id)
    assert tok.decode(tok(NOTE, add_special_tokens=False)["input_ids"]) == NOTE  # byte-level BPE: lossless


def test_tokenizer_learned_russian_medical_words(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    # A BPE trained on other text (or not trained) splits Cyrillic into 2 bytes per character.
    assert len(NOTE) / len(tok(NOTE, add_special_tokens=False)["input_ids"]) > 2.5
    assert len(tok.tokenize(" жалобами")) <= 3  # 16 bytes


def test_chat_template_ends_the_assistant_turn_with_eos(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = [{"role": "system", "content": "Ты врач."}, {"role": "user", "content": "Напиши анамнез."}]
    prompt_ids = tok.apply_chat_template(prompt, add_generation_prompt=True)["input_ids"]
    full_ids = tok.apply_chat_template(prompt + [{"role": "assistant", "content": NOTE}])["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids  # prompt-completion masking relies on it
    assert tok.eos_token_id in full_ids[len(prompt_ids) :]
    assert full_ids[0] == tok.bos_token_id


def test_build_is_deterministic(tmp_path):
    from medsyn_hf.tiny_model import build

    a = build(tmp_path / "a", FIXTURE_SOURCES, vocab_size=600, seed=3)
    b = build(tmp_path / "b", FIXTURE_SOURCES, vocab_size=600, seed=3)
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = build(tmp_path / "c", FIXTURE_SOURCES, vocab_size=600, seed=4)
    assert (c / "model.safetensors").read_bytes() != (a / "model.safetensors").read_bytes()


def test_cli_writes_model_and_prints_json(tmp_path, capsys):
    assert (
        medsyn(
            [
                "tiny-model",
                "--out",
                str(tmp_path / "m"),
                "--sources",
                str(FIXTURE_SOURCES),
                "--vocab-size",
                "500",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"out": str(tmp_path / "m")}
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_cli_missing_sources_is_one_line_error(tmp_path, capsys):
    assert medsyn(["tiny-model", "--out", str(tmp_path / "m"), "--sources", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medsyn: error: tiny-model sources not found") and err.count("\n") == 1
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_default_sources_build(tmp_path):
    """The real build (the demo's): ~20 s on 2 cores, an 8k vocabulary."""
    from transformers import AutoTokenizer

    from medsyn_hf.tiny_model import build

    tok = AutoTokenizer.from_pretrained(build(tmp_path / "m"))
    assert len(tok) == 8000
    assert len(NOTE) / len(tok(NOTE, add_special_tokens=False)["input_ids"]) > 3.5
