"""The CPU decoding loop (`medsyn_hf.generation.backends.decode`) writes, token for token, the notes `generate` writes
(the earlier CPU path, still ``decoding: generate``), whatever the batch size, the thread count or the rows that end
early; and a whole `medsyn generate` run gives the same notes.parquet on either path."""

import os

import pytest
from test_generation import notes_table, run_inprocess, write_config

from medsyn_hf.errors import MedsynError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def generation_args(**overrides):
    from medsyn_hf.generation.config import GenerationArguments

    return GenerationArguments(**{"max_new_tokens": 16, "temperature": 1.0, **overrides})


def prompts_and_keys(kg, tokenizer, n: int, seed: int):
    from medsyn_hf.generation.backends import row_key
    from medsyn_hf.priors import sample_priors

    priors = sample_priors(kg, n, seed=seed, example_p=0.5)  # examples: prompts of very different lengths
    prompts = [
        tokenizer.apply_chat_template(list(m), add_generation_prompt=True, return_dict=True)["input_ids"]
        for m in priors["messages"]
    ]
    return prompts, [row_key(seed, s) for s in priors["seed"]]


def tokens(model, args, prompts, keys, eos, pad):
    from medsyn_hf.generation.backends.transformers import token_generator, uses_loop

    assert uses_loop(model, args) == (args.decoding == "auto")
    return [(ids.tolist(), n, stopped) for ids, n, stopped in token_generator(model, args, eos, pad)(prompts, keys)]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from trl import ModelConfig

    from medsyn_hf.generation.backends import load_model

    return load_model(ModelConfig(model_name_or_path=str(tiny_model_dir)), "cpu")


def test_plan_batches_bounds_padding():
    from medsyn_hf.generation.backends.decode import PADDING_SLACK, plan_batches

    lengths = [10, 100, 90, 80, 76, 75, 50, 40, 101, 100, 12]
    batches = plan_batches(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    order = [i for b in batches for i in b]
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)  # longest first, as `generate`'s path
    assert order[:2] == [8, 1] and order.index(9) == 2  # ties keep the prompts' order
    assert all(len(b) <= 3 for b in batches)
    assert all(lengths[i] >= (1 - PADDING_SLACK) * lengths[b[0]] for b in batches for i in b)
    assert [len(b) for b in batches] == [3, 3, 1, 2, 2]  # 75 is not within a quarter of 101 ... 90
    assert plan_batches([5] * 7, 1000) == [list(range(7))]


@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_loop_writes_the_tokens_generate_writes(tiny, kg, temperature):
    from medsyn_hf.generation.backends.decode import MIN_SHARED

    model, tok = tiny
    prompts, keys = prompts_and_keys(kg, tok, 11, seed=5)
    eos, pad = [tok.eos_token_id], tok.pad_token_id
    old = tokens(
        model, generation_args(decoding="generate", batch_size=4, temperature=temperature), prompts, keys, eos, pad
    )
    assert len({tuple(ids) for ids, _, _ in old}) > 1
    assert len(os.path.commonprefix(prompts)) >= MIN_SHARED  # the loop computes their shared start once per batch
    for batch_size, threads in ((3, 1), (16, 2), (1, 2)):  # batches of 1: nothing shared
        args = generation_args(batch_size=batch_size, cpu_threads=threads, temperature=temperature)
        assert tokens(model, args, prompts, keys, eos, pad) == old, (batch_size, threads)


