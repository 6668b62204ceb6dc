"""The server clock as the judge of event times: how far ahead of it a time may lie.

Clients set event times (a prediction's ``timestamp``, a CloudEvent's ``ce-time``, a
label's arrival). A time further ahead of the clock than a small skew is refused where
it enters (:mod:`raigov.models.serving.event_time`), and a window that starts beyond it
is never judged, never resolves an alert and is never the window ``policy-check
--model`` picks (an old home may hold such rows from before the rule).
"""

from __future__ import annotations

import datetime as dt

from raigov.canonical import utcnow

#: Seconds an event time may lie ahead of the clock (client clocks drift); the default
#: of ``raigov serve --max-clock-skew-s`` and the margin for future windows.
DEFAULT_MAX_CLOCK_SKEW_S = 300.0


def future_cutoff(*, now: dt.datetime | None = None,
                  skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S) -> dt.datetime:
    """The latest moment that is not yet "the future": now plus the skew."""
    return (now or utcnow()) + dt.timedelta(seconds=skew_s)


def starts_in_future(start: dt.datetime, *, now: dt.datetime | None = None,
                     skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S) -> bool:
    """Whether a window starting at ``start`` lies in the future (beyond the skew);
    a naive ``start`` is UTC."""
    moment = start if start.tzinfo is not None else start.replace(tzinfo=dt.timezone.utc)
    return moment > future_cutoff(now=now, skew_s=skew_s)
