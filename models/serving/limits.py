"""Bounds on what one request may ask of ``raigov serve``, and where the work of a large
request runs. They apply alike to predict, ``/log``, CloudEvents and feedback.

- **Body**: at most ``max_body_bytes`` (default 4 MiB). A declared ``Content-Length``
  over the cap is refused before a byte is read; a body without one (chunked) is
  counted as it streams and refused once it passes the cap. Either way the answer is
  413, before anything is parsed.
- **Rows**: at most ``max_rows`` per request (default 10,000): predict's and ``/log``'s
  ``rows``, feedback's ``labels``, a CloudEvent's instances or tensor rows; 413 naming
  the count and the cap.
- **Work**: parsing, validating and quarantining a body of ``off_loop_bytes`` or more
  (default 256 KiB) runs in a worker thread, so one large request does not hold up the
  event loop (and every other request) for its whole duration; smaller bodies run
  inline, where the hand-over would cost about as much as the work. Whatever the size,
  the report on values that fail their checks (pandera's, ~0.1-0.2 s even for one row)
  is made in a worker thread (:func:`run_check`). ``tests/benchmarks/
  bench_request_work.py`` measures both.

A refused request is quarantined as one row (the reason, no payload: storing what the
cap refused would defeat it), so it leaves a trace like every other rejected request.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from raigov.errors import ConfigError
from raigov.models.validation import ExplainOffLoop, RowError

if TYPE_CHECKING:
    from starlette.requests import Request

DEFAULT_MAX_BODY_BYTES = 4 << 20
DEFAULT_MAX_ROWS = 10_000
DEFAULT_OFF_LOOP_BYTES = 256 << 10
TOO_LARGE_CHECKS = ("max_body_bytes", "max_rows")   # RowError checks answered 413

BODY_TOO_LARGE = ("the request body is {size} bytes; at most {cap} bytes are accepted "
                  "(raigov serve --max-body-bytes)")
BODY_GREW_TOO_LARGE = ("the request body passed {cap} bytes while it arrived; at most {cap} "
                       "bytes are accepted (raigov serve --max-body-bytes)")
TOO_MANY_ROWS = ("the request has {count} {what}; at most {cap} are accepted per request "
                 "(raigov serve --max-rows)")
BAD_LIMIT = "raigov serve --{option} must be at least 1; got {value}"

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_rows: int = DEFAULT_MAX_ROWS
    off_loop_bytes: int = DEFAULT_OFF_LOOP_BYTES

    def __post_init__(self) -> None:
        for option, value in (("max-body-bytes", self.max_body_bytes),
                              ("max-rows", self.max_rows)):
            if value < 1:
                raise ConfigError(BAD_LIMIT.format(option=option, value=value))


async def read_body(request: "Request", limits: Limits) -> tuple[bytes, RowError | None]:
    """The body, or the reason it is refused (over the cap) with nothing parsed."""
    cap = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        return b"", RowError(None, None, "max_body_bytes",
                             BODY_TOO_LARGE.format(size=int(declared), cap=cap), int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return b"", RowError(None, None, "max_body_bytes", BODY_GREW_TOO_LARGE.format(cap=cap))
        chunks.append(chunk)
    return b"".join(chunks), None


def too_many_rows(items: object, limits: Limits, *, what: str, field: str) -> RowError | None:
    """The row cap's refusal of ``items`` (a list), or None."""
    if isinstance(items, list) and len(items) > limits.max_rows:
        return RowError(None, field, "max_rows", TOO_MANY_ROWS.format(
            count=len(items), what=what, cap=limits.max_rows), len(items))
    return None


def status_for(errors: list[RowError]) -> int:
    """413 when a cap refused the request, else 422."""
    return 413 if any(e.check in TOO_LARGE_CHECKS for e in errors) else 422


async def run_work(limits: Limits, size: int, work: Callable[..., T], *args: object) -> T:
    """``work(*args)``: in a worker thread for a body of ``off_loop_bytes`` or more,
    inline otherwise."""
    if size >= limits.off_loop_bytes:
        return await asyncio.to_thread(work, *args)
    return work(*args)


async def run_check(limits: Limits, size: int, check: Callable[..., T], *args: object) -> T:
    """``check(*args, explain=...)``, a request's checks, as :func:`run_work` runs work;
    inline, it may not explain failed values (``explain=False``): when it would need
    to, it is run again, explaining, in a worker thread."""
    if size < limits.off_loop_bytes:
        try:
            return check(*args, explain=False)
        except ExplainOffLoop:
            pass
    return await asyncio.to_thread(functools.partial(check, *args, explain=True))
