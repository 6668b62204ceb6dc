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
from raigov.store.lake import is_encrypted, read_encrypted, reading, scan_sql, segment_files

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
            files = segment_files(home, "quarantine", model=model, since=since)
            locked = [f for f in files if is_encrypted(f)]
            decrypted = None
            if locked:   # quarantine segments are small: decrypted whole
                con.register("_decrypted_quarantine", read_encrypted(home, locked))
                decrypted = "_decrypted_quarantine"
            plain = [f for f in files if f not in set(locked)]
            source = scan_sql(home, "quarantine", model=model, files=plain,
                              decrypted=decrypted)
            count = con.execute(_COUNT.format(source=source), [version, start, end]).fetchone()
    finally:
        con.close()
    return int(count[0])
