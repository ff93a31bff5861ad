"""The packaged `medsyn-tiny` writer: shipped as bf16 safetensors with its card, named `medsyn-tiny` in configs, and
following its prompts better than a random-init model; `medsyn tiny-model --pretrain` builds one end to end."""

import json
import re
import shutil
from itertools import islice

import pytest
import yaml
from conftest import REPO, SOURCES

from medsyn_hf.cli import main as medsyn
from medsyn_hf.tiny_model import (
    COMPLAINTS_WRITER_NAME,
    PACKAGED_WRITERS,
    WRITER_DIR,
    WRITER_NAME,
    resolve_model,
)

COMPLAINTS_DIR = PACKAGED_WRITERS[COMPLAINTS_WRITER_NAME]


def test_packaged_writer_is_small_bf16_safetensors_with_a_card():
    from safetensors import safe_open
    from transformers import AutoConfig

    files = {p.name: p.stat().st_size for p in WRITER_DIR.iterdir() if p.is_file()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(files)
    assert sum(files.values()) < 20 * 2**20
    with safe_open(WRITER_DIR / "model.safetensors", "pt") as f:
        dtypes = {str(f.get_slice(k).get_dtype()) for k in f.keys()}
    assert dtypes == {"BF16"}
    assert AutoConfig.from_pretrained(WRITER_DIR).model_type == "llama"
    card = (WRITER_DIR / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlibrary_name: transformers\n") and "- ru\n" in card
    for source in (
        "medsyn_gpt_notes",
        "rumedtop3_train_complaints",
        "icd10_names",
        "wiki_disease_descriptions",
        "instruction_tasks",
        "note_writing",
    ):
        assert f"| {source} |" in card, source
    assert "never trained on RuMedTop3 dev" in card and "Partial checkpoint" not in card
    # one licence story with the corpora it writes; no path of the machine that trained it
    from medsyn_hf.provenance import LICENSE_STORY, WRITER_LICENSE

    assert f"\nlicense: {WRITER_LICENSE}\n" in card and LICENSE_STORY in card
    assert "runs/" not in card and "/work/" not in card and not re.search(r"\s/\w", card.split("## Use")[0])
    assert "--init medsyn-tiny-stage3" in card and "--sources data/sources" in card


def test_the_complaint_writer_is_packaged_with_its_own_card():
    """medsyn-tiny plus the complaint stage: the same shape and tokenizer, bf16, every stage's card, a card of its own
    that says how its settings were chosen (on train only) and what it scores, with no path of the training machine."""
    import configparser

    from safetensors import safe_open

    from medsyn_hf.provenance import LICENSE_STORY, WRITER_LICENSE

    files = {p.name: p.stat().st_size for p in COMPLAINTS_DIR.iterdir() if p.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(files)
    assert {f"README_stage{i}.md" for i in range(1, 5)} <= set(files) and sum(files.values()) < 20 * 2**20
    with safe_open(COMPLAINTS_DIR / "model.safetensors", "pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} == {"BF16"}
    assert (COMPLAINTS_DIR / "tokenizer.json").read_bytes() == (WRITER_DIR / "tokenizer.json").read_bytes()
    assert (COMPLAINTS_DIR / "README_stage4.md").read_text(encoding="utf-8") == (WRITER_DIR / "README.md").read_text(
        encoding="utf-8"
    )
    card = (COMPLAINTS_DIR / "README.md").read_text(encoding="utf-8")
    assert f"\nlicense: {WRITER_LICENSE}\n" in card and LICENSE_STORY in card
    assert "runs/" not in card and "/work/" not in card and not re.search(r"\s/\w", card.split("## Use")[0])
    assert "--init medsyn-tiny " in card and "--complaint-share 0.7 --complaint-val-rows 470" in card
    assert "| complaint_writing |" in card and "never trained on RuMedTop3 dev" in card
    assert "## Choice of settings" in card and "benchmarks/tiny_writer_complaints.json" in card
    assert f"model_name_or_path: {COMPLAINTS_WRITER_NAME}" in card
    # shipped: setup.cfg's package data takes the folder's files
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["medsyn_hf"].split(",")]
    package = WRITER_DIR.parents[1]
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {p for p in COMPLAINTS_DIR.iterdir() if p.is_file()} <= shipped


def test_writer_name_resolves_in_model_configs(tmp_path, monkeypatch):
    from medsyn_hf.generation.config import GenerationModelConfig

    assert resolve_model(WRITER_NAME) == str(WRITER_DIR)
    assert resolve_model("some/model") == "some/model"
    assert GenerationModelConfig(model_name_or_path=WRITER_NAME).model_name_or_path == str(WRITER_DIR)
    assert resolve_model(COMPLAINTS_WRITER_NAME) == str(COMPLAINTS_DIR) != str(WRITER_DIR)
    complaints = yaml.safe_load((REPO / "recipes/tiny/generate/config_complaints.yaml").read_text(encoding="utf-8"))
    assert complaints["model_name_or_path"] == COMPLAINTS_WRITER_NAME
    from medsyn_hf.training.pretrain import PretrainConfig

    stage = PretrainConfig(init=WRITER_NAME)  # a further stage of the packaged writer, as its cards' commands say
    stage.check()
    assert stage.init == str(WRITER_DIR)
    (tmp_path / WRITER_NAME).mkdir()  # a local folder of that name wins
    monkeypatch.chdir(tmp_path)
    assert resolve_model(WRITER_NAME) == WRITER_NAME
    assert resolve_model(COMPLAINTS_WRITER_NAME) == str(COMPLAINTS_DIR)


PRIORS = [  # (symptoms, code, name): common complaints of the recipe's codes
    (["кашель", "температура", "боль в горле"], "J06.9", "Острая инфекция верхних дыхательных путей неуточненная"),
    (["головная боль", "головокружение", "тошнота"], "I10", "Эссенциальная (первичная) гипертензия"),
    (["боль в животе", "изжога", "тошнота"], "K29.7", "Гастрит неуточненный"),
    (["боль в спине", "слабость", "онемение"], "M54.5", "Боль внизу спины"),
    (["одышка", "кашель", "слабость"], "J18.9", "Пневмония неуточненная"),
    (["сыпь", "зуд", "покраснение кожи"], "L30.9", "Дерматит неуточненный"),
]


def _mean_recall(model, tok) -> float:
    import torch

    from medsyn_hf.filters import symptom_recall
    from medsyn_hf.prompts import render_messages

    torch.manual_seed(0)
    chats = [
        tok.apply_chat_template(
            render_messages({"symptoms": s, "code": c, "code_name_ru": n}, "anamnesis"),
            add_generation_prompt=True,
            tokenize=False,
        )
        for s, c, n in PRIORS
    ]
    tok.padding_side = "left"
    batch = tok(chats, add_special_tokens=False, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=96, do_sample=True, temperature=0.8, top_k=50)
    notes = tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return sum(symptom_recall(note, s) for note, (s, _, _) in zip(notes, PRIORS)) / len(PRIORS)


def test_writer_mentions_prompted_symptoms_unlike_a_random_init_model(one_torch_thread):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medsyn_hf.tiny_model import build_model

    tok = AutoTokenizer.from_pretrained(WRITER_DIR)
    writer = AutoModelForCausalLM.from_pretrained(WRITER_DIR).float()
    random_init = build_model(tok, seed=0)  # same tokenizer, same priors, same sampling
    trained, untrained = _mean_recall(writer, tok), _mean_recall(random_init, tok)
    assert trained >= untrained + 0.25, (trained, untrained)


def _complaints(folder) -> tuple[float, float, float]:
    """(share of replies that end by themselves, mean words, mean symptom recall) of a writer on PRIORS rendered with
    the `complaints` template, 64 new tokens at most."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medsyn_hf.filters import symptom_recall
    from medsyn_hf.prompts import render_messages

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).float()
    chats = [
        tok.apply_chat_template(
            render_messages({"symptoms": s, "code": c, "sex": "female", "age": 40}, "complaints"),
            add_generation_prompt=True,
            tokenize=False,
        )
        for s, c, _ in PRIORS
    ]
    tok.padding_side = "left"
    batch = tok(chats, add_special_tokens=False, return_tensors="pt", padding=True)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=64, do_sample=True, temperature=0.8, top_k=50)
    new = out[:, batch["input_ids"].shape[1] :]
    ended = (new == tok.eos_token_id).any(dim=1).float().mean().item()
    notes = tok.batch_decode(new, skip_special_tokens=True)
    words = sum(len(n.split()) for n in notes) / len(notes)
    return ended, words, sum(symptom_recall(n, s) for n, (s, _, _) in zip(notes, PRIORS)) / len(PRIORS)


def test_the_complaint_writer_writes_short_complaints_where_the_default_writes_notes(one_torch_thread):
    """What its stage taught: from the `complaints` prompt it writes a short complaint and stops, naming the prompted
    symptoms, where medsyn-tiny runs on into a long note."""
    ended, words, recall = _complaints(COMPLAINTS_DIR)
    default_ended, default_words, _ = _complaints(WRITER_DIR)
    assert ended >= 4 / 6 and default_ended <= 1 / 6, (ended, default_ended)  # measured: 5 of 6, none
    assert words < 0.75 * default_words and recall >= 0.3, (words, default_words, recall)  # 20 vs 41 words, 0.5


def test_pretrain_end_to_end_scaled_down(tmp_path, capsys):
    out = tmp_path / "writer"
    assert (
        medsyn(
            [
                "tiny-model",
                "--pretrain",
                "--out",
                str(out),
                "--sources",
                str(SOURCES),
                "--limit",
                "40",
                "--vocab-size",
                "600",
                "--steps",
                "4",
                "--batch-size",
                "2",
                "--seq-len",
                "1024",
                "--val-rows",
                "4",
                "--log-every",
                "2",
                "--threads",
                "1",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"out": str(out)}
    curve = json.loads((out / "loss_curve.json").read_text())
    assert [r["step"] for r in curve] == [2, 4] and all(r["val_loss"] > 0 for r in curve)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| step | lr | LM loss | task loss | held-out loss | tokens seen |" in card
    assert "| 4 |" in card and "steps 4," in card and "--steps 4" in card
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out).config.tie_word_embeddings
    # a second stage: continues from the first (its tokenizer), weighted copying, a schedule stopped early
    second = tmp_path / "second"
    assert (
        medsyn(
            [
                "tiny-model",
                "--pretrain",
                "--init",
                str(out),
                "--out",
                str(second),
                "--sources",
                str(SOURCES),
                "--limit",
                "40",
                "--steps",
                "5",
                "--stop-after",
                "2",
                "--batch-size",
                "2",
                "--seq-len",
                "1024",
                "--val-rows",
                "4",
                "--log-every",
                "1",
                "--threads",
                "1",
                "--copy-weight",
                "4",
                "--task-share",
                "1",
                "--complaints-line",
                "--json",
            ]
        )
        == 0
    )
    assert [r["step"] for r in json.loads((second / "loss_curve.json").read_text())] == [1, 2]
    assert (second / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    assert (second / "README_stage1.md").read_text(encoding="utf-8") == card
    card2 = (second / "README.md").read_text(encoding="utf-8")
    assert "**Stage 2**" in card2 and "stopped after 2" in card2 and "loss weight 4 " in card2
    assert "--complaints-line" in card2 and "line first): True" in card2
    assert "continued from the stage-1 writer" in card2 and "--init writer --" in card2  # names, not paths
    assert "--sources data/sources" in card2 and str(tmp_path) not in card2 and "license: cc-by-sa-4.0" in card2
    # a third stage with another seed keeps every earlier stage's card, numbered
    third = tmp_path / "third"
    args = ["tiny-model", "--pretrain", "--init", str(second), "--out", str(third), "--sources", str(SOURCES)]
    small = ["--limit", "40", "--steps", "1", "--batch-size", "2", "--val-rows", "4", "--threads", "1", "--seed", "1"]
    assert medsyn([*args, *small, "--json"]) == 0
    assert (third / "README_stage1.md").read_text(encoding="utf-8") == card
    assert (third / "README_stage2.md").read_text(encoding="utf-8") == card2
    assert "**Stage 3**" in (third / "README.md").read_text(encoding="utf-8")
    # the complaint stage: complaint-writing batches beside the note-writing ones, train complaints held out
    fourth = tmp_path / "fourth"
    args = ["tiny-model", "--pretrain", "--init", str(third), "--out", str(fourth), "--sources", str(SOURCES)]
    complaints = ["--complaint-share", "0.5", "--complaint-val-rows", "6", "--task-share", "1", "--log-every", "2"]
    assert medsyn([*args, *small, "--steps", "4", *complaints, "--json"]) == 0  # (the last --steps counts)
    curve = json.loads((fourth / "loss_curve.json").read_text())
    assert [r["step"] for r in curve] == [2, 4] and all(r["complaint_val_loss"] > 0 for r in curve)
    assert any(r["complaint_loss"] for r in curve) and any(r["task_loss"] for r in curve)
    card4 = (fourth / "README.md").read_text(encoding="utf-8")
    assert "**Stage 4**" in card4 and "| complaint_writing |" in card4 and "held-out complaint loss" in card4
    assert "--complaint-share 0.5 --complaint-val-rows 6" in card4 and "6 train complaints are held out" in card4
    assert (fourth / "README_stage3.md").is_file()
    assert (fourth / "README_stage1.md").read_text(encoding="utf-8") == card
    assert "complaint_writing" not in (third / "README.md").read_text(encoding="utf-8")  # stages without it


def test_held_out_complaints_stay_out_of_the_whole_run():
    """The complaint stage's validation complaints are in no training row, LM text or style exemplar."""
    from medsyn_hf.training.complaint_split import held_out_texts
    from medsyn_hf.training.pretrain import load_mix

    mix = load_mix(SOURCES, 60, 0, 4, complaint_val_rows=12)
    with open(SOURCES / "rumedtop3" / "train_v1.jsonl", encoding="utf-8") as f:
        complaints = [{"code": r["code"], "text": r["symptoms"]} for r in map(json.loads, islice(f, 60))]
    held = held_out_texts(complaints, 12)
    assert len(held) == 12 and {ex["doc"] for ex in mix.complaints_held} <= held and mix.complaints_held
    collapsed = {" ".join(t.split()) for t in held}
    assert mix.complaints and not {ex["doc"] for ex in mix.complaints} & held
    assert not {e for ex in mix.complaints for e in ex["style_examples"]} & collapsed
    assert not {t.strip() for t in mix.texts["rumedtop3_train_complaints"]} & held
    assert not {ex["doc"] for ex in mix.texts["instruction_tasks"]} & held  # complaint_to_icd among them
    assert held == held_out_texts(list(reversed(complaints)), 12)  # by text, not by order or seed


def test_held_out_notes_do_not_move_with_the_seed():
    """A later stage run with another seed must still validate on notes no stage trained on."""
    from medsyn_hf.training.pretrain import load_mix

    mix0, mix1 = load_mix(SOURCES, 40, 0, 4), load_mix(SOURCES, 40, 1, 4)
    docs = {ex["doc"] for ex in mix0.held}
    assert len(docs) == 4 and docs == {ex["doc"] for ex in mix1.held}
    assert not docs & {ex["doc"] for ex in mix0.notes + mix1.notes}
    assert not docs & set(mix0.texts["medsyn_gpt_notes"])


def test_complaints_line_opens_the_note_with_the_prompted_symptoms():
    from medsyn_hf.training.pretrain import with_complaints_line

    def example(note):
        return {"prompt": [], "completion": [{"role": "assistant", "content": note}], "doc": note}

    out = with_complaints_line(example("Анамнез: болеет 3 дня."), ["кашель", "боль в горле"])
    assert out["completion"][0]["content"] == "Жалобы: кашель, боль в горле.\n\nАнамнез: болеет 3 дня."
    already = example("Жалобы на кашель.\nАнамнез: ...")
    assert with_complaints_line(already, ["кашель"]) == already


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--steps", "0"),
        ("--task-share", "1.5"),
        ("--seq-len", "5000"),
        ("--lr", "-1"),
        ("--stop-after", "3000"),
        ("--copy-weight", "0"),
        ("--init", "no/such/writer"),
        ("--complaint-share", "1.5"),
        ("--complaint-val-rows", "-1"),
    ],
)
def test_pretrain_bad_setting_is_one_line_error(tmp_path, capsys, flag, value):
    assert medsyn(["tiny-model", "--pretrain", "--out", str(tmp_path / "m"), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"medsyn: error: {flag}") and err.count("\n") == 1
    assert not (tmp_path / "m").exists()


def test_pretrain_never_replaces_the_writer_it_continues(tmp_path, tiny_model_dir, capsys):
    """`--init` is an input even though `medsyn tiny-model` wrote it: --out (or --checkpoint-dir) on it is refused."""
    init = tmp_path / "stage1"
    shutil.copytree(tiny_model_dir, init)
    before = {p.name: p.read_bytes() for p in init.iterdir()}
    for outputs in (["--out", str(init)], ["--out", str(tmp_path / "m"), "--checkpoint-dir", str(init)]):
        assert medsyn(["tiny-model", "--pretrain", "--init", str(init), *outputs]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(init) in err
    assert {p.name: p.read_bytes() for p in init.iterdir()} == before and not (tmp_path / "m").exists()
