"""The LLM judge (`medsyn eval judge`): reply parsing and validation, retry -> missing, the request cache, the judge
threshold in the filters, agreement with human answers, and end to end through the in-process transformers backend
and a real `transformers serve` of the tiny model (its scores mean nothing: nearly every reply is malformed)."""

import json

import pytest
from conftest import REPO

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.judge.agreement import agreement
from medsyn_hf.evaluation.judge.cli import parse
from medsyn_hf.evaluation.judge.dataset import apply_min_score
from medsyn_hf.evaluation.judge.prompt import NO_SYMPTOMS, load_template, parse_reply, render, reply_schema
from medsyn_hf.evaluation.judge.requests import CACHE_FILE, judge_messages, request_seed
from medsyn_hf.generation.backends import Completion
from medsyn_hf.request_cache import append_cache, read_cache, request_key
from medsyn_hf.schemas import ASSESSMENT_CRITERIA, JUDGE_FEATURES

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CRITERIA = list(ASSESSMENT_CRITERIA)
VALID = {"realism": 4, "plausibility": 3, "consistency": 5, "language": 2, "reason": "Похоже на запись врача."}


def reply(**changes):
    return json.dumps({**VALID, **changes}, ensure_ascii=False)


# -- parsing and validation -------------------------------------------------------------------------------------------
def test_parse_reply_accepts_only_complete_in_range_integer_scores():
    assert parse_reply(reply()) == VALID
    wrapped = f"Вот оценка:\n```json\n{reply()}\n```\nНадеюсь, помог."
    assert parse_reply(wrapped) == VALID  # text and a fence around the object
    assert parse_reply('{не json} {"realism": 1} ' + reply(realism=1)) == {**VALID, "realism": 1}  # first valid
    assert parse_reply(reply(reason="Одна\n  строка\tпричины"))["reason"] == "Одна строка причины"
    assert parse_reply(reply(extra="ignored"))["consistency"] == 5
    for bad in (0, 6, -1, 4.5, 4.0, "4", True, None, [4]):
        assert parse_reply(reply(realism=bad)) is None, bad  # never clipped, rounded or converted
    assert parse_reply(reply(reason="")) is None and parse_reply(reply(reason="   ")) is None
    assert parse_reply(reply(reason=5)) is None
    without = {k: v for k, v in VALID.items() if k != "language"}
    assert parse_reply(json.dumps(without)) is None
    assert parse_reply(reply()[:-1]) is None  # truncated (max_new_tokens reached)
    for garbage in ("", "5 5 5 5", "{{{", "[1, 2, 3]", '{"realism": 4, "plausibility": 3,'):
        assert parse_reply(garbage) is None


def test_template_renders_the_note_code_and_symptoms_and_its_example_is_a_valid_reply():
    template = load_template()
    messages = render(template, "Жалобы на кашель.", "J06.9", "ОРВИ", ["кашель", "насморк"])
    user = messages[1]["content"]
    assert [m["role"] for m in messages] == ["system", "user"] and "JSON" in messages[0]["content"]
    assert "J06.9" in user and "«ОРВИ»" in user and "кашель, насморк" in user and "Жалобы на кашель." in user
    assert all(f'"{c}"' in user for c in CRITERIA)
    assert parse_reply(user) is not None  # the example object shown to the judge passes the validator
    assert NO_SYMPTOMS in render(template, "x", "J06", "ОРВИ", [])[1]["content"]
    schema = reply_schema()
    assert schema["required"] == [*CRITERIA, "reason"] and schema["properties"]["realism"]["enum"] == [1, 2, 3, 4, 5]
    with pytest.raises(MedsynError, match="unknown judge template"):
        load_template("nope")


