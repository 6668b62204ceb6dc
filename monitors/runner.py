"""The monitor runner: find the windows of each model's traffic that were never
computed, or whose rows or labels have grown (or labels were corrected) since, and
compute every monitor family on them. Idempotent: a second run with nothing new
computes nothing. A window that starts in the future is never computed: its rows
can only be event times set ahead of the clock.

Every registered family runs, built-ins and plugins alike (``run_monitors`` loads the
home's plugins first), except a family whose ``output_kinds`` leave out the model's
kind: that one is skipped, with no rows at all.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from raigov.monitors.base import MetricRow, WindowData, serves_kind
from raigov.monitors.builtin import load_builtin_monitors
from raigov.monitors.store import computed_windows, write_window
from raigov.monitors.version_state import VersionStates, version_cache_dir
from raigov.clock import future_cutoff
from raigov.home import Home
from raigov.ids import uuid7
from raigov.plugins import load_plugins
from raigov.store.lake import lake_connection, partition_day

if TYPE_CHECKING:
    from raigov.monitors.spark_engine import SparkEngine

WINDOW_INTERVALS = {"1h": "1 hour", "1d": "1 day", "7d": "7 days"}


@dataclass(frozen=True)
class WindowKey:
    model: str
    version: int
    start: dt.datetime
    end: dt.datetime
    rows: int
    labelled: int
    corrections: int = 0          # label corrections among the window's predictions
    as_of: dt.datetime | None = None   # rows dated after this (the future) are left out


@dataclass
class WindowResult:
    key: WindowKey
    rows: list[MetricRow]
    run_id: str
    errors: list[str] = field(default_factory=list)


ProgressFn = Callable[[int, int, str], None]


def pending_windows(home: Home, model: str, *, window: str, since: dt.datetime | None = None,
                    until: dt.datetime | None = None, force: bool = False,
                    now: dt.datetime | None = None,
                    on_future: Callable[[list[WindowKey]], None] | None = None,
                    plans: list | None = None) -> list[WindowKey]:
    """Windows with traffic that are new, or whose rows, labels or label corrections
    changed since computed.

    Rows dated in the future (beyond the clock skew of :mod:`raigov.clock`; only an
    older raigov let them in) count for nothing: a window that starts in the future is
    never pending, and a window's own future rows are left out of it. Each window
    holding such rows is handed to ``on_future`` (its ``rows``: how many)."""
    interval = WINDOW_INTERVALS[window]
    cutoff = future_cutoff(now=now)
    step = pd.Timedelta(interval).to_pytimedelta()
    # Incremental: only partitions changed since the last run are scanned (their
    # fingerprints are kept in the catalog); a bounded run prunes by its range instead.
    plan = _Plan.full(home, model, window) if (force or since or until) else _Plan.make(home, model, window)
    lo = since.date() - dt.timedelta(days=1) if since else None
    hi = until.date() if until else None
    if plan.days is not None:
        if not plan.days:
            plan.settle(home, set())
            return []
        lo, hi = min(plan.days), max(plan.days)
    sql = (f"SELECT version, time_bucket(INTERVAL '{interval}', ts, TIMESTAMPTZ '2000-01-03') AS w, "
           f"count(*) FILTER (WHERE ts <= $cutoff), count(y_true) FILTER (WHERE ts <= $cutoff), "
           f"coalesce(sum(label_corrections) FILTER (WHERE ts <= $cutoff), 0), "
           f"count(*) FILTER (WHERE ts > $cutoff) "
           f"FROM labelled GROUP BY ALL ORDER BY w, version")
    with lake_connection(home, model=model, since=lo, until=hi) as con:
        found = con.execute(sql, {"cutoff": cutoff}).fetchall()
    done = {} if force else computed_windows(home, model)
    keys, future = [], []
    for version, start, n, labelled, corrections, ahead in found:
        if (since and start < since) or (until and start >= until):
            continue
        if ahead:
            future.append(WindowKey(model, int(version), start, start + step, int(ahead), 0))
        if not n or done.get((version, start)) == (n, labelled, corrections):
            continue
        keys.append(WindowKey(model, int(version), start, start + step, int(n), int(labelled),
                              int(corrections), as_of=cutoff))
    if not (since or until or force):
        plan.future_days = {d for k in future for d in days_of(k.start, k.end)}
        if plans is not None:        # the caller settles once the windows are computed
            plans.append(plan)
        else:
            plan.settle(home, plan.future_days
                        | {d for k in keys for d in days_of(k.start, k.end)})
    if future and on_future:
        on_future(future)
    return keys


def days_of(start: dt.datetime, end: dt.datetime) -> set[dt.date]:
    """The UTC days a window [start, end) touches: the lake partitions it reads."""
    first, last = start.astimezone(dt.timezone.utc).date(), \
        (end - dt.timedelta(microseconds=1)).astimezone(dt.timezone.utc).date()
    return {first + dt.timedelta(days=i) for i in range((last - first).days + 1)}


def _window_days(day: dt.date, window: str) -> set[dt.date]:
    if window != "7d":
        return {day}
    origin = dt.date(2000, 1, 3)
    first = origin + dt.timedelta(days=((day - origin).days // 7) * 7)
    return {first + dt.timedelta(days=i) for i in range(7)}


@dataclass
class _Plan:
    """Which prediction days a discovery scans (None: all) and what it may settle."""
    model: str
    window: str
    days: set[dt.date] | None
    predictions: dict[dt.date, str]            # current fingerprints of scanned days
    feedback: dict[dt.date, str]
    label_days: dict[dt.date, set[dt.date]] | None   # feedback day -> prediction days
    future_days: set[dt.date] = field(default_factory=set)

    @classmethod
    def _current(cls, home: Home, model: str):
        from raigov.store.lake import partition_fingerprints
        return (partition_fingerprints(home, "predictions", model),
                partition_fingerprints(home, "feedback", model))

    @classmethod
    def full(cls, home: Home, model: str, window: str) -> "_Plan":
        pred, feed = cls._current(home, model)
        return cls(model, window, None, pred, feed, None)

    @classmethod
    def make(cls, home: Home, model: str, window: str) -> "_Plan":
        from raigov.store.catalog import catalog

        pred, feed = cls._current(home, model)
        with catalog(home, read_only=True) as con:
            stored = {(t, d): fp for t, d, fp in con.execute(
                "SELECT lake_table, day, fingerprint FROM lake_scan_state "
                "WHERE model = ? AND window_size = ?", [model, window]).fetchall()}
        if not stored:
            return cls(model, window, None, pred, feed, None)
        changed_p = {d for d, fp in pred.items() if stored.get(("predictions", d)) != fp}
        changed_f = {d for d, fp in feed.items() if stored.get(("feedback", d)) != fp}
        label_days = _label_days(home, model, changed_f)
        if label_days is None:
            return cls(model, window, None, pred, feed, None)
        affected = changed_p | {d for days in label_days.values() for d in days}
        days = {w for d in affected for w in _window_days(d, window)}
        return cls(model, window, days, {d: pred[d] for d in days if d in pred},
                   {d: feed[d] for d in changed_f}, label_days)

    def settle(self, home: Home, pending_days: set[dt.date]) -> None:
        """Record the fingerprints of the scanned days whose windows are all computed."""
        from raigov.store.catalog import catalog

        rows = [("predictions", d, fp) for d, fp in self.predictions.items()
                if d not in pending_days]
        for d, fp in self.feedback.items():
            if self.label_days is None:
                if not pending_days:
                    rows.append(("feedback", d, fp))
            elif not (self.label_days.get(d, set()) & pending_days):
                rows.append(("feedback", d, fp))
        if not rows:
            return
        with catalog(home) as con:
            con.executemany("INSERT INTO lake_scan_state VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                            "(model, window_size, lake_table, day) "
                            "DO UPDATE SET fingerprint = excluded.fingerprint",
                            [(self.model, self.window, t, d, fp) for t, d, fp in rows])


def _label_days(home: Home, model: str, days: set[dt.date]) -> dict[dt.date, set[dt.date]] | None:
    """For each feedback day, the days of the predictions its labels are for. Ids are
    UUIDv7, so the partitions near the day an id was made are read first (only the id
    and time columns); ids not found there (a backdated or caller's own id) are looked
    for in the other partitions."""
    import duckdb
    import pyarrow as pa

    from raigov.store.id_lookup import uuid7_day
    from raigov.store.lake import (partition_dir, partition_files, partitions, reading,
                                   segment_relation)

    out: dict[dt.date, set[dt.date]] = {}
    if not days:
        return out
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        with reading(home):
            by_id: dict[str, set[dt.date]] = {}
            for day in sorted(days):
                files = [str(p) for p in partition_files(partition_dir(home, "feedback", model,
                                                                       day.isoformat()))]
                if files:
                    source = segment_relation(con, home, files, "_labels",
                                              columns=["prediction_id"])
                    for (pid,) in con.execute("SELECT DISTINCT prediction_id FROM "
                                              f"{source}").fetchall():
                        by_id.setdefault(pid, set()).add(day)
            if not by_id:
                return out
            all_dirs = {partition_day(d): d for d in partitions(home, "predictions", model)}
            near = {d + dt.timedelta(days=k) for pid in by_id
                    for d in [uuid7_day(pid)] if d is not None for k in (-1, 0, 1)}
            found: dict[str, set[dt.date]] = {}

            def look(chosen: list[dt.date], ids: list[str]) -> None:
                files = [str(p) for d in chosen for p in partition_files(all_dirs[d])]
                if not files or not ids:
                    return
                con.register("wanted", pa.table({"prediction_id": pa.array(ids, pa.string())}))
                try:
                    source = segment_relation(con, home, files, "_predictions",
                                              columns=["prediction_id", "ts"])
                    for pid, day in con.execute(
                            "SELECT DISTINCT prediction_id, CAST(ts AS DATE) FROM "
                            f"{source} WHERE prediction_id IN "
                            "(SELECT prediction_id FROM wanted)").fetchall():
                        found.setdefault(pid, set()).add(day)
                finally:
                    con.unregister("wanted")

            look(sorted(d for d in near if d in all_dirs), list(by_id))
            missing = [pid for pid in by_id if pid not in found]
            look(sorted(d for d in all_dirs if d not in near), missing)
    finally:
        con.close()
    for pid, feedback_days in by_id.items():
        for day in feedback_days:
            out.setdefault(day, set()).update(found.get(pid, set()))
    return out


def load_window(home: Home, key: WindowKey, *,
                states: VersionStates | None = None) -> WindowData:
    """One window's rows with its version's spec, reference and reference profile
    (taken from ``states`` when given, so a run reads each version's once)."""
    states = states or VersionStates(home)
    registered = states.model(key.model, key.version)
    days = days_of(key.start, key.end)
    with lake_connection(home, model=key.model, since=min(days) - dt.timedelta(days=1),
                         until=max(days) + dt.timedelta(days=1)) as con:
        frame = con.execute("SELECT * EXCLUDE (model, date) FROM labelled "
                            "WHERE version = ? AND ts >= ? AND ts < ? AND ts <= ? "
                            "ORDER BY ts, prediction_id",
                            [key.version, key.start, key.end, key.as_of or key.end]).df()
    from raigov.store.window_quarantine import quarantined_in_window

    quarantined = quarantined_in_window(home, model=key.model, version=key.version,
                                        start=key.start, end=min(key.end, key.as_of or key.end))
    return WindowData(spec=registered.spec, version=key.version, start=key.start, end=key.end,
                      frame=frame, reference=states.reference(key.model, key.version),
                      artifact_dir=registered.artifact_dir,
                      reference_profile=states.profile(key.model, key.version),
                      cache_dir=version_cache_dir(home, key.model, key.version),
                      quarantined=quarantined)


def compute_window(window: WindowData, *, families: tuple[str, ...] | None = None) -> tuple[list[MetricRow], list[str]]:
    """Every registered family on one window; a family that crashes yields a
    ``monitor.error`` row (shown, never skipped in silence)."""
    rows: list[MetricRow] = []
    errors: list[str] = []
    for family, cls in load_builtin_monitors().items():
        if families and family not in families:
            continue
        if not serves_kind(cls, window.spec.output_kind):
            continue   # the family does not apply to this kind of model
        try:
            rows.extend(cls().run(window))
        except Exception as exc:  # noqa: BLE001 - recorded as an error row
            message = f"{family} monitor failed: {type(exc).__name__}: {exc}"
            errors.append(message)
            rows.append(MetricRow("monitor.error", None, segment=family, status="error",
                                  details={"error": message,
                                           "traceback": traceback.format_exc(limit=5)}))
    return rows, errors


LOCK_HOLDER = "pid {pid} since {since} ({argv})"
MODEL_BUSY = ("model '{model}' skipped: another monitor run holds its lock ({holder}); "
              "pass --wait to wait for it")
CommitFn = Callable[[WindowResult], None]


def monitor_lock_path(home: Home, model: str) -> Path:
    """The lock one monitor run holds while it computes and commits a model's windows."""
    from raigov.store.lake import model_key

    return home.root / "locks" / f"monitor-{model_key(model)}.lock"


def _holder_text() -> str:
    import os
    import sys

    argv = " ".join(["raigov", *sys.argv[1:]])[:200] if sys.argv else "raigov"
    return LOCK_HOLDER.format(pid=os.getpid(), since=dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds"), argv=argv)


def _write_only(home: Home) -> CommitFn:
    def commit(result: WindowResult) -> None:
        key = result.key
        write_window(home, model=key.model, version=key.version, start=key.start, end=key.end,
                     rows=result.rows, n_rows=key.rows, n_labelled=key.labelled,
                     run_id=result.run_id, n_corrections=key.corrections)
    return commit


_WORKER_HOME: Home | None = None
_WORKER_STATES: VersionStates | None = None


def _worker_start(root: str) -> None:
    """A worker of ``--jobs``: Ctrl-C is the parent's to handle (it stops the run)."""
    import signal

    global _WORKER_HOME, _WORKER_STATES
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_HOME = Home.resolve(root)
    _WORKER_STATES = VersionStates(_WORKER_HOME)
    load_plugins(_WORKER_HOME)


def _worker_compute(key: WindowKey, families: tuple[str, ...] | None) -> tuple[list[MetricRow], list[str]]:
    assert _WORKER_HOME is not None
    return compute_window(load_window(_WORKER_HOME, key, states=_WORKER_STATES),
                          families=families)


def _computed(home: Home, pending: list[WindowKey], *, families: tuple[str, ...] | None,
              jobs: int, states: VersionStates, engine: "SparkEngine | None" = None):
    """(key, rows, errors) for each pending window, in order: computed here one after
    another, or by ``jobs`` worker processes at once (each window is read and computed
    in a worker; nothing is written there)."""
    if engine is not None:   # an aggregating engine (raigov.monitors.spark_engine)
        for key in pending:
            with engine.window(home, key, states) as window:
                computed = compute_window(window, families=families)
            yield (key, *computed)
        return
    if jobs <= 1 or len(pending) <= 1:
        for key in pending:
            yield (key, *compute_window(load_window(home, key, states=states),
                                        families=families))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=min(jobs, len(pending)),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(str(home.root),))
    try:
        futures = [pool.submit(_worker_compute, key, families) for key in pending]
        for key, future in zip(pending, futures):
            yield (key, *future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_monitors(home: Home, *, model: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, families: tuple[str, ...] | None = None,
                 force: bool = False, on_progress: ProgressFn | None = None,
                 on_window: Callable[[WindowResult], None] | None = None,
                 on_future: Callable[[list[WindowKey]], None] | None = None,
                 now: dt.datetime | None = None, commit: CommitFn | None = None,
                 wait: bool = False, jobs: int = 1,
                 on_busy: Callable[[str, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 states: VersionStates | None = None,
                 engine: "SparkEngine | None" = None) -> list[WindowResult]:
    """Compute every pending window of one model (or all); returns what was computed.
    Windows that start in the future are left alone and reported to ``on_future``.

    One run at a time per model: the run holds the model's lock (an ``flock``, so a
    killed run releases it) from finding its pending windows to committing the last.
    A model whose lock another run holds is waited for (``wait``) or skipped and
    reported to ``on_busy(model, holder)``. ``commit`` writes one window's results as
    one catalog unit (default: its metric rows and computed mark); a window whose
    commit never happened is pending again for the next run. ``jobs`` > 1 computes
    windows in that many worker processes; commits stay serial, in window order.
    ``should_stop`` is asked before each window: once it says yes, the windows not yet
    committed are abandoned (left pending) and the run returns. ``states`` keeps what
    the run derives per version (the caller's, to share it with ``commit``). ``engine``:
    an aggregating engine computing each window's counts where its rows lie
    (:class:`raigov.monitors.spark_engine.SparkEngine`; default: DuckDB in this process)."""
    from raigov.durable import held_lock
    from raigov.models.registry import list_models

    load_plugins(home)
    models = [m for m in list_models(home) if model is None or m.name == model]
    if model is not None and not models:
        from raigov.models.registry import get_model
        get_model(home, model)  # raises NotFoundError with close matches
    from raigov.store.compaction import compact

    from raigov.models.erasure import apply_retention

    commit = commit or _write_only(home)
    states = states or VersionStates(home)
    run_id, results = uuid7(), []
    for m in models:
        if should_stop and should_stop():
            break
        path = monitor_lock_path(home, m.name)
        with held_lock(path, wait=wait, holder=_holder_text()) as held:
            if not held:
                from raigov.durable import lock_holder

                if on_busy:
                    on_busy(m.name, lock_holder(path) or "a process that has since ended")
                continue
            apply_retention(home, model=m.name, now=now)   # expired days go,
            compact(home, model=m.name, now=now)           # closed days become one file each
            plans: list[_Plan] = []
            pending = pending_windows(home, m.name, window=m.spec.monitoring.window,
                                      since=since, until=until, force=force, now=now,
                                      on_future=on_future, plans=plans)
            stopped = False
            for i, (key, rows, errors) in enumerate(_computed(home, pending, families=families,
                                                              jobs=jobs, states=states,
                                                              engine=engine)):
                if on_progress:
                    on_progress(i, len(pending),
                                f"{key.model} v{key.version} {key.start:%Y-%m-%d %H:%M}")
                result = WindowResult(key, rows, run_id, errors)
                commit(result)
                results.append(result)
                if on_window:
                    on_window(result)
                if should_stop and should_stop() and i + 1 < len(pending):
                    stopped = True
                    break   # the window in hand is committed; the rest stay pending
            if not stopped:
                for plan in plans:   # every pending window of this model is computed now
                    plan.settle(home, plan.future_days)
            if on_progress:
                on_progress(len(pending), len(pending), "done")
    return results
