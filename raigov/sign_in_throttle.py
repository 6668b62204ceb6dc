"""Sign-in throttling kept in the catalog: a failed sign-in costs a delay that doubles
with each further failure of the same name or the same client address, and survives a
dashboard restart (the table ``sign_in_failures``). The table stays bounded: rows whose
last failure is older than :data:`FORGET_AFTER_S` are pruned on every failure, and only
the newest :data:`MAX_ROWS` are kept (an attacker spraying names or addresses cannot
grow it without limit; the oldest, least relevant rows go first)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from raigov.home import Home
from raigov.store.catalog import catalog

FORGET_AFTER_S = 24 * 3600.0
MAX_ROWS = 10_000


def subjects(name: str, address: str | None) -> list[str]:
    """What a sign-in attempt counts against: its name and, when known, its address."""
    found = [f"name:{name.strip().casefold()}"]
    if address:
        found.append(f"address:{address}")
    return found


def failures(home: Home, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
    """``subject -> (failures, last failure Unix time)`` of those that have any."""
    if not keys:
        return {}
    with catalog(home, read_only=True) as con:
        rows = con.execute("SELECT subject, failures, last_failure FROM sign_in_failures "
                           "WHERE subject IN (SELECT unnest(CAST(? AS VARCHAR[])))", [list(keys)]).fetchall()
    return {s: (int(n), float(t)) for s, n, t in rows}


def record_failure(home: Home, keys: Sequence[str], *, now: float | None = None) -> int:
    """Count one more failure against each subject; returns the highest count."""
    now = time.time() if now is None else now
    with catalog(home) as con:
        for key in keys:
            con.execute("INSERT INTO sign_in_failures VALUES (?, 1, ?) ON CONFLICT (subject) "
                        "DO UPDATE SET failures = failures + 1, last_failure = excluded.last_failure",
                        [key, now])
        con.execute("DELETE FROM sign_in_failures WHERE last_failure < ?",
                    [now - FORGET_AFTER_S])
        con.execute("DELETE FROM sign_in_failures WHERE subject IN (SELECT subject FROM "
                    "sign_in_failures ORDER BY last_failure DESC OFFSET ?)", [MAX_ROWS])
        counts = con.execute("SELECT max(failures) FROM sign_in_failures WHERE subject IN "
                             "(SELECT unnest(CAST(? AS VARCHAR[])))", [list(keys)]).fetchone()
    return int(counts[0] or 0)


def clear(home: Home, keys: Sequence[str]) -> None:
    with catalog(home) as con:
        con.execute("DELETE FROM sign_in_failures WHERE subject IN (SELECT unnest(CAST(? AS VARCHAR[])))",
                    [list(keys)])
