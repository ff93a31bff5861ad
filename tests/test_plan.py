"""Plan by deficit: `medsyn plan` on constructed notes whose right plan is known, a user's own JSONL (other column
names) the same as RuMedTop3's layout, the generate config planning by itself, and the plan travelling into the run,
the published dataset and `medsyn eval icd`'s default top-up."""

import json
import math

import pytest
from conftest import FIXTURE_SOURCES, write_heldout

from medsyn_hf.cli import main as medsyn
from medsyn_hf.errors import MedsynError
from medsyn_hf.priors.plan import make_plan, planned_priors, read_plan

# code -> real notes: J02 already has K=10, J06 and K29 need 5 and 8, A00 is in the MKG without enough symptoms to
# prompt, Z99.99 is no ICD-10 code of the MKG.
COUNTS = {"J02": 12, "J06": 5, "K29": 2, "A00": 1, "Z99.99": 1}
K, OVER = 10, 1.5
EXPECTED = {  # code: (real, need, planned, status)
    "A00": (1, 9, 0, "too_few_symptoms"),
    "J02": (12, 0, 0, "full"),
    "J06": (5, 5, 8, "planned"),  # ceil(5 * 1.5)
    "K29": (2, 8, 12, "planned"),
    "Z99.99": (1, 9, 0, "not_in_mkg"),
}


