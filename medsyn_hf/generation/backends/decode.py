"""The CPU decoding loop of the transformers backend: the model's own forward, driven with as little per-token work as
possible around it.

Why not ``generate`` on CPU: for a small model (the packaged 5M-parameter writer) a decoding step is a few
milliseconds of arithmetic, and `generate` with its default dynamic cache spent most of each step copying the whole
KV cache (`torch.cat` per layer and step), kept finished rows in the batch, and padded every prompt of a batch to the
longest. Here:

- the KV cache is allocated once per batch (`GrowingLayer`: a buffer of prompt + ``max_new_tokens`` positions; the
  attention reads a view of its filled part, as long as the dynamic cache's tensor);
- batches are planned over many prompts at once (`plan_batches`: longest first, each batch's prompts within a quarter
  of its longest one's length), so little of a batch is padding;
- the start a batch's prompts share (system prompt and instructions: 76 of the tiny recipe's ~180 prompt tokens) is
  computed once and copied to every row, which then holds [shared start][padding][rest of its prompt];
- rows that ended are dropped from the batch (`decode_batch`, a few at a time: each drop copies the cache);
- batches run on one Python thread per core with one torch thread each (`run_batches`): torch releases the GIL in
  its kernels, and a model this small gains nothing from splitting one matrix product over cores.

The arithmetic is the same as `generate`'s: the same forward on the same tokens at the same positions (from the
attention mask, as `generate` computes them; padding is masked wherever it sits), the logits of the last position in
float32, the same per-row sampler. A row's note is therefore the one `generate` writes for it, but for float rounding:
a matrix product over another batch composition may round differently (in either path; ~1e-6 of a logit), which
changes a token only at a near-tie of two candidates or a uniform number that close to a boundary of the cumulative
distribution: 1 of 1,000 tiny-recipe notes differed from `generate`'s (`tests/test_decode.py` compares small runs;
`benchmarks/cpu_generation.py` counts identical notes). Batches are a function of the prompts passed (and
``batch_size``), never of the thread count or which thread runs them.
"""

from __future__ import annotations

import functools
import inspect
import os
import queue
import threading
from collections.abc import Callable, Iterator

PADDING_SLACK = 0.25  # a batch's prompts are at least 3/4 as long as its longest one
COMPACT_SHARE = 8  # ended rows are dropped once they are 1/8 of the batch (a drop copies the whole cache)
MIN_SHARED = 16  # a batch's prompts that start with as many tokens in common (system prompt, template) share them


@functools.cache
def growing_layer():
    """The `GrowingLayer` class (built on first use: torch and transformers are imported lazily, as in the backend)."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A dynamic cache layer without the per-step copy: one buffer of ``capacity`` positions, written in place;
        keys and values are views of its filled part (what `DynamicLayer` would hold after its `torch.cat`)."""

        def __init__(self, capacity: int):
            super().__init__()
            self.capacity, self.length = capacity, 0

        def lazy_initialization(self, key_states, value_states) -> None:
            batch, heads = key_states.shape[:2]
            self.key_buffer = key_states.new_empty((batch, heads, self.capacity, key_states.shape[-1]))
            self.value_buffer = value_states.new_empty((batch, heads, self.capacity, value_states.shape[-1]))
            self.device, self.is_initialized = key_states.device, True

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            self.key_buffer[:, :, self.length : end] = key_states
            self.value_buffer[:, :, self.length : end] = value_states
            self.length = end
            self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
            return self.keys, self.values

        def batch_select_indices(self, indices) -> None:
            self.key_buffer, self.value_buffer = self.key_buffer[indices], self.value_buffer[indices]
            self.keys, self.values = self.key_buffer[:, :, : self.length], self.value_buffer[:, :, : self.length]

    return GrowingLayer


def supports_model(model) -> bool:
    """The loop drives models whose default cache is one full-attention `DynamicLayer` per layer (LLaMA, Qwen2,
    ...) and whose forward takes ``logits_to_keep``; others (sliding windows, linear attention) keep `generate`."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    layers = DynamicCache(config=model.config).layers
    params = inspect.signature(model.forward).parameters
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers) and "logits_to_keep" in params


def plan_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Positions of ``lengths`` in batches: longest first (so an out-of-memory error shows at once), at most
    ``batch_size`` per batch, each prompt at least (1 - PADDING_SLACK) times its batch's longest."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for i in order:
        batch = batches[-1] if batches else None
        if batch and len(batch) < batch_size and lengths[i] >= (1 - PADDING_SLACK) * lengths[batch[0]]:
            batch.append(i)
        else:
            batches.append([i])
    return batches


def default_threads() -> int:
    """One decoding thread per core this process may use, shared among the processes of an `accelerate launch`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def decode_batch(
    model, prompts: list[list[int]], keys, sample: Callable, eos: list[int], pad: int, max_new_tokens: int
):
    """``[(generated ids, n_tokens, stopped)]`` for left-padded ``prompts``; ``sample(scores, keys, step)`` draws a
    token per row. A row ends at its first end-of-sequence token (included) or after ``max_new_tokens``."""
    import torch

    with torch.inference_mode():
        return _decode(model, prompts, keys, sample, eos, pad, max_new_tokens)