# -- retries, missing, cache ------------------------------------------------------------------------------------------
class Scripted:
    """A stand-in for a model that can follow the rubric (the tiny model cannot): it replies from a script keyed by
    attempt, and records every request it gets."""

    def __init__(self, script):
        self.script, self.calls, self.built = script, [], 0

    def make(self):
        self.built += 1
        return self.generate

    def generate(self, messages_list, seeds, on_batch=None):
        out = []
        for messages, seed in zip(messages_list, seeds):
            note = messages[1]["content"]
            attempt = sum(1 for m, _ in self.calls if m == note)
            self.calls.append((note, seed))
            out.append(Completion(self.script(note, attempt), 10, 5, "stop"))
        return out


def test_malformed_replies_are_retried_with_new_seeds_then_missing(tmp_path):
    template = load_template()
    prompts = [render(template, f"Запись {i}", "J06", "ОРВИ", ["кашель"]) for i in range(4)]
    # note 0 valid at once, note 1 on the second try, notes 2 and 3 never (3: out of range)
    script = Scripted(
        lambda note, attempt: (
            reply()
            if "Запись 0" in note or ("Запись 1" in note and attempt == 1)
            else reply(realism=9)
            if "Запись 3" in note
            else "Оценка: хорошо"
        )
    )
    cache = tmp_path / "cache" / CACHE_FILE
    results, attempts, counts = judge_messages(prompts, script.make, {"model": "m"}, 0, 2, cache, chunk_size=3)
    assert results[0] == VALID and results[1] == VALID and results[2] is None and results[3] is None
    assert attempts == [1, 2, 3, 3] and counts == {"requests": 9, "cached": 0}
    seeds = [s for note, s in script.calls if "Запись 2" in note]
    assert len(set(seeds)) == 3  # each retry a new draw

    again = Scripted(lambda note, attempt: pytest.fail("a cached request was sent again"))
    assert judge_messages(prompts, again.make, {"model": "m"}, 0, 2, cache) == (
        results,
        attempts,
        {"requests": 0, "cached": 9},
    )
    assert again.built == 0  # not even the backend was built
    # one more retry allowed: only the new attempts of the two missing notes are sent
    more = Scripted(lambda note, attempt: "нет")
    _, attempts4, counts4 = judge_messages(prompts, more.make, {"model": "m"}, 0, 3, cache)
    assert counts4 == {"requests": 2, "cached": 9} and attempts4 == [1, 2, 4, 4]
    # another model (or sampling) is another request
    other = Scripted(lambda note, attempt: reply())
    assert judge_messages(prompts, other.make, {"model": "other"}, 0, 2, cache)[2]["requests"] == 4


def test_cache_survives_a_torn_last_line(tmp_path):
    cache = tmp_path / CACHE_FILE
    append_cache(cache, [{"key": "a", "text": "1"}, {"key": "b", "text": "2"}])
    with open(cache, "ab") as f:
        f.write(b'{"key": "c", "te')  # a write cut by kill -9
    assert set(read_cache(cache)) == {"a", "b"}
    append_cache(cache, [{"key": "d", "text": "4"}])
    assert set(read_cache(cache)) == {"a", "b", "d"}
    assert cache.read_text().count("\n") == 4  # the torn fragment is on a line of its own


def test_tiny_model_in_process_garbage_is_recorded_missing_and_cached(tmp_path, tiny_model_dir):
    from medsyn_hf.generation.backends import load_model, make_backend
    from medsyn_hf.generation.config import GenerationArguments
    from medsyn_hf.generation.config import GenerationModelConfig as ModelConfig
    from medsyn_hf.generation.run import backend_config

    template = load_template()
    prompts = [
        render(template, "Жалобы на кашель и насморк.", c, n, ["кашель"])
        for c, n in (("J06", "ОРВИ"), ("K29", "Гастрит"), ("J06", "ОРВИ"))
    ]  # the third is the first again
    model_args = ModelConfig(model_name_or_path=str(tiny_model_dir))
    gen_args = GenerationArguments(max_new_tokens=16, batch_size=4, temperature=1.0)
    built = []

    def make():
        built.append(1)
        return make_backend(gen_args, model_args, model_and_tokenizer=load_model(model_args, "cpu")).generate

    identity = backend_config(gen_args, model_args)
    cache = tmp_path / CACHE_FILE
    results, attempts, counts = judge_messages(prompts, make, identity, 0, 1, cache)
    assert results == [None, None, None] and attempts == [2, 2, 2]  # a random model writes no valid JSON
    assert counts == {"requests": 4, "cached": 2}  # identical requests are sent once
    replies = [json.loads(line) for line in cache.read_text().splitlines()]
    assert len(replies) == 4 and all(r["text"] and r["completion_tokens"] > 0 for r in replies)
    assert judge_messages(prompts, make, identity, 0, 1, cache)[2] == {"requests": 0, "cached": 6}
    assert len(built) == 1


