"""Event times a client may set, judged against the server clock.

A prediction's ``timestamp``, a logged row's, a CloudEvent's ``ce-time`` and a label's
arrival time place evidence in a monitoring window. A time more than the clock skew
(``raigov serve --max-clock-skew-s``, default 300 s) ahead of the server clock is
refused (422): nobody may fill tomorrow's window today. A time more than the skew in
the past is a backfill: only a caller whose key has scope ``backfill`` may send one
(403 otherwise). Both are quarantined with the reason like any rejected row.

:func:`judge_event_time` is the rule, pure; :func:`event_time_errors` applies it to the
times of one request and gives the row errors the routes answer and quarantine with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

from raigov.models.validation import RowError

if TYPE_CHECKING:
    from raigov.models.serving.auth import Caller

EventTimeCheck = Literal["future", "backfill"]
BACKFILL_SCOPE = "backfill"

IN_THE_FUTURE = ("event time {ts} in '{field}' is {ahead} ahead of the server clock ({now}); "
                 "at most the clock skew of {skew} ahead is accepted")
NEEDS_BACKFILL = ("event time {ts} in '{field}' is {behind} behind the server clock ({now}), "
                  "more than the clock skew of {skew}: an event time in the past needs an "
                  "API key with scope 'backfill'")


@dataclass(frozen=True)
class EventTimeVerdict:
    """Why an event time is refused: ``status`` 422 (in the future) or 403 (a past
    time from a caller without scope ``backfill``)."""

    status: int
    check: EventTimeCheck
    message: str


def judge_event_time(ts: dt.datetime, *, now: dt.datetime, skew_s: float, may_backfill: bool,
                     field: str = "timestamp") -> EventTimeVerdict | None:
    """None when ``ts`` is accepted; otherwise the refusal. Times are compared in UTC
    (a naive one is UTC); ``skew_s`` bounds both directions."""
    ts, now = _utc(ts), _utc(now)
    offset = (ts - now).total_seconds()
    words = {"ts": ts.isoformat(), "field": field, "now": now.isoformat(),
             "skew": f"{skew_s:g} s"}
    if offset > skew_s:
        return EventTimeVerdict(422, "future", IN_THE_FUTURE.format(ahead=_span(offset), **words))
    if offset < -skew_s and not may_backfill:
        return EventTimeVerdict(403, "backfill",
                                NEEDS_BACKFILL.format(behind=_span(-offset), **words))
    return None


def event_time_errors(times: Iterable[tuple[int | None, str, dt.datetime | None]], *,
                      now: dt.datetime, skew_s: float, may_backfill: bool) -> list[RowError]:
    """One row error per refused time of ``(row, field, time)`` (row None: the request's
    own time; time None: not given, so now, accepted); check ``future`` or ``backfill``."""
    errors = []
    for row, field, ts in times:
        if ts is None:
            continue
        verdict = judge_event_time(ts, now=now, skew_s=skew_s, may_backfill=may_backfill,
                                   field=field)
        if verdict is not None:
            errors.append(RowError(row, field, verdict.check, verdict.message, _utc(ts).isoformat()))
    return errors


def refusal_status(errors: Iterable[RowError]) -> int:
    """403 when every problem is a past time that needed scope ``backfill``, else 422."""
    checks = {e.check for e in errors}
    return 403 if checks == {"backfill"} else 422


def may_backfill(caller: "Caller | None") -> bool:
    """Whether the request's caller may send past event times (``NO_AUTH_CALLER``, a
    server run without authentication, may do everything)."""
    return caller is None or caller.may(BACKFILL_SCOPE)


def _utc(moment: dt.datetime) -> dt.datetime:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _span(seconds: float) -> str:
    """A duration as a person reads it: 45 s, 10.0 min, 3.0 h, 400.0 days."""
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
