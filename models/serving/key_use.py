"""``key.used`` ledger events: which API key called ``raigov serve``, rate-limited to one
event per key per interval (default 60 s), written off the request path by one worker
thread so a request never waits on the catalog."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from raigov.home import Home

log = logging.getLogger(__name__)
KEY_USED = "key.used"


class KeyUseLog:
    def __init__(self, home: Home, *, interval_s: float = 60.0) -> None:
        self.home, self.interval_s = home, interval_s
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="key-use")

    def used(self, key: str, route: str) -> None:
        """Count one use of ``key``; record an event at most once per interval."""
        now = time.monotonic()
        with self._lock:
            self._count[key] = self._count.get(key, 0) + 1
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s:
                return
            self._last[key] = now
            count, self._count[key] = self._count[key], 0
        self._pool.submit(self._write, key, route, count)

    def _write(self, key: str, route: str, count: int) -> None:
        from raigov.ledger.chain import append_event
        from raigov.store.catalog import catalog

        try:
            with catalog(self.home) as con:
                append_event(con, KEY_USED, actor=key, subject=f"key:{key}",
                             payload={"key": key, "route": route, "uses": count,
                                      "interval_s": self.interval_s})
        except Exception as exc:  # never fail a request for its audit trail; log it
            log.error("Could not record key.used for %s: %s", key, exc)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