# -- the threshold ----------------------------------------------------------------------------------------------------
def test_min_judge_score_filter_is_off_by_default_and_rejects_low_scores(caplog):
    from medsyn_hf.filters import FilterConfig, apply_filters

    note = (
        "Пациент жалуется на кашель и насморк в течение трёх дней, температура тела повышалась до тридцати восьми "
        "градусов. "
    ) * 6
    rows = [
        {"response": note.replace("трёх", w), "symptoms": ["кашель"], "example": None, "judge_score": s}
        for w, s in (("двух", 4.5), ("пяти", 2.0), ("семи", None), ("десяти", 3.0))
    ]
    loose = dict(min_symptom_recall=0.0, dedup_threshold=1.0)
    assert [r["keep"] for r in apply_filters(rows, FilterConfig(**loose))] == [True] * 4
    out = apply_filters(rows, FilterConfig(**loose, min_judge_score=3.0))
    assert [r["keep"] for r in out] == [True, False, True, True]  # no valid judge reply: kept; 3.0 is not below 3
    assert [r["filter_reason"] for r in out] == ["", "judge", "", ""]
    unjudged = [{k: v for k, v in r.items() if k != "judge_score"} for r in rows]
    with caplog.at_level("WARNING", logger="medsyn_hf.filters"):
        assert all(r["keep"] for r in apply_filters(unjudged, FilterConfig(**loose, min_judge_score=3.0)))
    assert "no judge_score" in caplog.text
    with pytest.raises(MedsynError, match="min_judge_score"):
        FilterConfig(min_judge_score=6)


def test_apply_min_score_moves_low_notes_to_rejected():
    import datasets

    train = datasets.Dataset.from_dict(
        {"idx": [0, 1, 2], "keep": [True] * 3, "filter_reason": [""] * 3, "judge_score": [4.0, 1.5, None]}
    )
    rejected = datasets.Dataset.from_dict(
        {"idx": [3], "keep": [False], "filter_reason": ["too_short"], "judge_score": [1.0]}
    )
    out = apply_min_score({"train": train, "rejected": rejected}, 2.0)
    assert out["train"]["idx"] == [0, 2] and sorted(out["rejected"]["idx"]) == [1, 3]
    assert dict(zip(out["rejected"]["idx"], out["rejected"]["filter_reason"])) == {1: "judge", 3: "too_short,judge"}
    assert apply_min_score({"train": train}, None)["train"] is train
    again = apply_min_score(out, 1.0)  # a judged dataset judged again: the new threshold replaces the old one
    assert sorted(again["train"]["idx"]) == [0, 1, 2] and again["rejected"]["filter_reason"] == ["too_short"]
    with pytest.raises(MedsynError, match="lower min_score"):
        apply_min_score({"train": train.select([0, 1])}, 5.0)


