"""Tiny LLaMA-architecture models with a BPE tokenizer trained on our Russian corpus, the CPU stand-ins for
LLaMA-2-7B: a random-init one (`medsyn tiny-model`, the tests' fixture and the demo's fallback when no writer is
packaged) and the packaged pretrained writer `medsyn-tiny` (`medsyn tiny-model --pretrain`), the model of the demo,
the Space and `recipes/tiny`. Nothing is downloaded. The tokenizer and the random-init weights are deterministic for
given sources and seed, so two builds give the same files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.io import check_output, safe_output
from medsyn_hf.kg.sources import jsonl_records
from medsyn_hf.validate import check_range

DEFAULT_SOURCES = Path(__file__).resolve().parents[1] / "data" / "sources"
COMMAND = "medsyn tiny-model"
MIN_VOCAB, MAX_VOCAB = 300, 262_144  # the byte alphabet and 4 special tokens take 260; above: no use for a 7M model
NOTES = Path("medsyn_gpt_notes") / "notes.jsonl.gz"
COMPLAINTS = Path("rumedtop3") / "train_v1.jsonl"  # never dev: the evaluation must not see text we trained on
# The pretrained writers shipped with the package (`medsyn tiny-model --pretrain`), each named in configs by its
# folder's name (`resolve_model` turns the name into the folder). WRITER_NAME: the default base of the tiny recipes,
# the demo and the Space. COMPLAINTS_WRITER_NAME: the same writer after a complaint-writing stage (its card), the
# model of recipes/tiny/generate/config_complaints.yaml; not the default, as its ordinary notes are slightly worse.
WRITER_NAME = "medsyn-tiny"
COMPLAINTS_WRITER_NAME = "medsyn-tiny-complaints"
PACKAGED_WRITERS = {
    name: Path(__file__).resolve().parent / "resources" / name for name in (WRITER_NAME, COMPLAINTS_WRITER_NAME)
}
WRITER_DIR = PACKAGED_WRITERS[WRITER_NAME]
PRETRAIN_ARGS = (
    "steps",
    "batch_size",
    "seq_len",
    "lr",
    "warmup",
    "task_share",
    "limit",
    "val_rows",
    "log_every",
    "save_every",
    "threads",
    "stop_after",
    "copy_weight",
    "init",
    "complaint_share",
    "complaint_val_rows",
)

PAD, BOS, IM_START, EOS = "<pad>", "<s>", "<|im_start|>", "<|im_end|>"
# ChatML: the assistant turn ends with the eos token, so a model trained on completions learns to stop.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MODEL_SHAPE = dict(
    hidden_size=256,
    intermediate_size=688,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=1024,
)


def resolve_model(name_or_path: str | None) -> str | None:
    """A packaged writer's name (PACKAGED_WRITERS) means its folder unless a local folder of that name exists;
    anything else is unchanged."""
    if name_or_path in PACKAGED_WRITERS and not Path(name_or_path).exists():
        return str(PACKAGED_WRITERS[name_or_path])
    return name_or_path


def packaged_names() -> dict[Path, str]:
    """{folder: name} of the packaged writers: how anything published names them (``provenance.public_name``)."""
    return {folder: name for name, folder in PACKAGED_WRITERS.items()}


def corpus(sources: str | Path) -> Iterator[str]:
    """MedSyn GPT notes (responses and prompts) and RuMedTop3 train complaints, in file order."""
    sources = Path(sources)
    missing = [str(sources / p) for p in (NOTES, COMPLAINTS) if not (sources / p).is_file()]
    if missing:
        raise MedsynError(
            f"tiny-model sources not found: {', '.join(missing)} (pass --sources DIR, a copy of data/sources)"
        )
    for note in jsonl_records(sources / NOTES, {"response": str, "prompt": str}):
        yield note["response"]
        yield note["prompt"].strip()
    for complaint in jsonl_records(sources / COMPLAINTS, {"symptoms": str}):
        yield complaint["symptoms"]


def train_tokenizer(texts: Iterator[str], vocab_size: int = 8000):
    """Byte-level BPE (no unknown tokens) wrapped as a PreTrainedTokenizerFast with a distinct pad token."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, IM_START, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=MODEL_SHAPE["max_position_embeddings"],
    )


