"""Pick the attention that makes padding-free packing pay off, and fall back to length-grouped batches where none does.

Padding-free batches (TRL packing, strategy bfd) are one flat row with `cu_seq_lens`; only a varlen kernel uses them
without computing attention across packed documents. That kernel is flash-attn's (`flash_attention_2`) or, without
that package, PyTorch's own (`torch.nn.attention.varlen`, CUDA), registered here as `sdpa_varlen`.
"""

from __future__ import annotations

import importlib.util
import logging

import torch

logger = logging.getLogger(__name__)

SDPA_VARLEN = "sdpa_varlen"
VARLEN_IMPLEMENTATIONS = ("flash_attention_2", "flash_attention_3", SDPA_VARLEN)


def sdpa_varlen_forward(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs
):
    """Varlen flash attention for padding-free batches (query: 1 x heads x tokens x dim); sdpa for anything else."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    cu_seq_lens = kwargs.get("cu_seq_lens_q")
    if cu_seq_lens is None or query.shape[0] != 1 or not query.is_cuda:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )
    from torch.nn.attention.varlen import varlen_attn

    q, k, v = (t[0].transpose(0, 1).contiguous() for t in (query, key, value))  # tokens x heads x dim
    cu_seq_lens = cu_seq_lens.to(device=q.device, dtype=torch.int32)
    max_len = int(kwargs["max_length_q"])
    out = varlen_attn(
        q,
        k,
        v,
        cu_seq_lens,
        cu_seq_lens,
        max_len,
        max_len,
        scale=scaling,
        window_size=(-1, 0),
        enable_gqa=q.shape[1] != k.shape[1],
    )
    return out.unsqueeze(0), None  # 1 x tokens x heads x dim, like sdpa_attention_forward


def register_sdpa_varlen() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(SDPA_VARLEN, sdpa_varlen_forward)
    AttentionMaskInterface.register(SDPA_VARLEN, sdpa_mask)


def configure_attention(training_args, model_args) -> None:
    """Choose `attn_implementation` (unless set) and turn packing into length-grouped batches where it cannot pay.

    Mutates the parsed args in place, before the model is loaded, and logs what it chose.
    """
    padding_free = training_args.padding_free or (
        training_args.packing and training_args.packing_strategy in ("bfd", "bfd_split")
    )
    if model_args.attn_implementation is None:
        cuda = torch.cuda.is_available()
        if cuda and importlib.util.find_spec("flash_attn") is not None:
            model_args.attn_implementation = "flash_attention_2"
        elif cuda and padding_free and importlib.util.find_spec("torch.nn.attention.varlen") is not None:
            model_args.attn_implementation = SDPA_VARLEN
        else:
            model_args.attn_implementation = "sdpa"
    if model_args.attn_implementation == SDPA_VARLEN:
        register_sdpa_varlen()
    if padding_free and model_args.attn_implementation not in VARLEN_IMPLEMENTATIONS:
        logger.warning("no varlen attention (%s): packing -> length-grouped batches", model_args.attn_implementation)
        training_args.packing = training_args.padding_free = False
        training_args.train_sampling_strategy = "group_by_length"
    logger.info(
        "attention %s, packing %s, sampling %s",
        model_args.attn_implementation,
        training_args.packing,
        training_args.train_sampling_strategy,
    )
