"""Writing in the user's style: the `complaints` template with and without style exemplars, exemplars drawn from real
notes of other categories only (sampler, a user's own dataset, a note's own prior), and the priors rebuilt from real
complaints that the complaint-writing task and the writer's complaint stage train on."""

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from conftest import SOURCES

from medsyn_hf.cli import main as medsyn
from medsyn_hf.errors import MedsynError
from medsyn_hf.filters import symptom_recall
from medsyn_hf.priors import record_seeds, sample_priors
from medsyn_hf.priors.from_notes import complaint_prior, note_seed, voiced_symptoms
from medsyn_hf.priors.style import MAX_WORDS, category_of, draw_style, packaged_pool, style_pool
from medsyn_hf.prompts import DEFAULT_MIX, STYLE_BULLET, TEMPLATE_NAMES, TEMPLATES, render_messages, render_users

PRIOR = {"symptoms": ["кашель", "боль в горле"], "sex": "female", "age": 34, "code": "J06"}
EXEMPLARS = ["Жалобы на боли в пояснице при наклонах.", "головокружение, шум в ушах {без скобок}"]


def test_complaints_template_renders_with_and_without_exemplars():
    plain = render_messages(PRIOR, "complaints")
    styled = render_messages({**PRIOR, "style_examples": EXEMPLARS}, "complaints")
    assert plain[0] == styled[0] and "медсестра" in plain[0]["content"]
    assert "Что беспокоит пациента: кашель, боль в горле." in plain[1]["content"]
    assert "женщина, 34 года" in plain[1]["content"]
    assert "J06" not in plain[1]["content"] and "{" not in plain[1]["content"]  # no code, no label to restate
    before, after = TEMPLATES["complaints"].style
    assert before.strip() not in plain[1]["content"]  # no exemplar: no style block
    block = before + "\n".join(STYLE_BULLET + e for e in EXEMPLARS) + after + "\n\n"
    assert styled[1]["content"] == block + plain[1]["content"]
    assert render_messages({**PRIOR, "style_examples": []}, "complaints") == plain
    # the other templates ignore exemplars
    assert render_messages({**PRIOR, "style_examples": EXEMPLARS}, "short") == render_messages(PRIOR, "short")


def test_vectorised_renderer_shows_the_same_exemplars():
    rows = [EXEMPLARS, None, [], ["одна строка"]]
    template = TEMPLATE_NAMES.index("complaints")
    got = render_users(
        [template] * len(rows),
        pa.array([PRIOR["symptoms"]] * len(rows)),
        pa.array(["J06"] * len(rows)),
        pa.array(["ОРВИ"] * len(rows)),
        pa.array([None] * len(rows), pa.string()),
        pa.array(["женщина, 34 года"] * len(rows)),
        pa.array(rows, pa.list_(pa.string())),
    )
    expected = [render_messages({**PRIOR, "style_examples": r}, "complaints")[1]["content"] for r in rows]
    assert got.to_pylist() == expected


def test_default_mix_leaves_complaints_out_unless_named(kg):
    assert "complaints" in TEMPLATE_NAMES and "complaints" not in DEFAULT_MIX
    assert "complaints" not in set(sample_priors(kg, 200, seed=3, example_p=0)["template"])
    named = sample_priors(kg, 20, seed=3, templates={"complaints": 1.0}, example_p=0)
    assert set(named["template"]) == {"complaints"}
    assert named["style_examples"] == [None] * 20  # none asked for


def test_exemplars_never_come_from_the_prior_category():
    codes = ["A01", "A01.1", "b02", "B02", "C03", "C03", "C03", "D04"]
    texts = [f"жалоба {i}" for i in range(len(codes))]
    pool = style_pool(codes + ["E05", None], texts + [" ".join(["слово"] * (MAX_WORDS + 1)), "без кода"])
    assert len(pool.texts) == len(codes)  # the overlong and code-less notes are left out
    category = {t: category_of(c) for c, t in zip(codes, texts)}
    for own in ("A01", "B02.9", "C03", "Z99"):
        drawn = draw_style(pool, [own] * 300, record_seeds(7, 300), 3).to_pylist()
        assert all(len(d) == 3 and len(set(d)) == 3 for d in drawn)
        assert not any(category[t] == category_of(own) for d in drawn for t in d)
        seen = Counter(t for d in drawn for t in d)
        others = [t for t in texts if category[t] != category_of(own)]
        assert set(seen) == set(others)  # every other note can be drawn
        assert max(seen.values()) < 2.5 * min(seen.values())  # about uniformly
    # fewer notes of other categories than asked: all of them, once each
    drawn = draw_style(pool, ["C03"] * 5, record_seeds(1, 5), 10).to_pylist()
    assert all(sorted(d) == sorted(t for t in texts if category[t] != "C03") for d in drawn)
    # a record's exemplars depend on its own seed only
    rs = record_seeds(2, 50)
    assert draw_style(pool, ["A01"] * 50, rs, 2)[10:20] == draw_style(pool, ["A01"] * 10, rs[10:20], 2)


