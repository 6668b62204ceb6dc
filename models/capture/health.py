"""Health of the capture threads: every failure is recorded (how many, the last error,
when) and retried with backoff; a thread that stops for good says why. The server's
``/healthz`` and ``/metrics`` read these records, so a capture fault is never silent."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from raigov.canonical import iso_utc

log = logging.getLogger("raigov.capture")

THREAD_STOPPED = "capture thread '{thread}' stopped: {why}; {consequence}"
COMMIT_STOPPED = "captures are refused (503) until the server restarts"
SEAL_STOPPED = ("acknowledged rows stay in the spool, unsealed, until the next start "
                "seals them")
SEAL_FAILING = ("sealing the spool into the lake fails since {since} ({errors} errors; "
                "last: {error}); acknowledged rows stay in the spool and sealing is "
                "retried with backoff")
COMMIT_FAILING_SYNC = ("writing the capture spool fails since {since} ({errors} errors; "
                       "last: {error}); those requests were answered 503 and nothing of "
                       "them was acknowledged")
COMMIT_FAILING_ASYNC = ("writing the capture spool fails since {since} ({errors} errors; "
                        "last: {error}); {batches} acknowledged batches ({rows} rows) wait "
                        "in memory and are retried with backoff; new captures are refused "
                        "(503) until the spool takes them")
ROWS_LOST = ("{rows} acknowledged rows could not be written to the spool before the "
             "capture stopped: {why}")
DAMAGE_KEPT = ("{ranges} damaged spool byte ranges ({bytes} bytes) held no valid frame; "
               "every valid frame around them was sealed and the damaged bytes are kept "
               "in {directory} (last: {reason})")


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass
class ThreadHealth:
    """One capture thread's record of failures."""

    thread: str
    errors: int = 0
    last_error: str | None = None
    last_error_at: float | None = None     # epoch seconds
    failing_since: float | None = None     # first failure of the current run of failures
    stopped: str | None = None             # why the thread stopped for good

    def failed(self, exc: BaseException) -> None:
        now = time.time()
        self.errors += 1
        self.last_error, self.last_error_at = describe(exc), now
        if self.failing_since is None:
            self.failing_since = now
        log.warning("capture thread %s failed (%d errors): %s", self.thread, self.errors,
                    self.last_error)

    def succeeded(self) -> None:
        self.failing_since = None

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def failing_text(self, template: str, **extra: object) -> str:
        return template.format(since=_when(self.failing_since), errors=self.errors,
                               error=self.last_error, **extra)

    def as_dict(self) -> dict[str, object]:
        return {"alive": self.stopped is None, "failing": self.failing, "errors": self.errors,
                "last_error": self.last_error, "last_error_at": _when(self.last_error_at),
                "failing_since": _when(self.failing_since), "stopped": self.stopped}


class Backoff:
    """Delays that double from ``first`` up to ``most`` until ``reset``."""

    def __init__(self, first: float = 0.05, most: float = 2.0) -> None:
        self.first, self.most = first, most
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.most)
        return delay

    def reset(self) -> None:
        self._next = self.first


def _when(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    import datetime as dt

    return iso_utc(dt.datetime.fromtimestamp(epoch, dt.timezone.utc))


def capture_problems(threads: dict[str, ThreadHealth], *, durability: str, backlog_batches: int,
                     backlog_rows: int, lost_rows: int) -> list[str]:
    """What stops capture working as it should now (``/healthz`` answers 503)."""
    out = []
    for name, thread in threads.items():
        if thread.stopped is not None:
            out.append(THREAD_STOPPED.format(
                thread=thread.thread, why=thread.stopped,
                consequence=COMMIT_STOPPED if name == "commit" else SEAL_STOPPED))
    commit, seal = threads["commit"], threads["seal"]
    if commit.failing and commit.stopped is None:
        out.append(commit.failing_text(COMMIT_FAILING_SYNC) if durability == "sync" else
                   commit.failing_text(COMMIT_FAILING_ASYNC, batches=backlog_batches,
                                       rows=backlog_rows))
    if seal.failing and seal.stopped is None:
        out.append(seal.failing_text(SEAL_FAILING))
    if lost_rows:
        out.append(ROWS_LOST.format(rows=lost_rows, why=commit.stopped or commit.last_error))
    return out
