"""The training loop of a pretraining run: right-padded task batches, the warm-up + cosine schedule, the
(copy-weighted) next-token loss, the validation loss and ``train``, the seeded loop over ``encode_mix``'s blocks and
task rows.

torch and transformers are imported in the functions that use them: `medsyn --help` and `medsyn tiny-model` without
--pretrain import this module (through the command's) and must not load them.
"""

from __future__ import annotations

import json
import math
import random
import time

from medsyn_hf.tiny_model import build_model
from medsyn_hf.training.pretrain.config import PretrainConfig

IGNORE = -100


def task_batch(rows: list, pad: int, copy_weight: float = 1.0):
    """Right-padded input ids, attention mask, labels (-100 on the prompt and the padding) and per-token loss
    weights (``copy_weight`` on note tokens that are the prompt's own words, 1 elsewhere on the note)."""
    import torch  # (heavy: see the module docstring)

    width = max(len(p) + len(c) for p, c, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    weights = torch.zeros((len(rows), width))
    for i, (p, c, copied) in enumerate(rows):
        seq = p + c
        ids[i, : len(seq)] = torch.tensor(seq)
        labels[i, len(p) : len(seq)] = torch.tensor(c)
        mask[i, : len(seq)] = 1
        weights[i, len(p) : len(seq)] = 1 + (copy_weight - 1) * torch.tensor(copied, dtype=torch.float)
    return ids, mask, labels, weights


def lr_at(step: int, cfg: PretrainConfig) -> float:
    """Linear warm-up, then cosine to a tenth of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _loss(model, ids, mask, labels, bf16: bool, weights=None):
    """Mean next-token loss over the labelled tokens, weighted per token when ``weights`` is given."""
    import torch  # (heavy: see the module docstring)

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        if weights is None:
            return model(input_ids=ids, attention_mask=mask, labels=labels).loss
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    target, w = labels[:, 1:], weights[:, 1:]
    per_token = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2), target, ignore_index=IGNORE, reduction="none"
    )
    return (per_token * w).sum() / w.sum()


def val_loss(model, val: list, pad: int, bf16: bool, batch: int = 16) -> float:
    import torch  # (heavy: see the module docstring)

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(val), batch):
            rows = val[i : i + batch]
            tokens = sum(len(c) for _, c, _ in rows)
            total += _loss(model, *task_batch(rows, pad)[:3], bf16).item() * tokens
            n += tokens
    model.train()
    return total / max(1, n)


def train(tokenizer, blocks, rows: dict, cfg: PretrainConfig, on_checkpoint=None, log=print):
    """The seeded loop over ``encode_mix``'s blocks and task rows; returns (model, loss curve, tokens/s).
    ``on_checkpoint(model, curve, tps)`` every ``save_every`` steps."""
    import torch  # (heavy: see the module docstring)
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(cfg.threads)
    if cfg.init:
        torch.manual_seed(cfg.seed)
        model = AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
    else:
        model = build_model(tokenizer, cfg.seed, tie_word_embeddings=True)  # tied: fewer parameters to learn
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
    rng = random.Random(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    pad = tokenizer.pad_token_id
    task, val, complaints = rows["note"], rows["note_val"], rows["complaint"]
    complaint_share = cfg.complaint_share if complaints else 0.0
    windows = ("lm", "task", "complaint")
    curve, window = [], {k: [] for k in windows}
    tokens, start = 0, time.perf_counter()
    for step in range(cfg.stop_after or cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        kind = "task" if ((task or complaints) and rng.random() < cfg.task_share) or not len(blocks) else "lm"
        if kind == "task" and complaint_share and (not task or rng.random() < complaint_share):
            kind = "complaint"  # (no draw at all without complaint batches: earlier stages' runs stay the same)
        weights = None
        if kind == "complaint":  # a run of neighbours in length order: complaints vary 10x, so padding would not
            first = rng.randrange(1 - cfg.batch_size, len(complaints))  # (each row in as many runs as any other)
            run = complaints[max(0, first) : first + cfg.batch_size]
            ids, mask, labels, weights = task_batch(run, pad, cfg.copy_weight)
        elif kind == "task":
            ids, mask, labels, weights = task_batch(
                rng.sample(task, min(cfg.batch_size, len(task))), pad, cfg.copy_weight
            )
        else:
            ids = blocks[torch.randint(len(blocks), (cfg.batch_size,), generator=gen)]
            mask, labels = torch.ones_like(ids), ids
        loss = _loss(model, ids, mask, labels, cfg.bf16, weights if cfg.copy_weight != 1 else None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
        window[kind].append(loss.item())
        last = step + 1 == (cfg.stop_after or cfg.steps)
        if (step + 1) % cfg.log_every == 0 or last:
            tps = tokens / (time.perf_counter() - start)
            row = {
                "step": step + 1,
                "lr": round(lr_at(step, cfg), 6),
                "lm_loss": round(sum(window["lm"]) / len(window["lm"]), 4) if window["lm"] else None,
                "task_loss": round(sum(window["task"]) / len(window["task"]), 4) if window["task"] else None,
                "val_loss": round(val_loss(model, val, pad, cfg.bf16), 4) if val else None,
                "tokens": tokens,
                "tokens_per_s": round(tps),
            }
            if complaint_share or rows["complaint_val"]:
                mean = window["complaint"] and round(sum(window["complaint"]) / len(window["complaint"]), 4)
                row["complaint_loss"] = mean or None
                row["complaint_val_loss"] = (
                    round(val_loss(model, rows["complaint_val"], pad, cfg.bf16), 4) if rows["complaint_val"] else None
                )
            curve.append(row)
            window = {k: [] for k in windows}
            log(json.dumps(row))
        if on_checkpoint and (step + 1) % cfg.save_every == 0 and not last:
            on_checkpoint(model, curve, tokens / (time.perf_counter() - start))
    return model, curve, tokens / (time.perf_counter() - start)