def write_notes(path, text_column="symptoms", code_column="code"):
    rows = [
        {text_column: f"Жалобы на боль и слабость, случай {code} номер {i}", code_column: code, "extra": i}
        for code, n in COUNTS.items()
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run(argv, capsys):
    code = medsyn([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def user_jsonl(tmp_path_factory):
    """A user's own JSONL: text in `note`, code in `icd`."""
    return write_notes(tmp_path_factory.mktemp("user") / "mine.jsonl", "note", "icd")


def test_plan_of_constructed_notes(kg, tmp_path, capsys, user_jsonl):
    out = tmp_path / "plan"
    argv = ["plan", "--real", user_jsonl, "--text-column", "note", "--code-column", "icd"]
    code, stdout, stderr = run([*argv, "--fill-to", K, "--over", OVER, "--out", out, "--json"], capsys)
    assert code == 0, stderr
    plan = read_plan(out)
    assert {r["code"]: (r["real"], r["need"], r["planned"], r["status"]) for r in plan.codes} == EXPECTED
    # the codes that cannot be planned are in the table and on stderr, never dropped silently
    assert "A00 (1 real notes) not planned" in stderr and "Z99.99 (1 real notes) not planned" in stderr
    table = (out / "plan.md").read_text(encoding="utf-8")
    assert "| A00 |" in table and "| Z99.99 |" in table and "not_in_mkg" in table
    report = json.loads(stdout)
    assert (report["planned"], report["planned_codes"], report["full_codes"], report["unplannable_codes"]) == (
        20,
        2,
        1,
        2,
    )
    # the priors are the plan's: per code exactly `planned`, none for a code with n >= K; generate reads the folder
    from medsyn_hf.data import load_dataset
    from medsyn_hf.schemas import PRIORS_FEATURES

    priors = load_dataset(out)
    assert priors.features == PRIORS_FEATURES
    assert sorted(priors["code"]) == ["J06"] * 8 + ["K29"] * 12
    assert plan.need == {"J06": 5, "K29": 8}
    assert plan.real["source"] == str(user_jsonl) and plan.real["code_column"] == "icd"


def test_a_users_jsonl_plans_like_rumedtop3(tmp_path, capsys, user_jsonl):
    """The same notes in RuMedTop3's layout (`symptoms`, `code`, default columns) and in the user's own columns give
    the same priors."""
    rumed = write_notes(tmp_path / "train_v1.jsonl")
    plans = {}
    for name, argv in {
        "rumedtop3": ["--real", rumed],
        "user": ["--real", user_jsonl, "--text-column", "note", "--code-column", "icd"],
    }.items():
        assert run(["plan", *argv, "--fill-to", K, "--over", OVER, "--out", tmp_path / name], capsys)[0] == 0
        plans[name] = read_plan(tmp_path / name)
    assert plans["rumedtop3"].codes == plans["user"].codes
    from medsyn_hf.data import load_dataset

    assert load_dataset(tmp_path / "rumedtop3").to_dict() == load_dataset(tmp_path / "user").to_dict()


def test_category_level_counts_subcodes_with_their_category(kg):
    plan = make_plan(kg, ["J06.9", "J06.0", "J06", "j06.9", "K29.7"], 4, level="category")
    assert {r["code"]: (r["real"], r["need"]) for r in plan.codes} == {"J06": (4, 0), "K29": (1, 3)}
    by_code = make_plan(kg, ["J06.9", "J06.9", "J06"], 4, level="code")
    assert {r["code"]: r["real"] for r in by_code.codes} == {"J06": 1, "J06.9": 2}


def test_over_generation_rounds_up_without_float_error():
    assert planned_priors(80, 1.1) == 88 and planned_priors(69, 1.25) == 87 and planned_priors(0, 2.0) == 0


def test_codes_option_leaves_codes_out_visibly(kg):
    plan = make_plan(kg, ["J06"] * 2 + ["K29"], 5, codes=["K29"])
    assert {r["code"]: (r["planned"], r["status"]) for r in plan.codes} == {
        "J06": (0, "not_selected"),
        "K29": (4, "planned"),
    }


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--fill-to", "0"], "--fill-to"),
        (["--fill-to", "10", "--over", "0.5"], "--over"),
        (["--fill-to", "10", "--code-column", "nope"], "no column 'nope'"),
        (["--fill-to", "1"], "nothing to plan"),  # every code has at least 1 note
        (["--fill-to", "10", "--level", "chapter"], "--level"),
        (["--fill-to", "10", "--mode", "random"], "unrecognized arguments: --mode"),  # the plan sets the counts
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, user_jsonl, extra, message):
    argv = ["plan", "--real", user_jsonl, "--text-column", "note", "--out", tmp_path / "plan", *extra]
    if "--code-column" not in extra:
        argv += ["--code-column", "icd"]
    code, stdout, stderr = run(argv, capsys)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "plan").exists() and not stdout


def test_a_missing_real_dataset_is_one_line(tmp_path, capsys):
    code, _, stderr = run(["plan", "--real", tmp_path / "no.jsonl", "--fill-to", 5, "--out", tmp_path / "p"], capsys)
    assert code == 2 and "no.jsonl" in stderr and len(stderr.strip().splitlines()) == 1


def test_a_damaged_plan_file_is_an_error(tmp_path):
    (tmp_path / "plan.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MedsynError, match=r"plan\.json:1: invalid JSON"):
        read_plan(tmp_path)
    (tmp_path / "plan.json").write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(MedsynError, match="not a readable plan"):
        read_plan(tmp_path)
    assert read_plan(tmp_path / "elsewhere") is None


# -- the generate config plans by itself; the plan travels into the run, the card and `eval icd` ---------------------
LENIENT = {"min_symptom_recall": 0.0, "min_words": 1, "min_cyrillic_share": 0.0, "max_copy_ratio": 1.0}
TRAIN = FIXTURE_SOURCES / "rumedtop3" / "train_v1.jsonl"  # J06 28, N40 10, J45 9, J02 3 notes


@pytest.fixture(scope="module")
def planned_run(tmp_path_factory, tiny_model_dir):
    """A generation whose config alone plans: fill_to 11 from the fixture's RuMedTop3 notes (J02 8 short, J45 2,
    N40 1, J06 full), over-generation 1.25."""
    tmp = tmp_path_factory.mktemp("planned")
    config = tmp / "generate.yaml"
    config.write_text(
        json.dumps(
            {
                "model_name_or_path": str(tiny_model_dir),
                "real_dataset": str(TRAIN),
                "fill_to": 11,
                "fill_over": 1.25,
                "max_new_tokens": 12,
                "shard_size": 8,
                "output_dir": str(tmp / "runs"),
                "seed": 5,
                "filters": LENIENT,
            }
        ),
        encoding="utf-8",
    )
    assert medsyn(["generate", "--config", str(config)]) == 0
    return tmp / "runs" / "latest", tmp


@pytest.mark.usefixtures("one_torch_thread")
def test_a_generate_config_plans_and_the_run_keeps_the_plan(planned_run):
    import datasets

    run, _ = planned_run
    plan = read_plan(run)
    expected = {"J02": (3, 8, 10), "J45": (9, 2, 3), "N40": (10, 1, 2), "J06": (28, 0, 0)}
    assert {r["code"]: (r["real"], r["need"], r["planned"]) for r in plan.codes} == expected
    notes = datasets.Dataset.from_parquet(str(run / "notes.parquet"))
    assert sorted(notes["ICD-10"]) == ["J02"] * 10 + ["J45"] * 3 + ["N40"] * 2
    # selection ran against the real notes and kept at most the need per code, the best by realism first
    assert all(r is not None for r in notes["realism"]) and all(r is not None for r in notes["real_run"])
    for code, (_, need, _) in expected.items():
        kept = [
            (rank, realism)
            for c, k, rank, realism in zip(*(notes[x] for x in ("ICD-10", "keep", "selection_rank", "realism")))
            if c == code and k
        ]
        assert len(kept) <= need
    over = [r for r in notes["filter_reason"] if "over_quota" in r]
    assert over, "10 J02 notes for a need of 8 under lenient filters: some are over the quota"
    assert math.isclose(plan.fill_over, 1.25)


@pytest.mark.usefixtures("one_torch_thread")
def test_the_card_shows_the_plan_and_eval_icd_takes_its_k(planned_run, capsys):
    run, tmp = planned_run
    out = tmp / "published"
    assert medsyn(["publish", str(run), "--out", str(out)]) == 0
    capsys.readouterr()
    assert read_plan(out).codes == read_plan(run).codes
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Plan" in card and "| J02 | " in card and "over_quota" in card
    # the real notes are named, never shipped: neither copied under inputs/ nor as a path of this machine
    assert not [p for p in out.rglob("*") if p.name == TRAIN.name], "the real notes were copied into the dataset"
    published = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert published["script_args"]["real_dataset"] == TRAIN.name and "real_dataset" in published["local"]
    assert str(TRAIN.parent) not in (out / "plan.json").read_text(encoding="utf-8") + card
    code = medsyn(
        [
            "eval",
            "icd",
            "--train",
            str(TRAIN),
            "--eval",
            str(write_heldout(tmp / "heldout.jsonl")),
            "--synthetic",
            str(out),
            "--bootstrap",
            "0",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["topup"] == 11  # the plan's K, without --topup
    assert medsyn(["eval", "icd", "--train", str(TRAIN), "--eval", str(TRAIN), "--topup", "--json"]) == 2
    assert "carries no plan" in capsys.readouterr().err


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"fill_to": 10}, "fill_to: a plan counts the real notes per code; set real_dataset too"),
        ({"fill_to": 10, "real_dataset": "x.jsonl", "dataset_name": "p"}, "fill_to plans the priors"),
        ({"fill_to": 0, "real_dataset": "x.jsonl"}, "fill_to: 0 is out of range"),
        ({"fill_to": 10, "real_dataset": "x.jsonl", "fill_over": 0.5}, "fill_over: 0.5 is out of range"),
    ],
)
def test_a_bad_plan_in_a_generate_config_is_one_line(keys, message):
    from medsyn_hf.generation.config import GenerateScriptArguments

    with pytest.raises(MedsynError, match=message):
        GenerateScriptArguments(**keys)


