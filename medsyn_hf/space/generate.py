"""The Generate tab: a note for a prior, streamed as it grows, then its prompted symptoms highlighted and the filters'
scores.

The note is the generation backend's: the in-process transformers backend of `medsyn generate`, with the recipe's
sampling (``GenerationArguments``: top-k 50, top-p 0.95) and its per-row key ``row_key(seed, prior seed)``. So the
note for seed s is, token for token, the one `medsyn generate` with ``seed: s`` writes for that prior. The backend has
no streaming of its own: the model it is given adds transformers' ``TextIteratorStreamer`` to its ``generate``
calls, and the text shown last is the backend's own completion.
"""

from __future__ import annotations

import threading

from medsyn_hf.errors import MedsynError
from medsyn_hf.filters import FilterConfig, note_scores, symptoms_present
from medsyn_hf.generation.backends import make_backend, row_key
from medsyn_hf.generation.config import GenerationArguments
from medsyn_hf.highlight import segments, symptom_spans
from medsyn_hf.prompts import render_messages
from medsyn_hf.space.config import Config
from medsyn_hf.space.inputs import MAX_NEW_TOKENS, MAX_PROMPT_CHARS, MAX_SEED, TEMPERATURE, number, parse_prior
from medsyn_hf.space.models import load_model, loadable, model_args


class StreamingModel:
    """A model whose ``generate`` calls also feed ``streamer`` (one prompt at a time); everything else is the model's,
    so the backend that drives it sets its generation config and sampler as it does for any model."""

    def __init__(self, model, streamer):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_streamer", streamer)

    def generate(self, *args, **kwargs):
        return self._model.generate(*args, streamer=self._streamer, **kwargs)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __setattr__(self, name, value):
        setattr(self._model, name, value)


def generation_args(temperature: float, max_new_tokens: int, seed: int):
    """`medsyn generate`'s sampling arguments (the recipe's defaults for everything the tab does not set); decoded by
    `generate`, whose calls `StreamingModel` feeds to the streamer (the CPU loop writes the same note)."""
    return GenerationArguments(
        backend="transformers",
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        seed=seed,
        batch_size=1,
        decoding="generate",
    )


def stream_note(
    path: str,
    base: str | None,
    messages: list[dict],
    temperature: float,
    max_new_tokens: int,
    seed: int,
    prior_seed: int,
):
    """Yield the note as it grows (stripped as the backend strips it); the last one is the backend's completion."""
    from transformers import TextIteratorStreamer

    model, tokenizer = load_model(path, base)
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)[
        "input_ids"
    ]
    room = model.config.max_position_embeddings - len(prompt)
    if room < 1:
        raise MedsynError(f"the prompt ({len(prompt)} tokens) fills the model's whole context")
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    gen_args = generation_args(temperature, min(max_new_tokens, room), seed)
    backend = make_backend(
        gen_args,
        model_args(path, base),
        model.device,
        model_and_tokenizer=(StreamingModel(model, streamer), tokenizer),
    )
    done, failed = [], []

    def run():
        try:
            done.extend(backend.generate([messages], [row_key(seed, prior_seed)]))
        except Exception as err:  # re-raised in the request's thread below
            failed.append(err)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    note = ""
    for piece in streamer:
        note += piece
        yield note.strip()
    worker.join()
    if failed:
        raise failed[0]
    yield done[0].text


def note_checks(note: str, prior: dict):
    """Highlighted prompted symptoms, and the filters' own scores of the note (``medsyn_hf.filters.note_scores`` with
    the default thresholds): symptom recall with the symptoms found and missing, and the copy ratio."""
    config = FilterConfig()
    scores = note_scores(note, prior["symptoms"], prior.get("example"), config)
    found = symptoms_present(note, prior["symptoms"], config.symptom_match_share)
    checks = {
        "symptom_recall": scores["symptom_recall"],
        "found": [s for s, hit in zip(prior["symptoms"], found) if hit],
        "missing": [s for s, hit in zip(prior["symptoms"], found) if not hit],
        "copy_ratio": scores["copy_ratio"],
    }
    return segments(note, symptom_spans(note, prior["symptoms"], config.symptom_match_share)), checks


def generate(config: Config, prior: str, model: str, temperature, max_new_tokens, seed, stream=stream_note):
    """Stream a note for the prior, then highlight the prompted symptoms it mentions and report recall and copying.
    ``stream``: `stream_note`, or it wrapped (the app lends it a GPU on a ZeroGPU Space)."""
    prior = parse_prior(prior)
    messages = render_messages(prior, prior["template"])
    size = sum(len(m["content"]) for m in messages)
    if size > MAX_PROMPT_CHARS:
        raise MedsynError(f"the prompt is too long ({size} characters; at most {MAX_PROMPT_CHARS})")
    temperature = number(temperature, "temperature", *TEMPERATURE)
    max_new_tokens = number(max_new_tokens, "max new tokens", 1, MAX_NEW_TOKENS, integer=True)
    seed = number(seed, "seed", 0, MAX_SEED, integer=True)
    note = ""
    for note in stream(*loadable(config, model), messages, temperature, max_new_tokens, seed, prior["seed"]):
        yield note, None, None
    yield note, *note_checks(note, prior)
