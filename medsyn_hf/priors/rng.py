"""The priors' counter-based random numbers: every random number of record i is a splitmix64 hash of (seed, i,
stream), so a prior depends on its seed alone, never on chunking, ``num_proc`` or the machine."""

from __future__ import annotations

import numpy as np

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
# One stream of random numbers per decision, so changing one decision's draws never shifts another's.
ORDER, CODE, CELL, MARRIED, SMOKING, N_SYMPTOMS, SYMPTOM, SHUFFLE, WANTS_EXAMPLE, EXAMPLE, TEMPLATE, STYLE = range(
    1, 13
)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrap-around multiplication is intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def record_seeds(seed: int, n: int) -> np.ndarray:
    """Seeds of records 0..n-1: the splitmix64 sequence of ``seed`` (uint64)."""
    base = int(_mix(np.array([seed & _M64], dtype=np.uint64))[0])
    return _mix(np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GOLDEN) + np.uint64(base))


def uniforms(rs: np.ndarray, stream: int, width: int | None = None) -> np.ndarray:
    """Uniforms in (0, 1) per record (and per slot 0..width-1), a function of (record seed, stream, slot) only."""
    slots = _mix(np.arange(width or 1, dtype=np.uint64) + np.uint64(stream << 32))
    bits = _mix(rs[:, None] + slots[None, :]) if width else _mix(rs + slots[0])
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