def test_a_plans_missing_real_notes_are_named(tmp_path, capsys, user_jsonl):
    """A plan folder whose real notes cannot be read (moved since `medsyn plan`) fails before any generation."""
    import shutil

    from medsyn_hf.generation.config import GenerateScriptArguments
    from medsyn_hf.generation.run import load_reference, prepare_priors

    moved = tmp_path / "mine.jsonl"
    shutil.copy(user_jsonl, moved)
    argv = ["plan", "--real", moved, "--text-column", "note", "--code-column", "icd", "--fill-to", K]
    assert run([*argv, "--out", tmp_path / "plan"], capsys)[0] == 0
    moved.unlink()
    script = GenerateScriptArguments(dataset_name=str(tmp_path / "plan"))
    priors, plan = prepare_priors(script, 0)
    assert len(priors) == 13 and plan.fill_to == K  # need 5 + 8, no over-generation
    with pytest.raises(MedsynError, match=r"the real notes of the plan .* \(set real_dataset\): .*mine\.jsonl"):
        load_reference(script, plan)
    reference = load_reference(
        GenerateScriptArguments(
            dataset_name=str(tmp_path / "plan"),
            real_dataset=str(user_jsonl),
            real_text_column="note",
            real_code_column="icd",
        ),
        plan,
    )
    assert reference.need == {"J06": 5, "K29": 8} and len(reference.texts) == sum(COUNTS.values())


def test_real_notes_without_a_plan_select_without_a_quota(user_jsonl):
    from medsyn_hf.generation.config import GenerateScriptArguments
    from medsyn_hf.generation.run import load_reference

    assert load_reference(GenerateScriptArguments(), None) is None  # no real notes: selection is off
    script = GenerateScriptArguments(
        real_dataset=str(user_jsonl), real_text_column="note", real_code_column="icd", priors_level="category"
    )
    reference = load_reference(script, None)
    assert reference.need is None and reference.level == "category"
    assert sorted(set(reference.codes)) == ["A00", "J02", "J06", "K29", "Z99"]  # Z99.99 counts as its category