# -- agreement --------------------------------------------------------------------------------------------------------
def test_agreement_against_hand_computed_values():
    # judge: realism 1..5 on five items; one annotator says the same, another the reverse order
    judged = {f"i{k}": {**{c: k for c in CRITERIA}, "reason": "x"} for k in range(1, 6)}
    judged["missing"] = None
    same = [{"item_id": f"i{k}", "annotator": "a", **{c: k for c in CRITERIA}} for k in range(1, 6)]
    report = agreement(judged, same + [{"item_id": "missing", "annotator": "a", **{c: 3 for c in CRITERIA}}])
    assert report["items"] == 5 and report["answers"] == 5 and report["annotators"] == 1
    assert report["realism"]["spearman"] == 1.0 and report["realism"]["kappa_quadratic"] == 1.0
    reverse = [{"item_id": f"i{k}", "annotator": "b", **{c: 6 - k for c in CRITERIA}} for k in range(1, 6)]
    assert agreement(judged, reverse)["language"] == {
        "spearman": -1.0,
        "kappa_quadratic": -1.0,
        "judge_mean": 3.0,
        "human_mean": 3.0,
    }
    # quadratic kappa by hand: judge (1,2,3) vs human (1,3,3); weights (i-j)^2; observed 1/3 * 1 = 1/3; expected from
    # the marginals (judge 1/3 each of 1,2,3; human 1/3 of 1, 2/3 of 3): 8/9 + 1/9 + 2/9 + 4/9 = 5/3 -> 1 - 1/5 = 0.8
    small = {f"s{k}": {**{c: k for c in CRITERIA}, "reason": "x"} for k in (1, 2, 3)}
    answers = [{"item_id": f"s{k}", "annotator": "a", **{c: h for c in CRITERIA}} for k, h in ((1, 1), (2, 3), (3, 3))]
    assert agreement(small, answers)["realism"]["kappa_quadratic"] == 0.8
    assert agreement(judged, []) is None


