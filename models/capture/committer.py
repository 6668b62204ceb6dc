"""The committer of a :class:`~raigov.models.capture.writer.CaptureWriter`: one thread
that takes every batch waiting, appends them to the spool file with one ``write`` and
one ``fsync`` (group commit), and resolves their futures.

What happens when a commit fails (never silently; :mod:`raigov.models.capture.health`):

- ``sync``: its batches fail with the reason (nothing of them was acknowledged); the
  next commit tries again;
- ``async``: its batches were acknowledged, so they are kept in memory and retried
  with backoff, oldest first, one commit each; new batches are refused
  (:class:`SpoolFullError`) until the spool has taken the kept ones;
- the thread stops for good (an exception that is not an ``Exception``): it says so,
  tries one last write of everything waiting, and fails what that could not save, so
  no caller waits on a future nobody will complete; nothing is queued after that.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from raigov.errors import CaptureError, SpoolFullError
from raigov.models.capture import health as h
from raigov.models.capture.damaged import QuarantinedBytes
from raigov.models.capture.spool import EncodedFrame
from raigov.models.capture.spool_file import SpoolFile

BACKLOG_WAITING = ("The capture spool at {path} is not taking rows ({why}); acknowledged "
                   "rows wait in memory for it, so new rows are refused until it does.")
COMMIT_FAILED = "Writing the capture spool failed ({error}); rows were not acknowledged."


@dataclass
class CaptureStats:
    rows: int = 0
    batches: int = 0
    commits: int = 0
    sealed_segments: int = 0
    recovered_files: int = 0
    failed_batches: int = 0        # batches a commit could not write (counted once each)
    refused_batches: int = 0       # batches refused when submitted
    lost_rows: int = 0             # acknowledged rows never written (a stopped committer)
    damaged_ranges: int = 0        # spool byte ranges without a valid frame, kept
    damaged_bytes: int = 0
    last_damage: QuarantinedBytes | None = None
    last_seal_lag_s: float = 0.0   # age of the oldest row when its file was sealed
    rows_by_table: dict[str, int] = field(default_factory=dict)


@dataclass
class Batch:
    frames: list[EncodedFrame]
    rows_by_table: dict[str, int]
    parts: int = 1                 # tables submitted in it
    future: Future = field(default_factory=Future)
    failed_once: bool = False

    @property
    def size(self) -> int:
        return sum(f.size for f in self.frames)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_table.values())


class Committer:
    def __init__(self, *, durability: str, group_window_s: float, stats: CaptureStats,
                 health: h.ThreadHealth, spool_dir: Path) -> None:
        self.durability = durability
        self.group_window_s = group_window_s
        self.stats = stats
        self.health = health
        self.spool_dir = spool_dir
        self.spool: SpoolFile | None = None     # set before the thread starts
        self.dead: CaptureError | None = None   # why the thread stopped for good
        self.refusing: CaptureError | None = None   # async: why new batches are refused
        self._queue: queue.Queue[Batch | None] = queue.Queue()
        self._state = threading.Lock()          # orders "stopped" and puts
        self._backlog: list[Batch] = []         # async: acknowledged, not yet written
        self._inflight: list[Batch] = []
        self._retry = h.Backoff()

    # -- what other threads call ----------------------------------------------------
    def put(self, batch: Batch) -> CaptureError | None:
        """Queue ``batch``, or say why not (the thread stopped). A batch queued before
        it stopped is taken by its last attempt, so none waits for nobody."""
        with self._state:
            if self.dead is None:
                self._queue.put(batch)
                return None
        self.stats.refused_batches += 1
        return self.dead

    def finish(self) -> None:
        """Commit what is queued, then end the thread."""
        self._queue.put(None)

    def backlog(self) -> tuple[int, int]:
        """Kept batches (async) and their rows."""
        kept = list(self._backlog)
        return len(kept), sum(b.rows for b in kept)

    # -- the thread ------------------------------------------------------------------
    def run(self) -> None:
        try:
            while self._round():
                pass
        except BaseException as exc:  # noqa: BLE001 - the thread stops; everyone learns why
            self._stopped(exc)

    def _round(self) -> bool:
        """One group commit (or a retry of the kept batches); False once finishing."""
        batches, stop = self._gather(self._retry.next() if self._backlog else None)
        if self._backlog:
            self._retry_backlog()
        if batches:
            self._inflight = batches
            self._commit_or_keep(batches)
            self._inflight = []
        if stop and self._backlog:     # finishing with acknowledged rows the spool refuses
            self._lose(self._backlog, self.health.last_error or "closing")
            self._backlog = []
        return not stop

    def _gather(self, timeout: float | None) -> tuple[list[Batch], bool]:
        """Whatever is queued, and what arrives within the group window."""
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return [], False
        if first is None:
            return [], True
        batches = [first]
        deadline = time.monotonic() + self.group_window_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                return batches, False
            if item is None:
                return batches, True
            batches.append(item)

    def _retry_backlog(self) -> None:
        while self._backlog:
            try:
                self._commit([self._backlog[0]])
            except Exception as exc:  # noqa: BLE001 - recorded, retried after a backoff
                self.health.failed(exc)
                self.refusing = self._capture_error(exc, backlog=True)
                return
            self._backlog.pop(0)
        self._succeeded()

    def _commit_or_keep(self, batches: list[Batch]) -> None:
        try:
            self._commit(batches)
        except Exception as exc:  # noqa: BLE001 - recorded; see the module docstring
            self.health.failed(exc)
            for b in batches:
                if not b.failed_once:
                    b.failed_once = True
                    self.stats.failed_batches += b.parts
            if self.durability == "async":     # acknowledged: keep them, refuse new ones
                self._backlog.extend(batches)
                self.refusing = self._capture_error(exc, backlog=True)
            else:
                error = self._capture_error(exc)
                for b in batches:
                    _fail(b.future, error)
            return
        if not self._backlog:
            self._succeeded()

    def _succeeded(self) -> None:
        self.health.succeeded()
        self.refusing = None
        self._retry.reset()

    def _commit(self, batches: list[Batch]) -> None:
        assert self.spool is not None
        self.spool.append([f for b in batches for f in b.frames])
        self.stats.commits += 1
        for b in batches:
            self.stats.batches += b.parts
            for lake_table, rows in b.rows_by_table.items():
                self.stats.rows += rows
                self.stats.rows_by_table[lake_table] = self.stats.rows_by_table.get(lake_table, 0) + rows
            if not b.future.done():
                b.future.set_result(None)

    def _stopped(self, exc: BaseException) -> None:
        why = h.describe(exc)
        self.health.stopped = why
        with self._state:     # from here on nothing more is queued
            self.dead = CaptureError(h.THREAD_STOPPED.format(
                thread=self.health.thread, why=why, consequence=h.COMMIT_STOPPED))
        h.log.error("capture commit thread stopped: %s", why)
        waiting = self._backlog + [b for b in self._inflight if not b.future.done()]
        self._backlog, self._inflight = [], []
        waiting += self._take_queued()
        if not waiting:
            return
        try:
            self._commit(waiting)
        except BaseException:  # noqa: BLE001 - the last try failed: fail them all
            if self.durability == "async":
                self._lose(waiting, why)
            self.stats.failed_batches += sum(b.parts for b in waiting if not b.failed_once)
            for b in waiting:
                _fail(b.future, self.dead)

    def _take_queued(self) -> list[Batch]:
        out = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            if item is not None:
                out.append(item)

    def _lose(self, batches: list[Batch], why: str) -> None:
        rows = sum(b.rows for b in batches)
        self.stats.lost_rows += rows
        h.log.error(h.ROWS_LOST.format(rows=rows, why=why))

    def _capture_error(self, exc: Exception, *, backlog: bool = False) -> CaptureError:
        if backlog:
            cause = exc.__cause__ if isinstance(exc, SpoolFullError) and exc.__cause__ else exc
            return SpoolFullError(BACKLOG_WAITING.format(path=self.spool_dir, why=h.describe(cause)))
        return exc if isinstance(exc, CaptureError) else CaptureError(
            COMMIT_FAILED.format(error=h.describe(exc)))


def _fail(future: Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
