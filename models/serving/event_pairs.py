"""Request and response CloudEvents of one inference, paired by their id.

KServe's inference logger sends the request and the response of an inference as two
events with the same ``ce-id``, in no promised order. The half that arrives first waits
here, bounded two ways: at most ``max_pending`` halves (the oldest beyond that is
evicted) and for at most ``max_age_s`` seconds. A half that leaves without its pair is
handed back as :class:`Expired` with the reason, for the caller to quarantine; nothing
leaves silently. Ids of recently completed pairs are remembered (as many as
``max_pending``), so a redelivered half is recognised as a duplicate instead of waiting
for a partner that already came.

Not thread-safe: the server calls it from its event loop only.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Half = Literal["request", "response"]

AGED = ("CloudEvent {half} {id!r} for model {model!r} found no matching {other} within "
        "{age:g} s")
EVICTED = ("CloudEvent {half} {id!r} for model {model!r} was evicted unpaired: more than "
           "{cap} CloudEvents were waiting for their pair")
STOPPED = ("CloudEvent {half} {id!r} for model {model!r} was unpaired when the server "
           "stopped")
OTHER: dict[str, Half] = {"request": "response", "response": "request"}


@dataclass(frozen=True)
class EventHalf:
    """One event as received: its decoded content and what the quarantine keeps."""

    model: str
    version: int
    event_id: str
    half: Half
    decoded: Any                 # request: input rows; response: output items
    body: bytes
    time: str | None = None      # ce-time
    key: str | None = None       # the API key's name that sent it (its quarantine row keeps it)
    arrived: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class Expired:
    half: EventHalf
    reason: str


@dataclass(frozen=True)
class Pair:
    request: EventHalf
    response: EventHalf


class PendingEvents:
    def __init__(self, *, max_pending: int = 10_000, max_age_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_pending < 1 or max_age_s <= 0:
            raise ValueError("max_pending must be >= 1 and max_age_s > 0")
        self.max_pending, self.max_age_s, self._clock = max_pending, max_age_s, clock
        self._waiting: OrderedDict[tuple[str, str], EventHalf] = OrderedDict()
        self._completed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._evicted: list[Expired] = []

    def __len__(self) -> int:
        return len(self._waiting)

    def offer(self, half: EventHalf) -> Pair | Literal["pending", "duplicate"]:
        """The completed pair, ``"pending"`` (kept to wait), or ``"duplicate"`` (a half
        seen before: a redelivery, dropped; its first copy is kept or was logged)."""
        key = (half.model, half.event_id)
        if key in self._completed:
            return "duplicate"
        waiting = self._waiting.get(key)
        if waiting is not None and waiting.half == half.half:
            return "duplicate"
        if waiting is not None:
            del self._waiting[key]
            self._remember(key)
            return Pair(*(sorted((waiting, half), key=lambda h: h.half != "request")))
        self._waiting[key] = dataclasses.replace(half, arrived=self._clock())
        while len(self._waiting) > self.max_pending:
            _, oldest = self._waiting.popitem(last=False)
            self._evicted.append(Expired(oldest, EVICTED.format(
                half=oldest.half, id=oldest.event_id, model=oldest.model, cap=self.max_pending)))
        return "pending"

    def expire(self) -> list[Expired]:
        """Halves evicted since the last call and those older than ``max_age_s``."""
        out, self._evicted = self._evicted, []
        deadline = self._clock() - self.max_age_s
        while self._waiting:
            key, oldest = next(iter(self._waiting.items()))
            if oldest.arrived > deadline:
                break
            del self._waiting[key]
            out.append(Expired(oldest, AGED.format(half=oldest.half, id=oldest.event_id,
                                                   model=oldest.model, other=OTHER[oldest.half],
                                                   age=self.max_age_s)))
        return out

    def drain(self) -> list[Expired]:
        """Everything still waiting (the server is stopping)."""
        out = self.expire()
        out += [Expired(h, STOPPED.format(half=h.half, id=h.event_id, model=h.model))
                for h in self._waiting.values()]
        self._waiting.clear()
        return out

    def _remember(self, key: tuple[str, str]) -> None:
        self._completed[key] = None
        while len(self._completed) > self.max_pending:
            self._completed.popitem(last=False)
