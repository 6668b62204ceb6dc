"""Time-ordered identifiers (UUID version 7, RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

import numpy as np

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A UUIDv7 string: 48-bit Unix milliseconds, then a 12-bit counter (monotonic within
    one process even when several ids share a millisecond), then 62 random bits."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand
    return str(uuid.UUID(int=value))


def uuid7_many(n: int) -> list[str]:
    """``n`` UUIDv7 strings in increasing order (one clock read and one counter
    reservation for the whole batch; the bytes and their text built with numpy)."""
    global _last_ms, _counter
    if n <= 0:
        return []
    with _lock:
        ms = max(time.time_ns() // 1_000_000, _last_ms)
        first = _counter + 1 if ms == _last_ms else 0
        ticks = first + np.arange(n, dtype=np.uint64)    # counter overflow borrows a ms
        _last_ms, _counter = ms + int(ticks[-1]) // 4096, int(ticks[-1]) % 4096
    return _format(ms + ticks // 4096, ticks % 4096, os.urandom(8 * n))


_VARIANT_MASK, _VARIANT = np.uint64((1 << 62) - 1), np.uint64(0b10 << 62)
# where the 32 hex digits go in the 36 characters of 8-4-4-4-12
_DIGIT_AT = np.array([i + (i >= 8) + (i >= 12) + (i >= 16) + (i >= 20) for i in range(32)])


def _format(ms: np.ndarray, counter: np.ndarray, rand: bytes) -> list[str]:
    n = len(ms)
    raw = np.empty((n, 2), dtype=">u8")
    raw[:, 0] = (ms << np.uint64(16)) | np.uint64(0x7000) | counter   # ms, version, counter
    raw[:, 1] = (np.frombuffer(rand, dtype=">u8") & _VARIANT_MASK) | _VARIANT
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, _DIGIT_AT] = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8).reshape(n, 32)
    joined = text.tobytes().decode("ascii")
    return [joined[i:i + 36] for i in range(0, 36 * n, 36)]
