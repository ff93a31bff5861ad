"""``pretrain``: one pretraining run from the sources to the model folder (tokenizer, mix, loop, card), written
atomically, with partial checkpoints meanwhile; a further stage (``--init``) keeps the earlier stages' cards."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.io import check_output, safe_output
from medsyn_hf.tiny_model import COMMAND, corpus, train_tokenizer
from medsyn_hf.training.pretrain.card import card_command, writer_card
from medsyn_hf.training.pretrain.config import PretrainConfig
from medsyn_hf.training.pretrain.data import encode_mix, load_mix
from medsyn_hf.training.pretrain.loop import train


def save(model, tokenizer, folder: Path, card: str, curve: list[dict]) -> None:
    """The model in bf16 safetensors, its tokenizer, card and loss curve (JSON, and a PNG when matplotlib is there)."""
    import torch  # heavy: only once a run has a model to save (`medsyn tiny-model` imports this module)

    tokenizer.save_pretrained(folder)
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    model.to(torch.float32)
    (folder / "README.md").write_text(card, encoding="utf-8")
    (folder / "loss_curve.json").write_text(json.dumps(curve, indent=1) + "\n", encoding="utf-8")
    _plot(curve, folder / "loss_curve.png")


def _plot(curve: list[dict], path: Path) -> None:
    """A small PNG of the losses when matplotlib is installed (it is optional: the card carries the table)."""
    try:  # optional dependency
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    for key, label in (
        ("lm_loss", "LM blocks"),
        ("task_loss", "note writing"),
        ("val_loss", "held-out notes"),
        ("complaint_loss", "complaint writing"),
        ("complaint_val_loss", "held-out complaints"),
    ):
        points = [(r["step"], r[key]) for r in curve if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pretrain(out, sources, cfg: PretrainConfig, *, overwrite: bool = False, checkpoint_dir=None, log=print) -> Path:
    """Tokenizer + pretraining + card into ``out`` (atomically); partial models into ``checkpoint_dir`` meanwhile."""
    cfg.check()
    sources = Path(sources)
    # --init is read, never replaced: neither output may be it (even though this command wrote it)
    output = dict(command=COMMAND, inputs=[sources, *([cfg.init] if cfg.init else [])], overwrite=overwrite)
    check_output(out, **output)
    if checkpoint_dir:
        check_output(checkpoint_dir, **{**output, "inputs": [*output["inputs"], out]})
    command = card_command(out, sources, cfg)
    try:
        if cfg.init:  # a second stage keeps the first one's vocabulary
            from transformers import AutoTokenizer  # heavy: only when a run starts

            tokenizer = AutoTokenizer.from_pretrained(cfg.init)
            cfg.vocab_size = len(tokenizer)
        else:
            tokenizer = train_tokenizer(islice(corpus(sources), cfg.limit), cfg.vocab_size)
        mix = load_mix(sources, cfg.limit, cfg.seed, cfg.val_rows, cfg.complaints_line, cfg.complaint_val_rows)
    except (OSError, EOFError, UnicodeDecodeError, ValueError, KeyError) as err:
        raise MedsynError(
            f"{sources}: unreadable tiny-model sources ({type(err).__name__}: {first_line(err)})"
        ) from None
    complaints = cfg.complaint_share > 0 or cfg.complaint_val_rows > 0
    blocks, rows, counts = encode_mix(tokenizer, mix, cfg.seq_len, cfg.seed, complaints)
    log(json.dumps({"lm_blocks": len(blocks), "mix": counts}))

    # this run's stage: one more than the cards the init keeps of its own earlier stages (each stage keeps them all)
    stage = len(list(Path(cfg.init).glob("README_stage*.md"))) + 2 if cfg.init else 1

    def card(model, curve, tps, final):
        n_params = sum(p.numel() for p in model.parameters())
        return writer_card(cfg, counts, mix.report, curve, tps, command, n_params, final, stage)

    def checkpoint(model, curve, tps):
        with safe_output(checkpoint_dir, **{**output, "overwrite": True}) as tmp:
            save(model, tokenizer, Path(tmp), card(model, curve, tps, False), curve)

    model, curve, tps = train(tokenizer, blocks, rows, cfg, checkpoint if checkpoint_dir else None, log)
    with safe_output(out, **output) as tmp:
        save(model, tokenizer, Path(tmp), card(model, curve, tps, True), curve)
        if cfg.init:  # the earlier stages' cards and curves: the init's own, then its own stage's as the next
            init = Path(cfg.init)
            earlier = sorted(init.glob("README_stage*.md")) + sorted(init.glob("loss_curve_stage*.json"))
            for path in earlier:
                (Path(tmp) / path.name).write_bytes(path.read_bytes())
            for name, kept in (
                ("README.md", f"README_stage{stage - 1}.md"),
                ("loss_curve.json", f"loss_curve_stage{stage - 1}.json"),
            ):
                if (init / name).is_file():
                    (Path(tmp) / kept).write_bytes((init / name).read_bytes())
    return Path(out)
