"""Windows that cannot move an alert: a window that starts in the future never counts
towards auto-resolution nor becomes the alert's last seen one, and only windows judged
with enough data (``pass``, never ``insufficient_data``) resolve it; the resolving
ledger event names its window."""

from __future__ import annotations

import dataclasses
import datetime as dt

from raigov.canonical import iso_utc, utcnow
from raigov.clock import DEFAULT_MAX_CLOCK_SKEW_S, starts_in_future
from raigov.home import Home
from raigov.policies import alerts as al
from tests.policies.test_alerts import finding, ledger, record

TODAY = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def on_day(status: str, offset_days: int):
    """A finding like test_alerts' for the window starting ``offset_days`` from today."""
    base = finding(status, 0)
    start = TODAY + dt.timedelta(days=offset_days)
    return dataclasses.replace(base, window_start=start, window_end=start + dt.timedelta(days=1))


def test_passing_windows_in_the_future_never_resolve_an_alert(home: Home) -> None:
    [alert_id] = record(home, on_day("fail", -3)).opened
    summary = record(home, on_day("pass", 1), on_day("pass", 2))
    [alert] = al.list_alerts(home)
    assert summary.auto_resolved == ()
    assert (alert.status, alert.passing_streak, alert.last_pass_window_start) == ("open", 0, None)
    assert ledger(home, "alert.auto_resolved") == []
    real = record(home, on_day("pass", -2), on_day("pass", -1))
    assert real.auto_resolved == (alert_id,)


def test_a_failing_window_in_the_future_does_not_block_later_real_passes(home: Home) -> None:
    record(home, on_day("fail", -3))
    record(home, on_day("fail", 5))                          # rows an older raigov let in
    [alert] = al.list_alerts(home)
    assert alert.last_seen_window_start == TODAY - dt.timedelta(days=3)
    assert record(home, on_day("pass", -2), on_day("pass", -1)).auto_resolved != ()


def test_windows_without_enough_data_never_resolve_and_the_resolving_window_is_named(
        home: Home) -> None:
    [alert_id] = record(home, on_day("fail", -6)).opened
    assert record(home, on_day("insufficient_data", -5),
                  on_day("insufficient_data", -4)).auto_resolved == ()
    [alert] = al.list_alerts(home)
    assert (alert.status, alert.passing_streak) == ("open", 0)
    assert record(home, on_day("pass", -3), on_day("pass", -2)).auto_resolved == (alert_id,)
    [event] = ledger(home, "alert.auto_resolved")
    resolving = TODAY - dt.timedelta(days=2)
    assert event.payload["window_start"] == iso_utc(resolving)
    assert event.payload["window_end"] == iso_utc(resolving + dt.timedelta(days=1))
    assert event.payload["comment"] == al.AUTO_RESOLVED_COMMENT.format(
        streak=2, window=resolving.isoformat())


def test_the_future_starts_beyond_the_clock_skew() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    skew = dt.timedelta(seconds=DEFAULT_MAX_CLOCK_SKEW_S)
    assert not starts_in_future(now + skew, now=now)
    assert starts_in_future(now + skew + dt.timedelta(seconds=1), now=now)
    assert starts_in_future((now + dt.timedelta(days=1)).replace(tzinfo=None), now=now)
