"""`medsyn ift build`: the seven tasks, TRL prompt-completion rows, hygiene (duplicates, decontamination, hold-out),
the Hub layout and its card. Builds use the real sources with `--limit`; the full build is a slow test."""

import contextlib
import gzip
import hashlib
import io
import json
import shutil

import pytest
from conftest import FIXTURE_SOURCES, SOURCES
from datasets import load_dataset

from medsyn_hf.card import size_category, validate_card
from medsyn_hf.cli import main
from medsyn_hf.errors import MedsynError
from medsyn_hf.ift import tasks as T
from medsyn_hf.ift.build import MIN_EXAMPLES, build_ift, choose_holdout, token_counter
from medsyn_hf.ift.decontaminate import build_index, contaminated, read_eval_texts
from medsyn_hf.prompts import TEMPLATES
from medsyn_hf.schemas import IFT_FEATURES

DEV = SOURCES / "rumedtop3" / "dev_v1.jsonl"
LIMIT = 150


def texts_of(ds):
    return [m["content"] for column in ("prompt", "completion") for messages in ds[column] for m in messages]


def dev_hits(texts, dev):
    blob = "\x00".join(texts)
    return [d for d in dev if d in blob]


@pytest.fixture(scope="module")
def dev():
    return [json.loads(line)["symptoms"].strip() for line in DEV.open(encoding="utf-8")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A limited real build through the CLI, decontaminated against RuMedTop3 dev, 10 % of categories held out."""
    out = tmp_path_factory.mktemp("ift") / "medsyn-ift"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(
            [
                "ift",
                "build",
                "--out",
                str(out),
                "--limit",
                str(LIMIT),
                "--holdout-fraction",
                "0.1",
                "--decontaminate",
                str(DEV),
                "--json",
            ]
        )
    assert code == 0
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1
    return out, json.loads(lines[0])


def test_json_report_gives_per_task_counts(built):
    out, report = built
    assert list(report["tasks"]) == list(T.TASKS)
    for counts in report["tasks"].values():
        assert counts["generated"] == LIMIT
        assert counts["train"] + counts["validation"] == (
            counts["generated"] - counts["exact_duplicates"] - counts["near_duplicates"] - counts["contaminated"]
        )
    assert report["examples"] == sum(c["train"] + c["validation"] for c in report["tasks"].values())


def test_every_config_loads_as_from_the_hub(built):
    out, report = built
    everything = load_dataset(str(out))
    assert everything["train"].features == IFT_FEATURES
    assert len(everything["train"]) + len(everything["validation"]) == report["examples"]
    for task, counts in report["tasks"].items():
        ds = load_dataset(str(out), task)
        assert {name: len(split) for name, split in ds.items()} == {
            name: counts[name] for name in ("train", "validation") if counts[name]
        }
        assert set(ds["train"]["task"]) == {task}
    assert len(set(everything["train"]["id"]) | set(everything["validation"]["id"])) == report["examples"]


def test_rows_are_trl_prompt_completion_and_convert_to_instruction_form(built):
    out, _ = built
    ds = load_dataset(str(out), split="train")
    for row in ds:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert [m["role"] for m in row["completion"]] == ["assistant"]
        assert row["source"] in T.SOURCES and all(m["content"].strip() for m in row["prompt"] + row["completion"])
        alpaca = T.to_instruction(row)
        assert "\n\n" not in alpaca["instruction"] and alpaca["output"] == row["completion"][0]["content"]
        user = alpaca["instruction"] + (f"\n\n{alpaca['input']}" if alpaca["input"] else "")
        assert user == row["prompt"][1]["content"]
    for task in T.TASKS:  # several phrasings per task, not one memorisable sentence
        instructions = {T.to_instruction(r)["instruction"] for r in ds if r["task"] == task}
        assert len(instructions) >= 3, task


def test_card_is_valid_for_the_hub_and_shows_the_facts(built):
    out, report = built
    card = validate_card(out / "README.md", folder=out)
    assert card.data.license == "cc-by-sa-4.0" and card.data.language == ["ru"]
    assert card.data.size_categories == [size_category(report["examples"])] and card.data.pretty_name
    assert {c["config_name"] for c in card.data.configs} == {*T.TASKS, "all"}
    for task, counts in report["tasks"].items():
        assert f"| `{task}` |" in card.text and f"| {counts['train']:,} |" in card.text
    for name, (_, _, license) in T.SOURCES.items():
        assert f"| `{name}` |" in card.text and license in card.text
    assert 'load_dataset("medsyn-ift", "complaint_to_icd")' in card.text and "Partial build" in card.text


def test_no_dev_complaint_survives_decontamination(built, dev):
    out, report = built
    ds = load_dataset(str(out))
    assert dev_hits(texts_of(ds["train"]) + texts_of(ds["validation"]), dev) == []
    assert sum(c["contaminated"] for c in report["tasks"].values()) > 0


def test_holdout_moves_whole_categories(built):
    out, report = built
    ds = load_dataset(str(out))
    held = {c[:3] for c in ds["validation"]["icd10"]}
    assert held == set(report["validation_categories"]) and held
    assert not held & {c[:3] for c in ds["train"]["icd10"]}
    assert 0 < len(ds["validation"]) <= 0.1 * report["examples"]


def test_choose_holdout():
    examples = [{"icd10": c} for c in ["J06.9", "J06", "J06.0", "K29", "K29.1", "A00", ""]]
    assert choose_holdout(examples, ["K29"]) == ["K29"]
    assert choose_holdout(examples, fraction=0.0) == []
    chosen = choose_holdout(examples, fraction=0.5, seed=3)
    assert 0 < sum(1 for e in examples if e["icd10"][:3] in chosen) <= 3
    assert chosen == choose_holdout(examples, fraction=0.5, seed=3)
    with pytest.raises(MedsynError, match="Z99"):
        choose_holdout(examples, ["Z99"])


def test_decontamination_rules():
    index = build_index(
        [
            "Жалобы на головные боли и тошноту по утрам в течение двух недель, слабость",
            "на головные боли.",
            "головокружение",
        ]
    )
    assert contaminated("Пациентка: ТОШНОТУ по утрам, в течение двух недель; слабость!", index)  # shared 8 words
    assert not contaminated("тошноту по утрам в течение двух недель", index)  # 7 words
    assert contaminated("Она головные боли отрицает.", index)  # whole short text, even starting inside a word
    assert contaminated("Беспокоит ГОЛОВОКРУЖЕНИЕм", index) and not contaminated("головокружения нет", index)
    assert not contaminated("Жалобы на боль в горле и насморк.", index)


def test_eval_texts_skip_ids_and_labels(dev):
    texts = read_eval_texts(DEV)
    assert texts == [json.loads(line)["symptoms"] for line in DEV.open(encoding="utf-8")]
    with pytest.raises(MedsynError, match="not found"):
        read_eval_texts(DEV.with_name("absent.jsonl"))


def test_planted_dev_complaints_are_removed(tmp_path, dev):
    """Dev complaints planted inside a training complaint and a GPT note disappear, with every example made from
    them; a clean training complaint stays."""
    long = next(d for d in dev if len(d.split()) > 20)
    short = "на головные боли."
    assert short in dev
    sources = tmp_path / "sources"
    shutil.copytree(FIXTURE_SOURCES / "rumedtop3", sources / "rumedtop3")
    shutil.copytree(FIXTURE_SOURCES / "medsyn_gpt_notes", sources / "medsyn_gpt_notes")
    (sources / "medsyn_kg").mkdir()
    wiki = (SOURCES / "medsyn_kg" / "wiki_disease_ru.csv").read_text(encoding="utf-8").splitlines()[:30]
    (sources / "medsyn_kg" / "wiki_disease_ru.csv").write_text("\n".join(wiki) + "\n", encoding="utf-8")
    clean = "Жалобы на зуд в ушной раковине слева в течение трёх дней после купания в озере."
    with (sources / "rumedtop3" / "train_v1.jsonl").open("a", encoding="utf-8") as f:
        for text in (f"Повторный приём. {long} Рекомендации выполняет.", "Жалобы она головные боли по вечерам", clean):
            f.write(json.dumps({"idx": "planted", "symptoms": text, "code": "G44"}, ensure_ascii=False) + "\n")
    notes_path = sources / "medsyn_gpt_notes" / "notes.jsonl.gz"
    with gzip.open(notes_path, "rt", encoding="utf-8") as f:
        notes = [json.loads(line) for line in f]
    notes[0]["response"] += f"\n\nДополнительно: {short.capitalize()}"
    with gzip.open(notes_path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(n, ensure_ascii=False) + "\n" for n in notes)

    plain = build_ift(tmp_path / "plain", sources, limit=300)
    report = build_ift(tmp_path / "clean", sources, decontaminate=[DEV], limit=300)
    ds = load_dataset(str(tmp_path / "clean"), split="train")
    texts = texts_of(ds)
    assert not any(long in t or "она головные боли" in t.lower() for t in texts)
    assert any(clean in t for t in texts)
    assert dev_hits(texts, dev) == []
    for task in ("complaint_to_icd", "note_writing", "note_continuation"):
        assert report["tasks"][task]["contaminated"] >= (2 if task == "complaint_to_icd" else 1)
        assert report["tasks"][task]["train"] < plain["tasks"][task]["train"]
    assert any(long in t for t in texts_of(load_dataset(str(tmp_path / "plain"), split="train")))


def test_same_inputs_and_seed_give_identical_files(tmp_path):
    def build(name, seed):
        build_ift(tmp_path / name / "ift", SOURCES, limit=25, seed=seed, holdout_fraction=0.2)
        return {
            p.relative_to(tmp_path / name).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((tmp_path / name).rglob("*"))
            if p.is_file()
        }

    first = build("a", 0)
    assert first == build("b", 0)
    assert first != build("c", 1)


def test_note_writing_reuses_the_generation_templates(gpt_notes_sample, kg):
    notes = [{**n, "key": str(i)} for i, n in enumerate(gpt_notes_sample) if T.usable_note(n)]
    examples = list(T.note_writing(notes, kg, seed=0))
    assert len(examples) == len(notes)
    systems = {ex["prompt"][0]["content"] for ex in examples}
    assert systems == {TEMPLATES[t].system for t in T.NOTE_TEMPLATES}
    used = {
        next(t for t in T.NOTE_TEMPLATES if ex["prompt"][1]["content"].startswith(TEMPLATES[t].user.split("{")[0]))
        for ex in examples
    }
    assert len(used) >= 3
    for note, ex in zip(notes, examples):
        user = ex["prompt"][1]["content"]
        assert "{" not in user and all(s.strip() in user for s in note["symptoms"] if s.strip())
        assert ex["completion"][0]["content"] == note["response"].strip()


def test_complaint_writing_answers_the_complaints_template_with_train_complaints(built, dev, kg):
    out, report = built
    assert "complaint_writing" in T.TASKS and report["tasks"]["complaint_writing"]["generated"] == LIMIT
    train = {json.loads(line)["symptoms"].strip() for line in (SOURCES / "rumedtop3" / "train_v1.jsonl").open()}
    ds = load_dataset(str(out), "complaint_writing")
    rows = [r for split in ds.values() for r in split]
    assert rows and all(r["source"] == "rumedtop3_train" for r in rows)
    assert all(r["completion"][0]["content"] in train for r in rows)  # real train complaints, never dev
    assert dev_hits([m["content"] for r in rows for m in r["prompt"] + r["completion"]], dev) == []
    assert {r["prompt"][0]["content"] for r in rows} == {TEMPLATES["complaints"].system}
    styled = [r for r in rows if r["prompt"][1]["content"].startswith(TEMPLATES["complaints"].style[0])]
    assert 0.3 < len(styled) / len(rows) < 0.7  # half of the prompts show style exemplars


def test_complaint_writing_exemplars_are_other_categories(kg):
    complaints = [
        {"code": "J06", "text": "Жалобы на кашель, насморк, боль в горле."},
        {"code": "J06", "text": "кашель сухой, заложенность носа"},
        {"code": "K29", "text": "боль в эпигастрии после еды, изжога"},
        {"code": "M54", "text": "боли в пояснице при наклонах"},
        {"code": "I10", "text": "головная боль, головокружение"},
        {"code": "I10", "text": "боли в пояснице при наклонах"},  # the M54 complaint, also labelled I10
    ]
    by_text = {c["text"]: c["code"] for c in complaints[:-1]}
    rows = [ex for seed in range(8) for ex in T.complaint_writing(complaints, kg, seed)]
    assert {ex["completion"][0]["content"] for ex in rows} <= set(by_text)
    assert any(ex["style_examples"] for ex in rows) and any(not ex["style_examples"] for ex in rows)
    for ex in rows:
        assert all(by_text[e] != ex["icd10"] for e in ex["style_examples"])
        assert ex["completion"][0]["content"] not in ex["style_examples"]  # never its own answer
        assert "боли в пояснице при наклонах" not in ex["style_examples"]  # a note of two codes: either's own
        assert all(e in ex["prompt"][1]["content"] for e in ex["style_examples"])
        assert ex["doc"] == ex["completion"][0]["content"]


def test_continuations_split_notes_at_a_half_and_a_third(gpt_notes_sample, kg):
    notes = [{**n, "key": str(i)} for i, n in enumerate(gpt_notes_sample) if T.usable_note(n)]
    examples = list(T.note_continuation(notes[:20], kg, seed=0))
    assert len(examples) >= 36
    by_note = {}
    for ex in examples:
        head = ex["prompt"][1]["content"].partition("\n\n")[2]
        tail = ex["completion"][0]["content"]
        assert ex["doc"].startswith(head) and ex["doc"].endswith(tail)
        assert ex["doc"].split() == (head + " " + tail).split()
        by_note.setdefault(ex["doc"], []).append(len(head) / len(ex["doc"]))
    shares = [s for pair in by_note.values() if len(pair) == 2 for s in pair]
    assert all(0.3 < s < 0.65 for s in shares[0::2]) and all(0.15 < s < 0.5 for s in shares[1::2])


def test_lengths_in_tokens_of_a_local_tokenizer(tiny_model_dir, tmp_path):
    texts = ["Жалобы на головную боль и слабость.", "Пациентка, 34 года, обратилась к терапевту."]
    unit, count = token_counter(str(tiny_model_dir))
    assert unit.startswith("tokens") and all(t > w for t, w in zip(count(texts), token_counter(None)[1](texts)))
    assert token_counter(None)[0] == "words"
    with pytest.raises(MedsynError, match="cannot load tokenizer"):
        token_counter(str(tmp_path))


@pytest.mark.slow
def test_full_build_meets_the_bars(tmp_path, dev):
    report = build_ift(tmp_path / "ift", SOURCES, decontaminate=[DEV])
    assert report["examples"] >= MIN_EXAMPLES
    everything = load_dataset(str(tmp_path / "ift"), split="train")
    assert len(everything) == report["examples"]
    for task in T.TASKS:
        assert len(load_dataset(str(tmp_path / "ift"), task, split="train")) == report["tasks"][task]["train"] > 0
    assert dev_hits(texts_of(everything), dev) == []
