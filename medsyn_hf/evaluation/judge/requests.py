"""Asking the judge: a seed per (prompt, attempt), retries after malformed replies, and the request cache that makes
a re-run send only what it has no reply for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from medsyn_hf.evaluation.judge.prompt import parse_reply
from medsyn_hf.request_cache import append_cache, read_cache, request_key

CACHE_FILE = "requests.jsonl"


def request_seed(seed: int, messages: list[dict], attempt: int) -> int:
    """A 31-bit seed per (run seed, prompt, attempt): a retry is a new draw, a re-run the same one."""
    text = json.dumps([seed, attempt, messages], ensure_ascii=False, sort_keys=True)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little") >> 1


def judge_messages(
    messages_list: list[list[dict]],
    make_generate,
    identity: dict,
    seed: int,
    max_retries: int,
    cache_path: Path,
    chunk_size: int = 64,
    progress=None,
) -> tuple[list, list[int], dict]:
    """Ask every prompt until a valid reply, at most ``1 + max_retries`` times; returns per prompt the parsed scores
    (None: missing) and the attempts made, and the number of requests sent and answered from the cache.

    ``make_generate()`` builds the backend (its ``generate(messages_list, seeds, on_batch)``) only when a request is
    due; each reply is appended to the cache as it arrives."""
    cache = read_cache(cache_path)
    results, attempts = [None] * len(messages_list), [0] * len(messages_list)
    pending, generate, sent, asked = list(range(len(messages_list))), None, 0, 0
    for attempt in range(max_retries + 1):
        if not pending:
            break
        seeds = {i: request_seed(seed, messages_list[i], attempt) for i in pending}
        keys = {i: request_key(identity, messages_list[i], seeds[i]) for i in pending}
        todo = list({keys[i]: i for i in pending if keys[i] not in cache}.values())  # identical requests once
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            generate = generate or make_generate()

            def store(done: dict, chunk=chunk, keys=keys, seeds=seeds) -> None:  # as replies arrive
                records = [
                    {
                        "key": keys[i],
                        "seed": seeds[i],
                        "text": c.text,
                        "finish_reason": c.finish_reason,
                        "completion_tokens": c.completion_tokens,
                    }
                    for i, c in ((chunk[j], c) for j, c in done.items())
                    if keys[i] not in cache
                ]
                append_cache(cache_path, records)
                cache.update((r["key"], r) for r in records)
                if progress:
                    progress(len(records))

            store(dict(enumerate(generate([messages_list[i] for i in chunk], [seeds[i] for i in chunk], store))))
            sent += len(chunk)
        for i in pending:
            attempts[i] += 1
            results[i] = parse_reply(cache[keys[i]]["text"])
        asked += len(pending)
        pending = [i for i in pending if results[i] is None]
    return results, attempts, {"requests": sent, "cached": asked - sent}