def test_rows_that_end_early_leave_the_batch_and_the_others_unchanged(tiny, kg):
    """A frequent token as end-of-sequence: rows end at many different steps, so the loop drops them from its batch
    several times (`decode.COMPACT_SHARE`); every row still gets `generate`'s tokens."""
    from collections import Counter

    from medsyn_hf.generation.backends.decode import COMPACT_SHARE

    model, tok = tiny
    prompts, keys = prompts_and_keys(kg, tok, 24, seed=8)
    pad = tok.pad_token_id
    args = dict(batch_size=24, max_new_tokens=24)
    free = tokens(model, generation_args(**args), prompts, keys, [tok.eos_token_id], pad)
    rows_with = Counter(t for ids, _, _ in free for t in set(ids[1:]))
    eos = [rows_with.most_common(1)[0][0]]  # the token most rows write after their first one
    old = tokens(model, generation_args(decoding="generate", **args), prompts, keys, eos, pad)
    new = tokens(model, generation_args(cpu_threads=1, **args), prompts, keys, eos, pad)
    assert new == old
    ends = sorted(n for _, n, stopped in new if stopped)
    assert len(ends) >= 12 and len(set(ends)) >= 4, ends  # rows ended at several steps
    assert ends[24 // COMPACT_SHARE - 1] < max(n for _, n, _ in new)  # enough ended while others ran: dropped
    assert all(ids[-1] == eos[0] and eos[0] not in ids[:-1] for ids, _, stopped in new if stopped)


def test_packaged_writer_same_notes_on_both_paths(kg):
    """The packaged writer at the tiny recipe's sampling (temperature 0.3, top-k 50, top-p 0.95)."""
    from trl import ModelConfig

    from medsyn_hf.generation.backends import load_model, make_backend, row_key
    from medsyn_hf.priors import sample_priors
    from medsyn_hf.tiny_model import resolve_model

    model_args = ModelConfig(model_name_or_path=resolve_model("medsyn-tiny"), dtype="float32")
    loaded = load_model(model_args, "cpu")
    priors = sample_priors(kg, 10, seed=11, example_p=0.5)
    messages, keys = [list(m) for m in priors["messages"]], [row_key(0, s) for s in priors["seed"]]

    def notes(**kw):
        args = generation_args(max_new_tokens=40, temperature=0.3, **kw)
        return make_backend(args, model_args, model_and_tokenizer=loaded).generate(messages, keys)

    old = notes(decoding="generate", batch_size=38)
    assert notes(batch_size=128, cpu_threads=2) == old
    assert len({c.text for c in old}) == len(old)


def test_a_run_writes_the_same_notes_on_both_paths(tmp_path, tiny_model_dir):
    """Several shards in one loop call (the CPU path plans batches across shards), two threads, the last shard short;
    the decoding path is a speed setting: the same run id."""
    from medsyn_hf.generation.backends.transformers import POOL_BATCHES
    from medsyn_hf.generation.run import shard_groups

    common = dict(num_priors=10, shard_size=3, max_new_tokens=10, temperature=1.0, example_p=0.5)
    old = run_inprocess(
        write_config(tmp_path / "old.yaml", tiny_model_dir, tmp_path / "old", decoding="generate", **common)
    )
    new = run_inprocess(
        write_config(tmp_path / "new.yaml", tiny_model_dir, tmp_path / "new", cpu_threads=2, batch_size=4, **common)
    )
    assert old["run_dir"].split("/")[-1] == new["run_dir"].split("/")[-1]
    assert notes_table(new["run_dir"]) == notes_table(old["run_dir"])
    ranges = [range(0, 3), range(3, 6), range(6, 9), range(9, 10)]
    assert shard_groups(4, ranges, POOL_BATCHES * 4) == [[0, 1, 2, 3]]
    assert shard_groups(4, ranges, 5) == [[0, 1], [2, 3]]
    assert shard_groups(4, ranges, None) == [[0], [1], [2], [3]]


def test_a_failing_batch_stops_the_others_and_is_raised():
    import torch

    from medsyn_hf.generation.backends.decode import run_batches

    threads = torch.get_num_threads()

    def work(batch):
        if batch == 3:
            raise MedsynError("batch 3 failed")
        return batch * 10

    assert sorted(run_batches([1, 2, 4], work, threads=2)) == [(0, 10), (1, 20), (2, 40)]
    with pytest.raises(MedsynError, match="batch 3 failed"):
        list(run_batches([1, 2, 3, 4, 5, 6], work, threads=2))
    assert torch.get_num_threads() == threads  # restored


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--decoding", "fast"], "decoding: 'fast' is not one of auto, generate"),
        (["--cpu_threads", "0"], "cpu_threads"),
    ],
)
def test_bad_decoding_settings_are_one_line_errors(tmp_path, capsys, flag, message):
    from medsyn_hf.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"model_name_or_path: x\noutput_dir: {tmp_path / 'out'}\n")
    assert main(["generate", "--config", str(config), *flag]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_only_the_batches_holding_a_needed_prompt_are_decoded(tiny, kg):
    """What a resumed run asks: its batches are planned over every prompt, as in the uninterrupted run."""
    from medsyn_hf.generation.backends.decode import plan_batches
    from medsyn_hf.generation.backends.transformers import token_generator

    model, tok = tiny
    prompts, keys = prompts_and_keys(kg, tok, 11, seed=5)
    generate = token_generator(
        model, generation_args(batch_size=3, cpu_threads=2), [tok.eos_token_id], tok.pad_token_id
    )
    full = generate(prompts, keys)
    batches = plan_batches([len(p) for p in prompts], 3)
    assert len(batches) >= 4
    part = generate(prompts, keys, needed={batches[1][-1], batches[-1][0]})
    decoded = {i for i, result in enumerate(part) if result is not None}
    assert decoded == set(batches[1]) | set(batches[-1])
    assert all(part[i][0].tolist() == full[i][0].tolist() and part[i][1:] == full[i][1:] for i in decoded)


def test_a_resumed_run_decodes_its_missing_notes_in_their_batches(tmp_path, tiny_model_dir, caplog):
    """A shard lost and a cached reply lost in another: the re-run decodes the batches that held them (the group's
    other shards, already written, are read from their caches) and writes the uninterrupted run's notes."""
    import json

    config = write_config(
        tmp_path / "c.yaml",
        tiny_model_dir,
        tmp_path / "runs",
        num_priors=10,
        shard_size=3,
        batch_size=2,
        example_p=0.5,
    )
    first = run_inprocess(config)
    reference = notes_table(first["run_dir"])
    run_dir = tmp_path / "runs" / os.path.basename(first["run_dir"])
    (run_dir / "shards" / "shard-00001.parquet").unlink()
    (run_dir / "shards" / "shard-00002.parquet").unlink()
    cache = run_dir / "requests" / "shard-00002.jsonl"
    lines = cache.read_text(encoding="utf-8").splitlines(keepends=True)
    cache.write_text("".join(lines[1:]), encoding="utf-8")  # one reply of shard 2 lost
    (run_dir / "requests" / "shard-00001.jsonl").unlink()  # all of shard 1's
    (run_dir / "notes.parquet").unlink()
    with caplog.at_level("INFO", logger="medsyn_hf.generation.run"):
        again = run_inprocess(config)
    assert again["run_dir"] == first["run_dir"] and "4 shards, 2 to do" in caplog.text
    assert notes_table(run_dir) == reference
    assert len(cache.read_text(encoding="utf-8").splitlines()) == 3
    assert {json.loads(line)["key"] for line in lines} == {
        json.loads(line)["key"] for line in cache.read_text(encoding="utf-8").splitlines()
    }
