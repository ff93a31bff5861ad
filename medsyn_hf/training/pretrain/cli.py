"""`medsyn tiny-model`: the random-init tiny model (``medsyn_hf.tiny_model.build``), or with --pretrain the packaged
writer (``pretrain``); one command, as both write the same kind of folder from the same sources."""

from __future__ import annotations

import json

from medsyn_hf import tiny_model
from medsyn_hf.tiny_model import DEFAULT_SOURCES, WRITER_NAME
from medsyn_hf.training.pretrain.config import PretrainConfig
from medsyn_hf.training.pretrain.run import pretrain

# PretrainConfig fields that are --pretrain flags of their own (vocab size, seed, bf16 and the complaints line are set
# apart: the first two serve the random-init build too)
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


def _run(args) -> None:
    if args.pretrain:
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
        out = tiny_model.build(args.out, args.sources, args.vocab_size, args.seed, overwrite=args.overwrite)
    if args.json:
        print(json.dumps({"out": str(out)}))
    else:
        print(f"tiny model written to {out}")


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "tiny-model",
        description=tiny_model.__doc__.split("\n\n")[0].replace("\n", " "),
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
        "--sources",
        default=str(DEFAULT_SOURCES),
        help="folder laid out like data/sources (default: %(default)s)",
    )
    p.add_argument("--vocab-size", type=int, default=8000, help="BPE vocabulary size (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    pre = p.add_argument_group(
        "--pretrain: the packaged writer (medsyn_hf/training/pretrain/; defaults in its config.py)"
    )
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