def _decode(model, prompts, keys, sample, eos, pad, max_new_tokens):
    import torch
    from transformers.cache_utils import Cache

    batch, length = len(prompts), max(map(len, prompts))
    total = length + max_new_tokens
    shared = min(len(os.path.commonprefix(prompts)), min(map(len, prompts)) - 1) if batch > 1 else 0
    shared = shared if shared >= MIN_SHARED else 0
    # each row: the prompts' shared start, its padding, the rest of its prompt (without a shared start: left padding)
    input_ids = torch.full((batch, length), pad, dtype=torch.long)
    mask = torch.ones((batch, total), dtype=torch.long)  # the attention mask of every step: a view of its prefix
    input_ids[:, :shared] = torch.tensor(prompts[0][:shared])
    for row, prompt in enumerate(prompts):
        start = length - len(prompt) + shared
        input_ids[row, start:] = torch.tensor(prompt[shared:])
        mask[row, shared:start] = 0
    positions = (mask[:, :length].cumsum(-1) - 1).masked_fill(mask[:, :length] == 0, 0)  # as `generate`
    layers = model.config.get_text_config().num_hidden_layers
    cache = Cache(layers=[growing_layer()(total) for _ in range(layers)])
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    if shared:  # computed once, copied to every row
        start = Cache(layers=[growing_layer()(shared) for _ in range(layers)])
        model(
            input_ids=input_ids[:1, :shared],
            attention_mask=mask[:1, :shared],
            position_ids=positions[:1, :shared],
            logits_to_keep=1,
            use_cache=True,
            **{cache_arg: start},
        )
        for layer, part in zip(cache.layers, start.layers):
            layer.update(part.keys.expand(batch, -1, -1, -1), part.values.expand(batch, -1, -1, -1))
    eos_ids = torch.tensor(eos)
    tokens = torch.full((batch, max_new_tokens), pad, dtype=torch.long)
    n_tokens = torch.full((batch,), max_new_tokens)
    rows = torch.arange(batch)  # the original row of each row still in the batch
    ended = torch.zeros(batch, dtype=torch.bool)  # of the rows in the batch
    keys = torch.as_tensor(keys)
    out = model(
        input_ids=input_ids[:, shared:],
        attention_mask=mask[:, :length],
        position_ids=positions[:, shared:],
        logits_to_keep=1,
        use_cache=True,
        **{cache_arg: cache},
    )
    position = positions[:, -1:] + 1
    for step in range(max_new_tokens):
        token = sample(out.logits[:, -1, :].to(copy=True, dtype=torch.float32), keys[rows], step)
        live = ~ended
        tokens[rows[live], step] = token[live]
        stop = live & torch.isin(token, eos_ids)
        if step == max_new_tokens - 1:
            break
        if stop.any():
            n_tokens[rows[stop]] = step + 1
            ended |= stop
            if ended.all():
                break
            if int(ended.sum()) * COMPACT_SHARE >= len(rows):
                keep = (~ended).nonzero().squeeze(1)
                rows, token, position, mask, ended = rows[keep], token[keep], position[keep], mask[keep], ended[keep]
                for layer in cache.layers:
                    layer.batch_select_indices(keep)
        out = model(
            input_ids=token[:, None],
            attention_mask=mask[:, : length + step + 1],
            position_ids=position,
            logits_to_keep=1,
            use_cache=True,
            **{cache_arg: cache},
        )
        position = position + 1
    stopped = n_tokens < max_new_tokens
    last = tokens[torch.arange(batch), n_tokens - 1]
    stopped |= torch.isin(last, eos_ids)
    return [(tokens[row, : int(n_tokens[row])], int(n_tokens[row]), bool(stopped[row])) for row in range(batch)]


def run_batches(batches: list, work: Callable, threads: int) -> Iterator[tuple[int, object]]:
    """``(batch index, work(batch))`` as batches finish, ``threads`` at a time (one torch thread each while more than
    one runs). Yields in the calling thread, so what the caller does with a result (writing a cache) needs no lock;
    the first error stops the rest and is raised here."""
    threads = max(1, min(threads, len(batches)))
    if threads == 1:
        for index, batch in enumerate(batches):
            yield index, work(batch)
        return
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in enumerate(batches):
        todo.put(item)
    done: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                index, batch = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((index, work(batch), None))
            except BaseException as err:  # handed to the caller's thread
                done.put((index, None, err))
                return

    import torch

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = [threading.Thread(target=worker, daemon=True, name=f"decode-{k}") for k in range(threads)]
    interrupted = False
    try:
        for thread in pool:
            thread.start()
        for _ in batches:
            index, result, err = done.get()
            if err is not None:
                raise err
            yield index, result
    except KeyboardInterrupt:  # the process is ending: its daemon threads need not finish their batch
        interrupted = True
        raise
    finally:
        stop.set()
        for thread in pool if not interrupted else ():
            thread.join()
        torch.set_num_threads(torch_threads)
