"""Where the catalog lives: ``RAIGOV_CATALOG_URL``.

- unset or empty: the home's DuckDB file (``<home>/catalog.duckdb``), one host;
- ``duckdb:///absolute/path.duckdb``: a DuckDB file elsewhere;
- ``postgresql://user:password@host:port/database`` (or ``postgres://``, and any
  libpq parameter in the query string, ``?sslmode=require`` for one): a PostgreSQL
  database that several hosts share. A password can also come from ``PGPASSWORD`` or
  ``~/.pgpass``, as for every libpq client, which keeps it out of the URL.

Nothing is connected here; :func:`catalog_target` only reads and checks the URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from raigov.errors import ConfigError
from raigov.home import Home

ENV = "RAIGOV_CATALOG_URL"
BAD_URL = ("{env}={shown} is not a catalog URL: {problem}. Use postgresql://user@host:port/"
           "database, duckdb:///path/to/catalog.duckdb, or leave it unset for the home's "
           "catalog.duckdb.")


@dataclass(frozen=True)
class CatalogTarget:
    """A DuckDB file (``path``) or a PostgreSQL database (``url``)."""

    path: Path | None = None
    url: str | None = None

    @property
    def key(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)

    @property
    def display(self) -> str:
        """The URL without its password, for messages and ``doctor``."""
        return str(self.path) if self.path is not None else redact(str(self.url))

    @property
    def engine(self) -> str:
        return "duckdb" if self.path is not None else "postgresql"


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def catalog_target(home: Home, url: str | None = None) -> CatalogTarget:
    raw = (os.environ.get(ENV, "") if url is None else url).strip()
    if not raw:
        return CatalogTarget(path=home.catalog_path)
    parts = urlsplit(raw)

    def bad(problem: str) -> ConfigError:
        return ConfigError(BAD_URL.format(env=ENV, shown=redact(raw), problem=problem))

    if parts.scheme == "duckdb":
        if parts.netloc or not parts.path.startswith("/"):
            raise bad("a duckdb URL names an absolute file path (three slashes)")
        return CatalogTarget(path=Path(parts.path))
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/"):
            raise bad("it names no database (the path after host:port)")
        try:
            parts.port
        except ValueError as exc:
            raise bad(f"its port is not a number ({exc})") from None
        return CatalogTarget(url=raw)
    raise bad(f"unknown scheme {parts.scheme or '(none)'!r}")
