"""The settings of a pretraining run (`medsyn tiny-model --pretrain` flags), checked before any work."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.tiny_model import MAX_VOCAB, MIN_VOCAB, MODEL_SHAPE, resolve_model
from medsyn_hf.validate import check_range


@dataclass
class PretrainConfig:
    steps: int = 2000
    batch_size: int = 16
    seq_len: int = 512
    lr: float = 2e-3
    warmup: int = 100
    task_share: float = 0.6
    vocab_size: int = 8000
    seed: int = 0
    limit: int | None = None  # rows per source: the scaled-down build of the tests
    val_rows: int = 64
    log_every: int = 50
    save_every: int = 250
    stop_after: int | None = None  # end (and write the model) after this many of the schedule's `steps`
    complaints_line: bool = False  # note targets open with «Жалобы: <the prompted symptoms>.»
    copy_weight: float = 1.0  # loss weight of note tokens copied from the prompt's own words (symptoms, patient)
    init: str | None = None  # continue from this writer folder (its tokenizer and weights): a second stage
    complaint_share: float = 0.0  # share of the task batches that are complaint writing
    complaint_val_rows: int = 0  # train complaints held out of the whole run (complaint validation)
    bf16: bool = False  # bf16 autocast measured no faster than float32 on this CPU (140 vs 140 tokens/s)
    threads: int = 2

    def check(self) -> None:
        check_range("--steps", self.steps, 1, 1_000_000)
        check_range("--stop-after", self.stop_after, 1, self.steps)
        check_range("--batch-size", self.batch_size, 1, 4096)
        check_range("--seq-len", self.seq_len, 16, MODEL_SHAPE["max_position_embeddings"])
        check_range("--lr", self.lr, 0, 1, low_open=True)
        check_range("--warmup", self.warmup, 0)
        check_range("--task-share", self.task_share, 0, 1)
        check_range("--vocab-size", self.vocab_size, MIN_VOCAB, MAX_VOCAB)
        check_range("--limit", self.limit, 1)
        check_range("--val-rows", self.val_rows, 1)
        check_range("--log-every", self.log_every, 1)
        check_range("--save-every", self.save_every, 1)
        check_range("--threads", self.threads, 1, 256)
        check_range("--copy-weight", self.copy_weight, 0, 100, low_open=True)
        check_range("--complaint-share", self.complaint_share, 0, 1)
        check_range("--complaint-val-rows", self.complaint_val_rows, 0)
        self.init = resolve_model(self.init)  # a packaged writer's name (medsyn-tiny) means its folder
        if self.init is not None and not (Path(self.init) / "config.json").is_file():
            raise MedsynError(f"--init: {self.init} is not a model folder (no config.json); give a writer folder")
