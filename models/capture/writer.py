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
"""

from __future__ import annotations

import asyncio
import errno
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from raigov.models.capture.segments import seal_wal
from raigov.models.capture.spool import SlotLock, encode_frame, fsync_dir, wal_files
from raigov.errors import SpoolFullError
from raigov.home import Home

Durability = Literal["sync", "async"]
ASYNC_GROUP_WINDOW_S = 0.002
SPOOL_FULL = ("The capture spool at {path} cannot take {size} more bytes ({why}). "
              "Rows were not acknowledged; free disk space or raise the spool cap.")


@dataclass
class CaptureStats:
    rows: int = 0
    batches: int = 0
    commits: int = 0
    sealed_segments: int = 0
    recovered_files: int = 0
    failed_batches: int = 0
    last_seal_lag_s: float = 0.0   # age of the oldest row when its file was sealed
    rows_by_table: dict[str, int] = field(default_factory=dict)


@dataclass
class _Batch:
    payload: bytes
    rows_by_table: dict[str, int]
    parts: int = 1                 # tables submitted in it
    future: Future = field(default_factory=Future)


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
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._lock = threading.Lock()           # guards the open spool file
        self._seal_lock = threading.Lock()      # one sealing at a time
        self._slot: SlotLock | None = None
        self._fd: int | None = None
        self._wal: Path | None = None
        self._wal_opened = 0.0
        self._offset = 0
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple]] = {}   # submit_async

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> "CaptureWriter":
        self.recover()
        self._slot = self._claim_slot()
        for wal in wal_files(self._slot.directory):   # our own slot's leftovers
            self._seal(wal)
        self._open_wal()
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
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._wal is not None and self._wal.exists() and self._offset == 0:
            self._wal.unlink()
        if self._slot:
            self._slot.release()

    def __enter__(self) -> "CaptureWriter":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------
    def submit(self, table: pa.Table, *, lake_table: str, model: str) -> Future:
        """Queue a batch; the future resolves once it is durable (sync) or written
        (async), or fails with :class:`SpoolFullError`."""
        batch = _Batch(encode_frame(table, lake_table=lake_table, model=model),
                       {lake_table: table.num_rows})
        if self._closed.is_set():
            raise RuntimeError("capture writer is closed")
        self._queue.put(batch)
        if self.durability == "async":
            done: Future = Future()
            done.set_result(None)
            return done
        return batch.future

    def submit_async(self, table: pa.Table, *, lake_table: str, model: str) -> asyncio.Future:
        """``submit`` for an event loop: the tables submitted in one turn of the loop go
        to the committer as one batch (one hand-over between threads, one wake-up of the
        loop), and the returned future resolves as ``submit``'s would."""
        if self._closed.is_set():
            raise RuntimeError("capture writer is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        pending = self._pending.setdefault(loop, [])
        pending.append((encode_frame(table, lake_table=lake_table, model=model),
                        lake_table, table.num_rows, future))
        if len(pending) == 1:
            loop.call_soon(self._hand_over, loop)
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._pending.pop(loop)
        counts: dict[str, int] = {}
        for _, lake_table, rows, _ in items:
            counts[lake_table] = counts.get(lake_table, 0) + rows
        batch = _Batch(b"".join(item[0] for item in items), counts, len(items))
        waiting = [item[3] for item in items]
        if self._closed.is_set():
            _resolve(waiting, RuntimeError("capture writer is closed"))
            return
        if self.durability == "async":
            self._queue.put(batch)
            _resolve(waiting, None)
            return
        batch.future.add_done_callback(
            lambda done: loop.call_soon_threadsafe(_resolve, waiting, done.exception()))
        self._queue.put(batch)

    def append(self, table: pa.Table, *, lake_table: str, model: str) -> None:
        """Write a batch and wait until it is acknowledged (see ``submit``)."""
        self.submit(table, lake_table=lake_table, model=model).result()

    def flush(self) -> list[Path]:
        """Seal the current spool file now (tests, shutdown, ``raigov`` commands)."""
        with self._lock:
            old = self._roll()
        return self._seal(old) if old else []

    # -- committer -----------------------------------------------------------------
    def _commit_loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batches = [first]
            deadline = time.monotonic() + self.group_window_s
            while True:   # whatever is queued, and what arrives within the group window
                timeout = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=timeout) if timeout > 0 \
                        else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batches.append(item)
            self._commit(batches)

    def _commit(self, batches: list[_Batch]) -> None:
        data = b"".join(b.payload for b in batches)
        try:
            with self._lock:
                self._write(data)
        except SpoolFullError as exc:
            self.stats.failed_batches += sum(b.parts for b in batches)
            for b in batches:
                b.future.set_exception(exc)
            return
        self.stats.commits += 1
        for b in batches:
            self.stats.batches += b.parts
            for lake_table, rows in b.rows_by_table.items():
                self.stats.rows += rows
                self.stats.rows_by_table[lake_table] = self.stats.rows_by_table.get(lake_table, 0) + rows
            b.future.set_result(None)

    def _write(self, data: bytes) -> None:
        assert self._fd is not None and self._wal is not None
        if self.spool_cap_bytes is not None and self._spool_bytes() + len(data) > self.spool_cap_bytes:
            raise SpoolFullError(SPOOL_FULL.format(path=self._wal.parent, size=len(data),
                                                   why=f"cap of {self.spool_cap_bytes} bytes"))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as exc:
            os.ftruncate(self._fd, self._offset)   # drop the partial frame
            os.lseek(self._fd, self._offset, os.SEEK_SET)
            why = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else str(exc)
            raise SpoolFullError(SPOOL_FULL.format(path=self._wal.parent, size=len(data),
                                                   why=why)) from exc
        self._offset += len(data)

    def _spool_bytes(self) -> int:
        """Bytes in this slot's spool files (sealed files are deleted)."""
        assert self._slot is not None
        total = 0
        for path in wal_files(self._slot.directory):
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass  # sealed meanwhile
        return total

    def spool_bytes(self) -> int:
        return self._spool_bytes() if self._slot else 0

    # -- spool files and sealing ------------------------------------------------------
    def _claim_slot(self) -> SlotLock:
        index = 0
        while True:
            slot = SlotLock(self.home.spool / f"slot-{index:03d}")
            if slot.try_acquire():
                return slot
            index += 1

    def _open_wal(self) -> None:
        assert self._slot is not None
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.wal"
        self._wal = self._slot.directory / name
        self._fd = os.open(self._wal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self._slot.directory)
        self._offset = 0
        self._wal_opened = time.monotonic()

    def _roll(self) -> Path | None:
        """Close the open spool file and start a new one (caller holds the lock)."""
        if self._offset == 0 or self._fd is None:
            return None
        old = self._wal
        os.close(self._fd)
        self._fd = None
        self._open_wal()
        return old

    def _seal_loop(self) -> None:
        while not self._closed.wait(min(self.seal_interval_s, 0.2)):
            due = time.monotonic() - self._wal_opened >= self.seal_interval_s
            if due or self._offset >= self.max_wal_bytes:
                try:
                    self.flush()
                except OSError:
                    pass  # disk full while sealing: the spool file stays, retried next tick
            self._retry_unsealed()

    def _retry_unsealed(self) -> None:
        assert self._slot is not None
        for wal in wal_files(self._slot.directory):
            if wal != self._wal:
                try:
                    self._seal(wal)
                except OSError:
                    return

    def _seal(self, wal: Path) -> list[Path]:
        age = time.time() - int(wal.name.split("-")[0]) / 1e9
        with self._seal_lock:
            if not wal.exists():
                return []
            written = seal_wal(self.home, wal)
        self.stats.sealed_segments += len(written)
        self.stats.last_seal_lag_s = age
        return written

    def recover(self) -> int:
        """Seal what crashed writers left in slots nobody holds. Returns files sealed."""
        sealed = 0
        for directory in sorted(p for p in self.home.spool.glob("slot-*") if p.is_dir()):
            slot = SlotLock(directory)
            if not slot.try_acquire():
                continue   # a live writer owns it
            try:
                for wal in wal_files(directory):
                    seal_wal(self.home, wal)
                    sealed += 1
            finally:
                slot.release()
        self.stats.recovered_files += sealed
        return sealed


def _resolve(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():   # a cancelled request's future stays as it is
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
