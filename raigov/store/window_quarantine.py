"""How many rows of one model version the server rejected (and quarantined) within a
window, by event time: what ``quality.quarantine_rate`` is made of.

A quarantined row counts at the request's event time (``ts``) where the request gave a
valid one, otherwise at the moment it was received (``received_at``; rows written
before ``ts`` existed read it as NULL). Quarantine partitions are dated by
``received_at``, and a row is never received before its event time (beyond the clock
skew), so only partitions from the day before the window's start on are read.
"""

from __future__ import annotations

import datetime as dt

from raigov.home import Home
from raigov.store.lake import reading, table_source

_COUNT = ("SELECT count(*) FROM {source} WHERE version = ? "
          "AND coalesce(ts, received_at) >= ? AND coalesce(ts, received_at) < ?")


def quarantined_in_window(home: Home, *, model: str, version: int, start: dt.datetime,
                          end: dt.datetime) -> int:
    """Rows of ``model`` version ``version`` quarantined with an event time in
    ``[start, end)``."""
    import duckdb

    since = start.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        with reading(home):
            # quarantine segments are small: encrypted ones are decrypted whole
            source = table_source(con, home, "quarantine", "_decrypted_quarantine",
                                  model=model, since=since, until=None)
            count = con.execute(_COUNT.format(source=source), [version, start, end]).fetchone()
    finally:
        con.close()
    return int(count[0])