def test_sampled_priors_show_exemplars_of_other_categories(kg):
    priors = sample_priors(kg, 120, seed=5, templates={"complaints": 1.0}, example_p=0, style_examples=3)
    pool = packaged_pool()
    category_of_text = dict(zip(pool.texts.to_pylist(), pool.categories))
    for prior in priors:
        assert len(prior["style_examples"]) == 3
        assert all(category_of_text[e] != prior["category"] for e in prior["style_examples"])
        assert all(STYLE_BULLET + e in prior["messages"][1]["content"] for e in prior["style_examples"])
    again = sample_priors(kg, 120, seed=5, templates={"complaints": 1.0}, example_p=0, style_examples=3, num_proc=2)
    assert again.data.table.equals(priors.data.table)
    # a mix: only the priors whose template shows exemplars carry them
    mixed = sample_priors(kg, 60, seed=5, templates={"complaints": 1.0, "short": 1.0}, example_p=0, style_examples=2)
    for prior in mixed:
        assert (prior["style_examples"] is not None) == (prior["template"] == "complaints")


# A user's own notes (text + code): codes as users type them (lower case, a Cyrillic К), a subcode, and one text
# carried under two codes (J06 and M54), which is each of those codes' own note and may never be shown for either.
SHARED = "общая слабость, ломота в теле"
USER_NOTES = [
    *({"text": f"кашель и насморк, запись {i}", "code": c} for i, c in enumerate(["J06", "j06.9", "J06"])),
    *({"text": f"изжога после еды, запись {i}", "code": c} for i, c in enumerate(["K29", "к29", "K29.7"])),
    *({"text": f"боль в пояснице, запись {i}", "code": "M54"} for i in range(2)),
    *({"text": f"давление и головная боль, запись {i}", "code": "I10"} for i in range(2)),
    {"text": SHARED, "code": "J06"},
    {"text": SHARED, "code": "M54"},
]
USER_CATEGORY = {"j06.9": "J06", "к29": "K29", "K29.7": "K29"}


def _own_notes_by_category() -> dict[str, set[str]]:
    own = {}
    for row in USER_NOTES:
        own.setdefault(USER_CATEGORY.get(row["code"], row["code"]), set()).add(row["text"])
    return own


def _assert_users_exemplars(priors, k: int):
    """Every prior shows k of the user's notes, none of its own category's (so never one of its own notes)."""
    own = _own_notes_by_category()
    users = {row["text"] for row in USER_NOTES}
    assert len(priors)
    for prior in priors:
        shown = prior["style_examples"]
        assert len(shown) == k and len(set(shown)) == k and set(shown) <= users - {SHARED}
        assert not set(shown) & own[prior["category"]]
        assert all(STYLE_BULLET + e in prior["messages"][1]["content"] for e in shown)


def test_a_plan_shows_exemplars_from_the_users_own_notes_of_other_codes(tmp_path, capsys):
    from datasets import load_from_disk

    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in USER_NOTES), encoding="utf-8")
    out = tmp_path / "plan"
    flags = ["--templates", "complaints", "--example-p", "0", "--style-examples", "2", "--level", "category"]
    assert medsyn(["plan", "--real", str(notes), "--fill-to", "9", "--out", str(out), *flags]) == 0
    priors = load_from_disk(str(out))
    assert set(priors["category"]) == {"J06", "K29", "M54", "I10"} and set(priors["template"]) == {"complaints"}
    _assert_users_exemplars(priors, 2)
    capsys.readouterr()


def test_generate_draws_exemplars_from_real_dataset_without_a_plan(tmp_path):
    from conftest import REPO

    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.run import load_priors
    from medsyn_hf.recipe_args import parse_args

    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in USER_NOTES), encoding="utf-8")
    recipe = REPO / "recipes" / "tiny" / "generate" / "config_complaints.yaml"
    argv = ["--config", str(recipe), "--num_priors", "40", "--codes", "J06", "K29", "M54", "I10"]
    argv += ["--real_dataset", str(notes), "--priors_style_examples", "3"]
    script, gen, _ = parse_args(argv, make_parser())
    _assert_users_exemplars(load_priors(script, gen.seed), 3)


@pytest.mark.parametrize("style_examples", [-1, 21])
def test_bad_style_options(kg, style_examples):
    with pytest.raises(MedsynError, match="style_examples"):
        sample_priors(kg, 5, seed=0, templates={"complaints": 1.0}, style_examples=style_examples)


@pytest.mark.parametrize("command", ["priors", "plan"])
@pytest.mark.parametrize("value", ["-2", "21", "many"])
def test_bad_style_flag_is_one_line(tmp_path, capsys, command, value):
    out = tmp_path / "p.parquet" if command == "priors" else tmp_path / "plan"
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in USER_NOTES), encoding="utf-8")
    given = ["--n", "3"] if command == "priors" else ["--real", str(notes), "--fill-to", "5"]
    assert medsyn([command, *given, "--templates", "complaints", "--out", str(out), "--style-examples", value]) == 2
    err = capsys.readouterr().err
    assert "style" in err and err.count("\n") == 1 and not out.exists(), err