# -- the command end to end -------------------------------------------------------------------------------------------
def write_config(path, model, **overrides):
    config = {
        "model_name_or_path": str(model),
        "dtype": "float32",
        "max_new_tokens": 12,
        "temperature": 1.0,
        "batch_size": 8,
        "max_retries": 1,
        **overrides,
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A published-style notes folder (Hub layout, train + rejected, a card and a plot) from real GPT notes cut to
    their first 200 characters (the tiny model's prompts stay short)."""
    import gzip

    import datasets
    from huggingface_hub import DatasetCard

    from medsyn_hf.hub import write_folder

    with gzip.open(REPO / "tests" / "fixtures" / "sources" / "medsyn_gpt_notes" / "notes.jsonl.gz", "rt") as f:
        notes = [json.loads(line) for line in f][:6]
    rows = [
        {
            "idx": i,
            "ICD-10": n["icd10"],
            "code_name_ru": n["disease_name_ru"],
            "symptoms": n["symptoms"],
            "response": n["response"][:200],
            "keep": i < 4,
            "filter_reason": "" if i < 4 else "too_short",
        }
        for i, n in enumerate(notes)
    ]
    card = DatasetCard(
        "---\nlicense: cc-by-sa-4.0\nlanguage: [ru]\ntask_categories: [text-generation]\n"
        "size_categories: [n<1K]\nsource_datasets: [original]\npretty_name: Test notes\n---\n"
        "# Test notes\n\n![plot](code_distribution.png)\n"
    )
    out = tmp_path_factory.mktemp("published") / "ru-notes"
    splits = {"train": datasets.Dataset.from_list(rows[:4]), "rejected": datasets.Dataset.from_list(rows[4:])}
    write_folder(out, {"default": splits}, card, files={"code_distribution.png": b"\x89PNG fake"})
    return out


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_in_process_writes_a_judged_dataset_and_a_rerun_sends_nothing(tmp_path, published, tiny_model_dir, capsys):
    import datasets

    from medsyn_hf.cli import main

    before = snapshot(published)
    config = write_config(tmp_path / "judge.yaml", tiny_model_dir, cache_dir=str(tmp_path / "cache"))
    out = tmp_path / "judged"
    argv = ["eval", "judge", str(published), "--config", str(config), "--out", str(out), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] == 6 and report["splits"] == {"train": 4, "rejected": 2}
    assert report["valid"] + report["missing"] == 6 and report["requests"] >= 6
    judged = datasets.load_dataset(str(out))
    assert set(judged) == {"train", "rejected"}
    assert all(judged["train"].features[k] == v for k, v in JUDGE_FEATURES.items())
    assert judged["train"]["response"] == datasets.load_dataset(str(published), split="train")["response"]
    for row in judged["train"]:
        assert row["judge_model"] == tiny_model_dir.name and row["judge_attempts"] in (1, 2)
        assert (row["judge_score"] is None) == (row["judge_reason"] is None) == (row["judge_realism"] is None)
    assert snapshot(published) == before  # the input is never modified
    text = (out / "README.md").read_text()
    assert "# Test notes" in text and "## LLM judge" in text and "`judge_score`" in text
    assert (out / "code_distribution.png").read_bytes() == b"\x89PNG fake"
    assert json.loads((out / "judge.json").read_text())["requests"] == report["requests"]

    # the same command again: a previous output of this command is replaced; every reply comes from the cache
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["requests"] == 0 and again["cached"] == report["requests"] + report["cached"]
    assert {k: again[k] for k in ("valid", "missing", "mean_scores")} == {
        k: report[k] for k in ("valid", "missing", "mean_scores")
    }
    # judging the judged folder again keeps one judge section
    assert main(["eval", "judge", str(out), "--config", str(config), "--out", str(tmp_path / "twice"), "--json"]) == 0
    assert (tmp_path / "twice" / "README.md").read_text().count("## LLM judge") == 1


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, published, tiny_model_dir, capsys):
    from medsyn_hf.cli import main

    config = write_config(tmp_path / "judge.yaml", tiny_model_dir, cache_dir=str(tmp_path / "cache"))
    base = ["eval", "judge", str(published), "--config", str(config)]
    cases = [
        ([*base], "name the output folder"),
        ([*base, "--out", str(published)], "input"),
        ([*base, "--out", str(tmp_path / "o"), "--max_retries", "-1"], "max_retries: -1 is out of range"),
        ([*base, "--out", str(tmp_path / "o"), "--min_score", "7"], "min_score: 7.0 is out of range; allowed: >= 1"),
        ([*base, "--out", str(tmp_path / "o"), "--template", "nope"], "unknown judge template"),
        (
            [
                "eval",
                "judge",
                str(published),
                "--out",
                str(tmp_path / "o"),
                "--config",
                str(write_config(tmp_path / "bad.yaml", tiny_model_dir, max_notes="many")),
            ],
            "max_notes: 'many' is not",
        ),
        ([*base, "--out", str(tmp_path / "o"), "--code_column", "nope"], "no column 'nope'"),
        ([*base, "--out", str(tmp_path / "o"), "--split", "test"], "no split 'test'"),
        ([*base, "--out", str(tmp_path / "o"), "--cache_dir", str(tmp_path / "o" / "cache")], "input"),
        (
            ["eval", "judge", str(tmp_path / "none"), "--config", str(config), "--out", str(tmp_path / "o")],
            "no such file",
        ),
        (
            [*base, "--out", str(tmp_path / "o"), "--model_name_or_path", "example/not-downloaded"],
            "cannot load model 'example/not-downloaded'",
        ),  # offline: the Hub is never reached
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        error = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar, if any
        assert error.startswith("medsyn: error: ") and message in error, (argv, error)
    assert not (tmp_path / "o").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    assert main([*base, "--out", str(tmp_path / "mine")]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (tmp_path / "mine" / "keep.txt").read_text() == "user data"


def test_judging_an_assessment_folder_reports_agreement(tmp_path, capsys):
    """An assessment folder's public items, judged; the judge's replies come from the cache (as from an earlier run
    with a model that follows the rubric): no request is sent, the model is never loaded."""
    import datasets

    from medsyn_hf.assessment_folder import ANSWERS_DIR, ITEMS
    from medsyn_hf.cli import main
    from medsyn_hf.generation.config import GenerationArguments
    from medsyn_hf.generation.config import GenerationModelConfig as ModelConfig
    from medsyn_hf.generation.run import backend_config

    folder = tmp_path / "assess"
    (folder / ANSWERS_DIR).mkdir(parents=True)
    items = [
        {
            "item_id": f"item-{k:08x}",
            "text": f"Жалобы на кашель, {k} дня.",
            "code": "J06",
            "code_name": "Острые инфекции верхних дыхательных путей",
        }
        for k in range(1, 6)
    ]
    (folder / ITEMS).write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    for annotator, shift in (("anna", 0), ("boris", 1)):
        with open(folder / ANSWERS_DIR / f"{annotator}.jsonl", "w", encoding="utf-8") as f:
            for k, item in enumerate(items, 1):
                f.write(
                    json.dumps(
                        {
                            "item_id": item["item_id"],
                            "annotator": annotator,
                            "origin": "real",
                            **{c: min(5, k + shift) for c in CRITERIA},
                            "answered_at": "t",
                        }
                    )
                    + "\n"
                )
    overrides = dict(max_new_tokens=12, temperature=1.0, batch_size=8)
    model = "example/judge-model"  # a Hub id, never downloaded: every reply is in the cache
    config = write_config(
        tmp_path / "judge.yaml", model, cache_dir=str(tmp_path / "cache"), **overrides, max_retries=0
    )
    identity = backend_config(GenerationArguments(**overrides), ModelConfig(model_name_or_path=model, dtype="float32"))
    template = load_template()
    records = []
    for k, item in enumerate(items, 1):
        messages = render(template, item["text"], item["code"], item["code_name"], None)
        seed = request_seed(0, messages, 0)
        records.append({"key": request_key(identity, messages, seed), "text": reply(**{c: k for c in CRITERIA})})
    append_cache(tmp_path / "cache" / CACHE_FILE, records)

    out = tmp_path / "judged"
    assert (
        main(["eval", "judge", str(folder), "--config", str(config), "--out", str(out), "--min_score", "2", "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["requests"] == 0 and report["valid"] == 5 and report["below_min_score"] == 1
    agree = report["agreement"]
    assert agree["items"] == 5 and agree["answers"] == 10 and agree["annotators"] == 2
    assert agree["realism"]["spearman"] == 1.0 and agree["overall"]["spearman"] == 1.0
    assert 0 < agree["realism"]["kappa_quadratic"] < 1  # boris scores one higher
    judged = datasets.load_dataset(str(out))
    assert judged["train"]["judge_realism"] == [2, 3, 4, 5] and judged["rejected"]["filter_reason"] == ["judge"]
    card = (out / "README.md").read_text()
    assert "Agreement with 2 human annotator(s) on 5 items" in card and "| realism | 1.0 |" in card


# -- OpenAI-compatible backend against a real server ------------------------------------------------------------------
def test_openai_backend_against_transformers_serve(tmp_path, published, tiny_model_dir, tiny_model_server, capsys):
    from medsyn_hf.cli import main

    url, log = tiny_model_server

    def posts():
        return log.read_text(errors="replace").count("POST /v1/chat/completions")

    config = write_config(
        tmp_path / "judge.yaml",
        tiny_model_dir,
        cache_dir=str(tmp_path / "cache"),
        backend="openai",
        base_url=url,
        concurrency=2,
        max_notes=2,
    )
    argv = ["eval", "judge", str(published), "--config", str(config), "--out", str(tmp_path / "out"), "--json"]
    start = posts()
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] == 4 and report["requests"] >= 4 and posts() - start == report["requests"]
    assert "response_format" in log.read_text()  # sent (transformers serve ignores it, vLLM enforces it)
    assert main([*argv]) == 0
    assert json.loads(capsys.readouterr().out)["requests"] == 0 and posts() - start == report["requests"]


@pytest.mark.parametrize(
    "config", sorted((REPO / "recipes").glob("*/judge/config*.yaml")), ids=lambda p: f"{p.parts[-3]}/{p.stem}"
)
def test_recipes_parse(config):
    judge_args, gen_args, model_args = parse(["notes", "--config", str(config)])
    assert judge_args.dataset_name == "notes" and judge_args.template in (None, *[load_template().name])
    assert gen_args.temperature > 0 or judge_args.max_retries == 0  # a retry must be a new draw
    assert model_args.model_name_or_path
