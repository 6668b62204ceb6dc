"""The event-time rule, pure, and where it is wired: a time more than the clock skew
ahead of the server clock is 422, one more than the skew behind needs scope backfill
(403). Until API keys land, the 403 is checked on the pure function and on the real
app in process, with a caller set by a middleware as the key check will set it."""

from __future__ import annotations

import datetime as dt

import pytest

from raigov.canonical import utcnow
from raigov.errors import InputError
from raigov.models.serving import event_time as et
from raigov.models.validation import RowError

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def judge(**offset: float) -> et.EventTimeVerdict | None:
    return et.judge_event_time(NOW + dt.timedelta(**offset), now=NOW, skew_s=300,
                               may_backfill=False)


def test_times_within_the_skew_either_way_are_accepted() -> None:
    assert judge(minutes=2) is None and judge(minutes=-4) is None and judge() is None
    assert judge(seconds=300) is None and judge(seconds=-300) is None


def test_a_time_ahead_beyond_the_skew_is_422_naming_the_time_the_clock_and_the_skew() -> None:
    verdict = judge(days=400)
    assert verdict == et.EventTimeVerdict(422, "future", et.IN_THE_FUTURE.format(
        ts="2028-01-05T12:00:00+00:00", field="timestamp", ahead="400.0 days",
        now="2026-12-01T12:00:00+00:00", skew="300 s"))
    assert judge(minutes=10).message.split(" is ")[1].startswith("10.0 min ahead")
    assert judge(seconds=301).status == 422


def test_a_past_time_beyond_the_skew_needs_scope_backfill() -> None:
    verdict = judge(days=-30)
    assert verdict == et.EventTimeVerdict(403, "backfill", et.NEEDS_BACKFILL.format(
        ts="2026-11-01T12:00:00+00:00", field="timestamp", behind="30.0 days",
        now="2026-12-01T12:00:00+00:00", skew="300 s"))
    allowed = et.judge_event_time(NOW - dt.timedelta(days=30), now=NOW, skew_s=300,
                                  may_backfill=True)
    assert allowed is None
    future_even_so = et.judge_event_time(NOW + dt.timedelta(days=1), now=NOW, skew_s=300,
                                         may_backfill=True)
    assert future_even_so is not None and future_even_so.status == 422


def test_naive_times_are_utc_and_other_zones_are_converted() -> None:
    naive = (NOW + dt.timedelta(hours=1)).replace(tzinfo=None)
    assert judge_at(naive).status == 422
    paris = dt.datetime(2026, 12, 1, 13, 3, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert judge_at(paris) is None                 # 12:03 UTC: 3 minutes ahead


def judge_at(ts: dt.datetime) -> et.EventTimeVerdict | None:
    return et.judge_event_time(ts, now=NOW, skew_s=300, may_backfill=False)


def test_a_request_is_403_only_when_every_problem_is_a_missing_backfill_scope() -> None:
    errors = et.event_time_errors([(None, "timestamp", NOW - dt.timedelta(days=2)),
                                   (3, "timestamp", None), (4, "timestamp", NOW)],
                                  now=NOW, skew_s=300, may_backfill=False)
    assert [(e.row, e.check) for e in errors] == [(None, "backfill")]
    assert et.refusal_status(errors) == 403
    assert et.refusal_status(errors + [RowError(0, "age", "type", "bad")]) == 422
    assert et.refusal_status(et.event_time_errors([(0, "timestamp", NOW + dt.timedelta(days=1))],
                                                  now=NOW, skew_s=300, may_backfill=False)) == 422


class _Caller:
    def __init__(self, *scopes: str) -> None:
        self.scopes, self.name = set(scopes), "ci-bot"

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def test_no_caller_may_backfill_and_a_caller_only_with_the_scope() -> None:
    assert et.may_backfill(None)
    assert not et.may_backfill(_Caller("predict"))
    assert et.may_backfill(_Caller("predict", "backfill"))


def test_the_logger_may_backfill_but_refuses_times_ahead(model_home, request_rows) -> None:
    from raigov.models.capture.logger import PredictionLogger

    with PredictionLogger("credit-risk", home=model_home) as log:
        past = log.log_predictions(request_rows[:2], labels=[1, 0],
                                   timestamp=utcnow() - dt.timedelta(days=90))
        with pytest.raises(InputError) as caught:
            log.log_predictions(request_rows[:2], labels=[1, 0],
                                timestamp=utcnow() + dt.timedelta(days=3))
        with pytest.raises(InputError) as label_ahead:
            log.log_feedback(past.prediction_ids[:1], [1],
                             received_at=utcnow() + dt.timedelta(hours=1))
    assert all(past.prediction_ids) and len(past.prediction_ids) == 2
    assert str(caught.value).startswith("log_predictions of model 'credit-risk' refused: row 0: ")
    assert "is 3.0 days ahead of the server clock" in str(caught.value)
    assert "'received_at' is 60.0 min ahead" in str(label_ahead.value)
