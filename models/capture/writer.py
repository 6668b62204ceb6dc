"""Capture: acknowledged rows reach the spool durably, then sealed Parquet segments.

One :class:`CaptureWriter` per process owns one spool slot, so writers never contend.
``submit`` hands a batch to the committer thread (:mod:`raigov.models.capture.committer`)
and returns a future; the committer takes every batch waiting at that moment, appends
them to the open spool file with one ``write`` and one ``fsync`` (group commit) and, in
``sync`` durability, resolves their futures after the ``fsync``. Batches submitted while
an ``fsync`` runs form the next commit, so ``sync`` waits for no timer
(``group_window_s``, default 0, can hold a commit open for more). ``async`` durability
resolves futures at once and gathers a commit for ``group_window_s`` (default 2 ms): a
crash of the machine can lose the rows of that last interval; a killed process loses
only batches still queued in memory. A sealer thread rolls the spool file every
``seal_interval_s`` (or ``max_wal_bytes``) and seals it into the lake.

Neither thread fails silently: a failed commit is handled as the committer's docstring
says; a failed seal is recorded and retried with backoff (the rows wait in the spool);
a thread that stops for good is reported. :meth:`CaptureWriter.problems`,
:meth:`~CaptureWriter.warnings` and :meth:`~CaptureWriter.health_report` say what
``/healthz`` shows.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Literal

import pyarrow as pa

from raigov.errors import SpoolFullError
from raigov.home import Home
from raigov.models.capture import health as h
from raigov.models.capture.committer import Batch, CaptureStats, Committer
from raigov.models.capture.sealer import Sealer
from raigov.models.capture.spool import SlotLock, encode_frame, spool_cipher_key
from raigov.models.capture.spool_file import SPOOL_FULL, SpoolFile

Durability = Literal["sync", "async"]
ASYNC_GROUP_WINDOW_S = 0.002
CLOSED = "capture writer is closed"
__all__ = ["CaptureStats", "CaptureWriter", "Durability"]


class CaptureWriter:
    """Durable capture for one process. Use as a context manager or call ``start``
    and ``close``."""

    def __init__(self, home: Home, *, durability: Durability = "sync",
                 group_window_s: float | None = None, seal_interval_s: float = 1.0,
                 max_wal_bytes: int = 64 << 20, spool_cap_bytes: int | None = None,
                 compact_closed_days: bool = True) -> None:
        if durability not in ("sync", "async"):
            raise ValueError(f"durability must be 'sync' or 'async', not {durability!r}")
        self.home = home.ensure()
        from raigov.store.parquet_crypto import load_data_key

        data_key = load_data_key(self.home)      # with a data key, the spool is encrypted
        self._cipher_key = spool_cipher_key(data_key) if data_key is not None else None
        self.durability = durability
        self.seal_interval_s = seal_interval_s
        self.max_wal_bytes = max_wal_bytes
        self.spool_cap_bytes = spool_cap_bytes
        self.stats = CaptureStats()
        self.health = {"commit": h.ThreadHealth("raigov-commit"),
                       "seal": h.ThreadHealth("raigov-seal")}
        window = (group_window_s if group_window_s is not None
                  else ASYNC_GROUP_WINDOW_S if durability == "async" else 0.0)
        self._committer = Committer(durability=durability, group_window_s=window,
                                    stats=self.stats, health=self.health["commit"],
                                    spool_dir=self.home.spool)
        self._sealer = Sealer(self.home, self.stats)
        self._slot: SlotLock | None = None
        self._spool: SpoolFile | None = None
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple]] = {}   # submit_async
        self._recovery_pending = False
        # Compaction of closed days, in a thread of its own, once per UTC day.
        self.compact_closed_days = compact_closed_days
        self._compacted_day: str | None = None
        self._compaction: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> "CaptureWriter":
        self._recover()
        self._slot = self._claim_slot()
        self._spool = self._committer.spool = SpoolFile(self._slot, cap_bytes=self.spool_cap_bytes)
        self._committer.spool_dir = self._slot.directory
        try:
            self._sealer.seal_all(self._slot.directory)    # our own slot's leftovers
        except Exception as exc:  # noqa: BLE001 - recorded; the sealer retries them
            self.health["seal"].failed(exc)
        try:
            self._spool.open()
        except OSError as exc:    # recorded; the first commit tries again
            self.health["commit"].failed(exc)
        for target, name in ((self._committer.run, "raigov-commit"), (self._seal_loop, "raigov-seal")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        """Commit what is queued, seal the open spool file, release the slot."""
        if self._closed.is_set():
            return
        self._committer.finish()
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
        (async), or fails with :class:`~raigov.errors.CaptureError` (a
        :class:`SpoolFullError` when the spool cannot take it)."""
        batch = Batch([encode_frame(table, lake_table=lake_table, model=model,
                                    cipher_key=self._cipher_key)],
                      {lake_table: table.num_rows})
        refusal = self._refusal(batch.size) or self._committer.put(batch)
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
        frame = encode_frame(table, lake_table=lake_table, model=model,
                             cipher_key=self._cipher_key)
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
        batch = Batch([item[0] for item in items], counts, len(items))
        waiting = [item[3] for item in items]
        if self.durability == "sync":
            batch.future.add_done_callback(
                lambda done: loop.call_soon_threadsafe(_resolve, waiting, done.exception()))
        refusal = self._refusal(batch.size) or self._committer.put(batch)
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
        c = self._committer
        refusal = c.dead or (c.refusing if self.durability == "async" else None)
        if refusal is None and self.durability == "async" and self.spool_cap_bytes is not None \
                and size > self.spool_cap_bytes:
            refusal = SpoolFullError(SPOOL_FULL.format(
                path=self.home.spool, size=size, why=f"cap of {self.spool_cap_bytes} bytes"))
        if refusal is not None:
            self.stats.refused_batches += 1
        return refusal

    def append(self, table: pa.Table, *, lake_table: str, model: str) -> None:
        """Write a batch and wait until it is acknowledged (see ``submit``)."""
        self.submit(table, lake_table=lake_table, model=model).result()

    def flush(self) -> list[Path]:
        """Seal the current spool file now (tests, shutdown, ``raigov`` commands)."""
        assert self._spool is not None
        old = self._spool.roll()
        return self._sealer.seal(old).segments if old else []

    # -- spool files and sealing ------------------------------------------------------
    def _claim_slot(self) -> SlotLock:
        index = 0
        while True:
            slot = SlotLock(self.home.spool / f"slot-{index:03d}")
            if slot.try_acquire():
                return slot
            index += 1

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
        self._maybe_compact()

    def _maybe_compact(self) -> None:
        """After a UTC day closes (and once at start), compact the closed days in the
        background; a failure is logged and tried again the next day."""
        import datetime as dt

        today = dt.datetime.now(dt.timezone.utc).date().isoformat()
        if not self.compact_closed_days or self._compacted_day == today or \
                (self._compaction is not None and self._compaction.is_alive()):
            return
        self._compacted_day = today

        def run() -> None:
            from raigov.store.compaction import compact
            try:
                compact(self.home)
            except Exception as exc:  # noqa: BLE001 - logged; compaction is upkeep
                h.log.error("lake compaction failed: %s", h.describe(exc))

        self._compaction = threading.Thread(target=run, name="raigov-compact", daemon=True)
        self._compaction.start()

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
        batches, rows = self._committer.backlog()
        return h.capture_problems(self.health, durability=self.durability, backlog_batches=batches,
                                  backlog_rows=rows, lost_rows=self.stats.lost_rows)

    def warnings(self) -> list[str]:
        """What went wrong and was contained (``/healthz`` still answers 200)."""
        s = self.stats
        if s.last_damage is None:
            return []
        return [h.DAMAGE_KEPT.format(ranges=s.damaged_ranges, bytes=s.damaged_bytes,
                                     directory=self.home.spool_quarantine,
                                     reason=s.last_damage.reason)]

    def backlog_batches(self) -> int:
        return self._committer.backlog()[0]

    def health_report(self) -> dict[str, object]:
        s = self.stats
        return {"durability": self.durability, "spool_bytes": self.spool_bytes(),
                "backlog_batches": self.backlog_batches(), "failed_batches": s.failed_batches,
                "refused_batches": s.refused_batches, "lost_rows": s.lost_rows,
                "damaged_ranges": s.damaged_ranges, "damaged_bytes": s.damaged_bytes,
                "threads": {name: t.as_dict() for name, t in self.health.items()}}


def _resolve(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():   # a cancelled request's future stays as it is
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