def build_model(tokenizer, seed: int = 0):
    """A LlamaForCausalLM of a few million parameters, randomly initialised from `seed`."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    ids = dict(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    config = LlamaConfig(vocab_size=len(tokenizer), tie_word_embeddings=False, **MODEL_SHAPE, **ids)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(**ids)
    return model


def build(
    out: str | Path,
    sources: str | Path = DEFAULT_SOURCES,
    vocab_size: int = 8000,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write tokenizer + model to `out` atomically; loadable with AutoTokenizer/AutoModelForCausalLM.

    `out` is checked first (``medsyn_hf.io.safe_output``): never the sources, and an existing folder only if an
    earlier `medsyn tiny-model` wrote it (or ``overwrite``)."""
    check_range("vocab_size", vocab_size, MIN_VOCAB, MAX_VOCAB, allowed=f"{MIN_VOCAB}..{MAX_VOCAB}")
    output = dict(command=COMMAND, inputs=[sources], overwrite=overwrite)
    check_output(out, **output)
    try:
        tokenizer = train_tokenizer(corpus(sources), vocab_size)
    except (OSError, EOFError, UnicodeDecodeError, ValueError, KeyError) as err:  # a truncated or foreign file
        raise MedsynError(
            f"{sources}: unreadable tiny-model sources ({type(err).__name__}: {first_line(err)})"
        ) from None
    model = build_model(tokenizer, seed)
    with safe_output(out, **output) as tmp:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
    return Path(out)


def _run(args) -> None:
    if args.pretrain:
        from medsyn_hf.training.pretrain import PretrainConfig, pretrain

        cfg = PretrainConfig(
            **{k: getattr(args, k) for k in PRETRAIN_ARGS if getattr(args, k) is not None},
            vocab_size=args.vocab_size,
            seed=args.seed,
            bf16=args.bf16,
            complaints_line=args.complaints_line,
        )
        log = (lambda line: None) if args.json else print
        out = pretrain(
            args.out, args.sources, cfg, overwrite=args.overwrite, checkpoint_dir=args.checkpoint_dir, log=log
        )
    else:
        out = build(args.out, args.sources, args.vocab_size, args.seed, overwrite=args.overwrite)
    if args.json:
        print(json.dumps({"out": str(out)}))
    else:
        print(f"tiny model written to {out}")


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "tiny-model",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        help=f"build a tiny random-init LLaMA + Russian BPE tokenizer (a test fixture; the demo's and "
        f"recipes/tiny's model is the packaged writer {WRITER_NAME}), or with --pretrain pretrain that writer",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output folder (replaced atomically; an existing one only if this command wrote it, or with --overwrite)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder this command did not write")
    p.add_argument(
        "--sources", default=str(DEFAULT_SOURCES), help="folder laid out like data/sources (default: %(default)s)"
    )
    p.add_argument("--vocab-size", type=int, default=8000, help="BPE vocabulary size (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    pre = p.add_argument_group("--pretrain: the packaged writer (medsyn_hf/training/pretrain.py; defaults there)")
    pre.add_argument(
        "--pretrain",
        action="store_true",
        help=f"pretrain the {WRITER_NAME} writer instead of a "
        "random-init model (about an hour on 2 CPU cores at the defaults)",
    )
    for name, kind, text in (
        ("steps", int, "optimizer steps"),
        ("batch_size", int, "sequences per step"),
        ("seq_len", int, "tokens per sequence"),
        ("lr", float, "peak learning rate"),
        ("warmup", int, "warm-up steps"),
        ("task_share", float, "share of note-writing batches"),
        ("limit", int, "at most this many rows per source (a quick scaled-down build)"),
        ("val_rows", int, "held-out note-writing rows"),
        ("log_every", int, "steps per log row"),
        ("save_every", int, "steps per checkpoint"),
        ("threads", int, "torch CPU threads"),
        ("stop_after", int, "end after this many steps of the --steps schedule"),
        ("copy_weight", float, "loss weight of note tokens that repeat the prompt's own words"),
        (
            "init",
            str,
            "continue from this writer folder or packaged writer (medsyn-tiny): a further stage, its tokenizer and "
            "weights",
        ),
        (
            "complaint_share",
            float,
            "share of the task batches that write a RuMedTop3 train complaint from the "
            "complaints template (default: 0)",
        ),
        (
            "complaint_val_rows",
            int,
            "RuMedTop3 train complaints held out of the whole run for validation (default: 0)",
        ),
    ):
        pre.add_argument("--" + name.replace("_", "-"), type=kind, help=text)
    pre.add_argument(
        "--complaints-line",
        action="store_true",
        help="note-writing targets open with the usual "
        "«Жалобы: ...» line naming the prompted symptoms (unless the note opens with its complaints)",
    )
    pre.add_argument("--bf16", action="store_true", help="bf16 autocast (default: float32, as fast on our CPU)")
    pre.add_argument("--checkpoint-dir", help="also write a loadable partial model here every --save-every steps")
    p.set_defaults(func=_run)
