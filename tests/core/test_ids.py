"""Prediction ids are UUIDv7: valid, unique and time-ordered, also across batches."""

from __future__ import annotations

import time
import uuid

from raigov.ids import uuid7, uuid7_many


def test_ids_are_version_7_with_the_rfc_variant() -> None:
    for text in uuid7_many(100) + [uuid7()]:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_ids_sort_in_the_order_they_were_made_and_never_repeat() -> None:
    made = uuid7_many(10_000) + [uuid7() for _ in range(50)] + uuid7_many(7)
    assert made == sorted(made) and len(set(made)) == len(made)


def test_the_first_48_bits_are_the_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    ms = uuid.UUID(uuid7_many(1)[0]).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= ms <= after + 1


def test_ids_made_in_one_millisecond_count_up_by_one_in_the_counter_field() -> None:
    parsed = [uuid.UUID(t).int for t in uuid7_many(300)]
    ms, counters = [p >> 80 for p in parsed], [(p >> 64) & 0xFFF for p in parsed]
    for i in range(1, len(parsed)):
        if ms[i] == ms[i - 1]:
            assert counters[i] == counters[i - 1] + 1
        else:
            assert ms[i] > ms[i - 1]
