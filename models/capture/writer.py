"""Capture: acknowledged rows reach the spool durably, then sealed Parquet segments.

One :class:`CaptureWriter` per process owns one spool slot, so writers never contend.
``submit`` hands a batch to the committer thread and returns a future; the committer
takes every batch waiting at that moment, appends them to the open spool file with one
``write`` and one ``fsync`` (group commit) and, in ``sync`` durability, resolves their
futures after the ``fsync``. Batches submitted while an ``fsync`` runs form the next
commit, so ``sync`` waits for no timer (``group_window_s``, default 0, can hold a
commit open for more). ``async`` durability resolves futures at once and gathers a
commit for ``group_window_s`` (default 2 ms): a crash of the machine can lose the rows
of that last interval; a killed process loses only batches still queued in memory. A
sealer thread rolls the spool file every ``seal_interval_s`` (or ``max_wal_bytes``) and
seals it into the lake.

Neither thread fails silently (:mod:`raigov.models.capture.health`):

- a failed commit is recorded; in ``sync`` its requests fail with the reason (nothing
  was acknowledged); in ``async`` its batches were acknowledged, so they are kept in
  memory and retried with backoff, and new batches are refused (:class:`SpoolFullError`)
  until the spool has taken the kept ones;
- a failed seal is recorded and retried with backoff; the rows wait in the spool;
- a thread that stops for good (an exception that is not an ``Exception``) is
  reported, and every batch waiting for it is failed at once (after one last write),
  so no caller waits on a future nobody will complete.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from raigov.errors import CaptureError, SpoolFullError
from raigov.home import Home
from raigov.models.capture import health as h
from raigov.models.capture.damaged import QuarantinedBytes
from raigov.models.capture.sealer import Sealer
from raigov.models.capture.spool import EncodedFrame, SlotLock, encode_frame
from raigov.models.capture.spool_file import SPOOL_FULL, SpoolFile

Durability = Literal["sync", "async"]
ASYNC_GROUP_WINDOW_S = 0.002
BACKLOG_WAITING = ("The capture spool at {path} is not taking rows ({why}); acknowledged "
                   "rows wait in memory for it, so new rows are refused until it does.")
COMMIT_FAILED = "Writing the capture spool failed ({error}); rows were not acknowledged."
CLOSED = "capture writer is closed"


@dataclass
class CaptureStats:
    rows: int = 0
    batches: int = 0
    commits: int = 0
    sealed_segments: int = 0
    recovered_files: int = 0
    failed_batches: int = 0        # batches a commit could not write (counted once each)
    refused_batches: int = 0       # batches refused when submitted (see _refusal)
    lost_rows: int = 0             # acknowledged rows never written (a stopped committer)
    damaged_ranges: int = 0        # spool byte ranges without a valid frame, kept
    damaged_bytes: int = 0
    last_damage: QuarantinedBytes | None = None
    last_seal_lag_s: float = 0.0   # age of the oldest row when its file was sealed
    rows_by_table: dict[str, int] = field(default_factory=dict)


@dataclass
class _Batch:
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


class CaptureWriter:
    """Durable capture for one process. Use as a context manager or call ``start``
    and ``close``."""

    def __init__(self, home: Home, *, durability: Durability = "sync",
                 group_window_s: float | None = None, seal_interval_s: float = 1.0,
                 max_wal_bytes: int = 64 << 20, spool_cap_bytes: int | None = None) -> None:
        if durability not in ("sync", "async"):
            raise ValueError(f"durability must be 'sync' or 'async', not {durability!r}")
        self.home = home.ensure()
        self.durability = durability
        self.group_window_s = (group_window_s if group_window_s is not None
                               else ASYNC_GROUP_WINDOW_S if durability == "async" else 0.0)
        self.seal_interval_s = seal_interval_s
        self.max_wal_bytes = max_wal_bytes
        self.spool_cap_bytes = spool_cap_bytes
        self.stats = CaptureStats()
        self.health = {"commit": h.ThreadHealth("raigov-commit"),
                       "seal": h.ThreadHealth("raigov-seal")}
        self._sealer = Sealer(self.home, self.stats)
        self._slot: SlotLock | None = None
        self._spool: SpoolFile | None = None
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._state = threading.Lock()          # orders "the committer stopped" and puts
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple]] = {}   # submit_async
        self._backlog: list[_Batch] = []        # async: acknowledged, not yet written
        self._inflight: list[_Batch] = []
        self._refusing: CaptureError | None = None   # async: why new batches are refused
        self._dead: CaptureError | None = None       # the committer stopped for good
        self._recovery_pending = False
        self._retry = h.Backoff()

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> "CaptureWriter":
        self._recover()
        self._slot = self._claim_slot()
        self._spool = SpoolFile(self._slot, cap_bytes=self.spool_cap_bytes)
        try:
            self._sealer.seal_all(self._slot.directory)    # our own slot's leftovers
        except Exception as exc:  # noqa: BLE001 - recorded; the sealer retries them
            self.health["seal"].failed(exc)
        try:
            self._spool.open()
        except OSError as exc:    # recorded; the first commit tries again
            self.health["commit"].failed(exc)
        for target, name in ((self._commit_loop, "raigov-commit"), (self._seal_loop, "raigov-seal")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        """Commit what is queued, seal the open spool file, release the slot."""
        if self._closed.is_set():
            return
        self._queue.put(None)
        self._threads[0].join()
        self._closed.set()
        self._threads[1].join()
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - the next start seals the spool file
            self.health["seal"].failed(exc)
        assert self._spool is not None and self._slot is not None
        self._spool.close()
        self._slot.release()

    def __enter__(self) -> "CaptureWriter":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------
    def submit(self, table: pa.Table, *, lake_table: str, model: str) -> Future:
        """Queue a batch; the future resolves once it is durable (sync) or written
        (async), or fails with :class:`CaptureError` (a :class:`SpoolFullError` when
        the spool cannot take it)."""
        batch = _Batch([encode_frame(table, lake_table=lake_table, model=model)],
                       {lake_table: table.num_rows})
        refusal = self._refusal(batch.size) or self._put(batch)
        if refusal is not None:
            batch.future.set_exception(refusal)
            return batch.future
        if self.durability == "async":
            done: Future = Future()
            done.set_result(None)
            return done
        return batch.future

    def submit_async(self, table: pa.Table, *, lake_table: str, model: str) -> asyncio.Future:
        """``submit`` for an event loop: the tables submitted in one turn of the loop go
        to the committer as one batch (one hand-over between threads, one wake-up of the
        loop), and the returned future resolves as ``submit``'s would."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        frame = encode_frame(table, lake_table=lake_table, model=model)
        refusal = self._refusal(frame.size)
        if refusal is not None:
            future.set_exception(refusal)
            return future
        pending = self._pending.setdefault(loop, [])
        pending.append((frame, lake_table, table.num_rows, future))
        if len(pending) == 1:
            loop.call_soon(self._hand_over, loop)
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._pending.pop(loop)
        counts: dict[str, int] = {}
        for _, lake_table, rows, _ in items:
            counts[lake_table] = counts.get(lake_table, 0) + rows
        batch = _Batch([item[0] for item in items], counts, len(items))
        waiting = [item[3] for item in items]
        if self.durability == "sync":
            batch.future.add_done_callback(
                lambda done: loop.call_soon_threadsafe(_resolve, waiting, done.exception()))
        refusal = self._refusal(batch.size) or self._put(batch)
        if refusal is not None:
            _resolve(waiting, refusal)
        elif self.durability == "async":
            _resolve(waiting, None)

    def _refusal(self, size: int) -> Exception | None:
        """Why a batch of ``size`` bytes cannot be taken now, or None: the writer is
        closed, the committer stopped, or (async, where taking is acknowledging) the
        spool is not taking the kept batches or the batch could never fit its cap."""
        if self._closed.is_set():
            return RuntimeError(CLOSED)
        refusal = self._dead or (self._refusing if self.durability == "async" else None)
        if refusal is None and self.durability == "async" and self.spool_cap_bytes is not None \
                and size > self.spool_cap_bytes:
            refusal = SpoolFullError(SPOOL_FULL.format(
                path=self.home.spool, size=size, why=f"cap of {self.spool_cap_bytes} bytes"))
        if refusal is not None:
            self.stats.refused_batches += 1
        return refusal

    def _put(self, batch: _Batch) -> CaptureError | None:
        """Queue ``batch`` for the committer, or say why not (it has stopped). A batch
        queued before it stopped is taken by its last attempt, so none waits for nobody."""
        with self._state:
            if self._dead is None:
                self._queue.put(batch)
                return None
        self.stats.refused_batches += 1
        return self._dead

    def append(self, table: pa.Table, *, lake_table: str, model: str) -> None:
        """Write a batch and wait until it is acknowledged (see ``submit``)."""
        self.submit(table, lake_table=lake_table, model=model).result()

    def flush(self) -> list[Path]:
        """Seal the current spool file now (tests, shutdown, ``raigov`` commands)."""
        assert self._spool is not None
        old = self._spool.roll()
        return self._sealer.seal(old).segments if old else []

    # -- committer -----------------------------------------------------------------
    def _commit_loop(self) -> None:
        try:
            while self._commit_round():
                pass
        except BaseException as exc:  # noqa: BLE001 - the thread stops; everyone learns why
            self._stopped(exc)

    def _commit_round(self) -> bool:
        """One group commit (or a retry of the kept batches); False once closing."""
        batches, stop = self._gather(self._retry.next() if self._backlog else None)
        if self._backlog:
            self._retry_backlog()
        if batches:
            self._inflight = batches
            self._commit_or_keep(batches)
            self._inflight = []
        if stop and self._backlog:     # closing with acknowledged rows the spool refuses
            self._lose(self._backlog, self.health["commit"].last_error or "closing")
            self._backlog = []
        return not stop

    def _gather(self, timeout: float | None) -> tuple[list[_Batch], bool]:
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
        """Kept batches, oldest first, one commit each (each fits the spool alone)."""
        while self._backlog:
            try:
                self._commit([self._backlog[0]])
            except Exception as exc:  # noqa: BLE001 - recorded, retried after a backoff
                self.health["commit"].failed(exc)
                self._refusing = self._capture_error(exc, backlog=True)
                return
            self._backlog.pop(0)
        self._commit_succeeded()

    def _commit_or_keep(self, batches: list[_Batch]) -> None:
        try:
            self._commit(batches)
        except Exception as exc:  # noqa: BLE001 - recorded; see the module docstring
            self.health["commit"].failed(exc)
            for b in batches:
                if not b.failed_once:
                    b.failed_once = True
                    self.stats.failed_batches += b.parts
            if self.durability == "async":     # acknowledged: keep them, refuse new ones
                self._backlog.extend(batches)
                self._refusing = self._capture_error(exc, backlog=True)
            else:
                error = self._capture_error(exc)
                for b in batches:
                    _fail(b.future, error)
            return
        if not self._backlog:
            self._commit_succeeded()

    def _commit_succeeded(self) -> None:
        self.health["commit"].succeeded()
        self._refusing = None
        self._retry.reset()

    def _commit(self, batches: list[_Batch]) -> None:
        assert self._spool is not None
        self._spool.append([f for b in batches for f in b.frames])
        self.stats.commits += 1
        for b in batches:
            self.stats.batches += b.parts
            for lake_table, rows in b.rows_by_table.items():
                self.stats.rows += rows
                self.stats.rows_by_table[lake_table] = self.stats.rows_by_table.get(lake_table, 0) + rows
            if not b.future.done():
                b.future.set_result(None)

    def _stopped(self, exc: BaseException) -> None:
        """The committer stops for good: say so, try one last write, fail the rest."""
        why = h.describe(exc)
        self.health["commit"].stopped = why
        with self._state:     # from here on nothing more is queued
            self._dead = CaptureError(h.THREAD_STOPPED.format(
                thread="raigov-commit", why=why, consequence=h.COMMIT_STOPPED))
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
                _fail(b.future, self._dead)

    def _take_queued(self) -> list[_Batch]:
        out = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            if item is not None:
                out.append(item)

    def _lose(self, batches: list[_Batch], why: str) -> None:
        rows = sum(b.rows for b in batches)
        self.stats.lost_rows += rows
        h.log.error(h.ROWS_LOST.format(rows=rows, why=why))

    def _capture_error(self, exc: Exception, *, backlog: bool = False) -> CaptureError:
        if backlog:
            cause = exc.__cause__ if isinstance(exc, SpoolFullError) and exc.__cause__ else exc
            return SpoolFullError(BACKLOG_WAITING.format(path=self._spool_dir(), why=h.describe(cause)))
        return exc if isinstance(exc, CaptureError) else CaptureError(
            COMMIT_FAILED.format(error=h.describe(exc)))

    # -- spool files and sealing ------------------------------------------------------
    def _claim_slot(self) -> SlotLock:
        index = 0
        while True:
            slot = SlotLock(self.home.spool / f"slot-{index:03d}")
            if slot.try_acquire():
                return slot
            index += 1

    def _spool_dir(self) -> Path:
        return self._slot.directory if self._slot else self.home.spool

    def spool_bytes(self) -> int:
        return self._spool.spool_bytes() if self._spool else 0

    def _seal_loop(self) -> None:
        seal, backoff = self.health["seal"], h.Backoff(0.2, 30.0)
        wait = min(self.seal_interval_s, 0.2)
        try:
            while not self._closed.wait(wait):
                try:
                    self._seal_tick()
                except Exception as exc:  # noqa: BLE001 - recorded, retried with backoff
                    seal.failed(exc)
                    wait = backoff.next()
                    continue
                seal.succeeded()
                backoff.reset()
                wait = min(self.seal_interval_s, 0.2)
        except BaseException as exc:  # noqa: BLE001 - the thread stops; health says why
            seal.stopped = h.describe(exc)
            h.log.error("capture seal thread stopped: %s", seal.stopped)

    def _seal_tick(self) -> None:
        assert self._spool is not None
        if time.monotonic() - self._spool.opened >= self.seal_interval_s or \
                self._spool.offset >= self.max_wal_bytes:
            self.flush()
        self._sealer.seal_all(self._spool.directory, but=self._spool.path)   # failed before
        if self._recovery_pending:
            self._recover(raise_errors=True)

    def _recover(self, *, raise_errors: bool = False) -> None:
        try:
            self.recover()
            self._recovery_pending = False
        except Exception as exc:  # noqa: BLE001 - recorded; the sealer retries it
            self._recovery_pending = True
            if raise_errors:
                raise
            self.health["seal"].failed(exc)

    def recover(self) -> int:
        """Seal what crashed writers left in slots nobody holds. Returns files sealed."""
        return self._sealer.recover()

    # -- health ------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What stops capture working as it should now (``/healthz`` answers 503)."""
        backlog = list(self._backlog)
        return h.capture_problems(self.health, durability=self.durability,
                                  backlog_batches=len(backlog),
                                  backlog_rows=sum(b.rows for b in backlog),
                                  lost_rows=self.stats.lost_rows)

    def warnings(self) -> list[str]:
        """What went wrong and was contained (``/healthz`` still answers 200)."""
        s = self.stats
        if s.last_damage is None:
            return []
        return [h.DAMAGE_KEPT.format(ranges=s.damaged_ranges, bytes=s.damaged_bytes,
                                     directory=self.home.spool_quarantine,
                                     reason=s.last_damage.reason)]

    def health_report(self) -> dict[str, object]:
        s = self.stats
        return {"durability": self.durability, "spool_bytes": self.spool_bytes(),
                "backlog_batches": len(self._backlog), "failed_batches": s.failed_batches,
                "refused_batches": s.refused_batches, "lost_rows": s.lost_rows,
                "damaged_ranges": s.damaged_ranges, "damaged_bytes": s.damaged_bytes,
                "threads": {name: t.as_dict() for name, t in self.health.items()}}

    def backlog_batches(self) -> int:
        return len(self._backlog)


def _fail(future: Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _resolve(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():   # a cancelled request's future stays as it is
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