def test_a_complaint_prior_asks_for_what_the_complaint_says(kg):
    text = "Жалобы на кашель, боль в горле, насморк. Температура не повышалась."
    assert voiced_symptoms(kg, "J06", text)
    pool = style_pool(["J06", "K29", "M54"], ["другая жалоба ОРВИ", "боль в эпигастрии", "боль в пояснице"])
    prior = complaint_prior(kg, "j06 ", text, note_seed(0, "x"), pool, 3)
    assert prior["code"] == prior["category"] == "J06" and prior["template"] == "complaints"
    assert 1 <= len(prior["symptoms"]) <= 5 and len(prior["symptom_weights"]) == len(prior["symptoms"])
    assert symptom_recall(text, prior["symptoms"]) == 1.0  # the real complaint passes the recall filter
    assert "температура" not in prior["symptoms"]  # a negated sentence voices nothing
    assert sorted(prior["style_examples"]) == ["боль в пояснице", "боль в эпигастрии"]  # never its own category
    assert prior["messages"] == render_messages(prior, "complaints")
    assert complaint_prior(kg, "J06", text, note_seed(0, "x"), pool, 3) == prior  # seeded
    assert complaint_prior(kg, "J06", "Повторный приём, без жалоб.", note_seed(0, "y"), pool, 0) is None


def test_real_train_complaints_pass_the_recall_filter_on_their_priors(kg):
    with open(SOURCES / "rumedtop3" / "train_v1.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:300]
    pool = style_pool([r["code"] for r in rows], [r["symptoms"] for r in rows])
    priors = [complaint_prior(kg, r["code"], r["symptoms"], note_seed(0, r["idx"]), pool, 1) for r in rows]
    usable = [(r, p) for r, p in zip(rows, priors) if p]
    assert len(usable) > 0.7 * len(rows)
    assert np.mean([symptom_recall(r["symptoms"], p["symptoms"]) for r, p in usable]) == 1.0


def test_complaints_recipe_samples_complaint_prompts_with_exemplars(tmp_path):
    from conftest import REPO

    from medsyn_hf.generation.cli import make_parser
    from medsyn_hf.generation.run import load_priors
    from medsyn_hf.recipe_args import parse_args

    recipe = REPO / "recipes" / "tiny" / "generate" / "config_complaints.yaml"
    script, gen, _ = parse_args(["--config", str(recipe), "--num_priors", "30"], make_parser())
    assert script.filters["min_words"] < 5 and gen.max_new_tokens <= 192
    assert script.priors_style_examples == 0  # chosen on the train-only validation split (its comment)
    assert set(load_priors(script, gen.seed)["template"]) == {"complaints"}
    script.priors_style_examples = 3
    priors = load_priors(script, gen.seed)
    assert set(priors["template"]) == {"complaints"} and all(len(e) == 3 for e in priors["style_examples"])
    old = tmp_path / "old.parquet"  # priors written before the style_examples column load with none
    priors.remove_columns("style_examples").to_parquet(str(old))
    script.dataset_name = str(old)
    assert load_priors(script, gen.seed)["style_examples"] == [None] * 30


@pytest.mark.parametrize(
    "line, words",
    [
        ("priors_style_examples: -1", "priors_style_examples"),
        ("priors_style_examples: many", "priors_style_examples"),
        ("priors_templates: {nonsense: 1}", "nonsense"),
        ("priors_templates: {complaints: -1}", "complaints"),
        ("real_dataset: no/such/notes.jsonl\npriors_style_examples: 2", "no/such/notes.jsonl"),
    ],
)
def test_bad_complaint_settings_in_a_generate_config(tmp_path, capsys, line, words):
    config = tmp_path / "config.yaml"
    out = tmp_path / "runs"
    config.write_text(
        f"model_name_or_path: medsyn-tiny\nnum_priors: 4\noutput_dir: {out}\npriors_templates: {{complaints: 1}}\n"
        f"{line}\n",
        encoding="utf-8",
    )
    assert medsyn(["generate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert not out.exists()


def test_run_ids_made_before_style_examples_stay_the_same(kg):
    """The priors' hash (the run id's input) leaves out a style_examples column that is all null: a config that
    shows no exemplar keeps the run id it had before the column existed (sha256 of the older columns' JSON)."""
    import hashlib

    from medsyn_hf.generation.run import priors_fingerprint

    def before_the_column(priors):
        columns = priors.remove_columns("style_examples").to_dict()
        return hashlib.sha256(json.dumps(columns, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    plain = sample_priors(kg, 30, seed=4)
    assert plain["style_examples"] == [None] * 30
    assert priors_fingerprint(plain) == before_the_column(plain)
    assert priors_fingerprint(plain.remove_columns("style_examples")) == before_the_column(plain)
    styled = sample_priors(kg, 30, seed=4, templates={"complaints": 1.0}, example_p=0, style_examples=2)
    assert priors_fingerprint(styled) != before_the_column(styled)  # exemplars are part of what the notes follow
