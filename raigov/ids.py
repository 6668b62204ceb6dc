"""Time-ordered identifiers (UUID version 7, RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

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
    reservation for the whole batch)."""
    global _last_ms, _counter
    if n <= 0:
        return []
    with _lock:
        ms = max(time.time_ns() // 1_000_000, _last_ms)
        start = _counter + 1 if ms == _last_ms else 0
        out_ms, out_counter = [], []
        for _ in range(n):
            if start > 0xFFF:
                ms, start = ms + 1, 0
            out_ms.append(ms)
            out_counter.append(start)
            start += 1
        _last_ms, _counter = ms, start - 1
    rand = os.urandom(8 * n)
    ids = []
    for i in range(n):
        r = int.from_bytes(rand[8 * i:8 * i + 8], "big") & ((1 << 62) - 1)
        value = ((out_ms[i] & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (out_counter[i] << 64) \
            | (0b10 << 62) | r
        h = f"{value:032x}"
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids
