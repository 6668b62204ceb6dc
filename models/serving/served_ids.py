"""Which prediction ids a model served and which already have a label, as one serving
process can know it: what feedback integrity stands on.

- In memory: the ids this process captured since it started (predict, ``/log``,
  CloudEvents: their rows may still be in the spool, not yet sealed) and the ids it
  took a label for. Adding ids is a set update on the predict path (well under a
  microsecond an id, ``tests/benchmarks/bench_feedback_lookup.py``). Each set keeps at
  most ``cap`` ids (default 1,000,000 a model, roughly 120 MB at most): beyond that
  the oldest eighth is forgotten; sealed within ``--seal-interval-s`` long before, the
  lake answers for those ids.
- The lake (sealed segments, every process's): read off the event loop, only for the
  ids memory cannot answer (:mod:`raigov.store.id_lookup`).

The window this leaves: an id served by another process (a second server, the Python
logger) is known here only once that process has sealed it (``--seal-interval-s``,
1 s by default); a label for it sent before then is refused as unknown, and the client
may retry. Likewise a label another process took and has not sealed yet is not seen
here; the lake's ``labelled`` view still lets the first label stand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from raigov.home import Home
from raigov.store.id_lookup import lookup_ids

DEFAULT_CAP = 1_000_000
GENERATIONS = 8


class RecentIds:
    """A set of at most about ``cap`` ids that forgets the oldest first, in
    generations (a lookup is a few set lookups; no per-id bookkeeping)."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if cap < GENERATIONS:
            raise ValueError(f"cap must be at least {GENERATIONS}, not {cap}")
        self.cap = cap
        self._per_generation = cap // GENERATIONS
        self._generations: deque[set[str]] = deque([set()])

    def add(self, ids: Iterable[str]) -> None:
        current = self._generations[-1]
        current.update(ids)
        if len(current) >= self._per_generation:
            self._generations.append(set())
            while sum(len(g) for g in self._generations) > self.cap:
                self._generations.popleft()

    def discard(self, ids: Iterable[str]) -> None:
        for pid in ids:
            for generation in self._generations:
                generation.discard(pid)

    def __contains__(self, pid: object) -> bool:
        return any(pid in g for g in reversed(self._generations))

    def __len__(self) -> int:
        return sum(len(g) for g in self._generations)


@dataclass(frozen=True)
class IdStatus:
    unknown: list[str]           # not served by this model, as far as can be known
    labelled: list[str]          # served and already labelled


class ServedIds:
    """Per model: ids served and ids labelled. Not thread-safe: the event loop's."""

    def __init__(self, home: Home, *, cap: int = DEFAULT_CAP) -> None:
        self.home, self.cap = home, cap
        self._served: dict[str, RecentIds] = {}
        self._labelled: dict[str, RecentIds] = {}

    def _set(self, table: dict[str, RecentIds], model: str) -> RecentIds:
        found = table.get(model)
        if found is None:
            found = table[model] = RecentIds(self.cap)
        return found

    def add_served(self, model: str, ids: Iterable[str]) -> None:
        self._set(self._served, model).add(ids)

    def add_labelled(self, model: str, ids: Iterable[str]) -> None:
        self._set(self._labelled, model).add(ids)

    def forget_labelled(self, model: str, ids: Iterable[str]) -> None:
        """Undo :meth:`add_labelled` (the labels were not captured after all)."""
        self._set(self._labelled, model).discard(ids)

    def labelled_here(self, model: str, ids: Sequence[str]) -> list[str]:
        """Of ``ids``, those this process took a label for."""
        mine = self._set(self._labelled, model)
        return [pid for pid in ids if pid in mine]

    async def status(self, model: str, ids: Sequence[str]) -> IdStatus:
        """Which of ``ids`` are unknown and which already have a label: memory first,
        the lake (off the event loop) for the rest."""
        served, labelled = self._set(self._served, model), self._set(self._labelled, model)
        ask_served = [pid for pid in ids if pid not in served and pid not in labelled]
        ask_labelled = [pid for pid in ids if pid not in labelled]
        if not ask_served and not ask_labelled:
            return IdStatus(unknown=[], labelled=list(ids))
        found = await asyncio.get_running_loop().run_in_executor(
            None, lambda: lookup_ids(self.home, model, served=ask_served, labelled=ask_labelled))
        unknown = [pid for pid in ask_served if pid not in found.served]
        return IdStatus(unknown=unknown,
                        labelled=[pid for pid in ids if pid in labelled or pid in found.labelled])
