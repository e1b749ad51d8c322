"""Vectorised building blocks of the demo-scale generator: unique ids, strings, random draws.

Ids are made from sequence numbers through bijective bit mixers, so they look random, never
collide, and depend only on the seed; strings are built as fixed-width byte matrices and handed
to Arrow without a Python object per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

US_PER_MIN = 60_000_000
US_PER_HOUR = 60 * US_PER_MIN
US_PER_DAY = 24 * US_PER_HOUR

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64's finaliser after adding ``salt``: a bijection on 64-bit integers."""
    z = x.astype(np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def mix_bits(x: np.ndarray, bits: int, salt: int) -> np.ndarray:
    """A bijection on ``bits``-bit integers (xor-shifts and odd multipliers modulo 2**bits)."""
    mask = np.uint64((1 << bits) - 1)
    z = (x.astype(np.uint64) + np.uint64(salt)) & mask
    z = ((z ^ (z >> np.uint64(bits // 2))) * _M1) & mask
    z = ((z ^ (z >> np.uint64(bits // 3))) * _M2) & mask
    return z ^ (z >> np.uint64(bits // 2))


def hex_chars(values: np.ndarray, width: int) -> np.ndarray:
    """An (n, width) ASCII matrix: the last ``width`` (≤ 16) hex digits of each value."""
    b = np.ascontiguousarray(values.astype(">u8")).view(np.uint8).reshape(-1, 8)
    out = np.empty((len(b), 16), np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    return out[:, 16 - width :]


def digit_chars(values: np.ndarray, width: int) -> np.ndarray:
    """An (n, width) ASCII matrix: each value in decimal, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + 48).astype(np.uint8)


def strings(*parts: np.ndarray) -> pa.Array:
    """Fixed-width character matrices side by side, as one Arrow string column."""
    chars = np.ascontiguousarray(np.hstack(parts) if len(parts) > 1 else parts[0])
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars)])


def hex_ids(seq: np.ndarray, salt: int, rng: np.random.Generator, width: int) -> pa.Array:
    """``width`` (16–64) hex digits: 16 from a bijection of ``seq`` (unique), the rest random."""
    blocks = [hex_chars(mix64(seq, salt), 16)]
    blocks += [hex_chars(rng.integers(0, 2**63, len(seq), dtype=np.uint64), 16)
               for _ in range((width - 1) // 16)]  # fmt: skip
    return strings(np.hstack(blocks)[:, :width])


def time_ids(ms: np.ndarray, seq: np.ndarray, salt: int) -> pa.Array:
    """The platform's declaration and booking id: 12 hex digits of milliseconds, then 10 hex
    digits (a bijection of ``seq``, so unique)."""
    return strings(hex_chars(ms, 12), hex_chars(mix_bits(seq, 40, salt), 10))


def pick(labels: Sequence[str], codes: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Labels by index (a dictionary decoded to plain strings); ``mask``: rows to leave null."""
    idx = pa.array(codes.astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(list(labels), pa.string())).cast(
        pa.string()
    )


def timestamps(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(us.astype(np.int64), pa.timestamp("us", tz="UTC"), mask=mask)


def tri(rng: np.random.Generator, low: float, mode: float, high: float, n: int) -> np.ndarray:
    return rng.triangular(low, mode, high, n)


def lognormal(
    rng: np.random.Generator, mean: float | np.ndarray, sd: float | np.ndarray, n: int
) -> np.ndarray:
    """Lognormal draws with this mean and standard deviation (the twin's parametrisation)."""
    s2 = np.log1p((sd / mean) ** 2)
    return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), n)


def minutes(m: np.ndarray | float) -> np.ndarray:
    """Minutes as whole seconds in microseconds (events are reported to the second)."""
    return (np.round(np.asarray(m, dtype=np.float64) * 60) * 1_000_000).astype(np.int64)


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """0..k-1 for each count k, concatenated."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    return w / w.sum()
