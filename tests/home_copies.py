"""Template homes and their copies with the stores that live outside a home.

A home's folder holds its spool, keys and artifacts; under the test matrix
(``RAIGOV_TEST_CATALOG=postgresql``, ``RAIGOV_TEST_LAKE=s3``) its catalog is a database
of the session's PostgreSQL server and its lake a prefix of the session's S3 bucket,
named by ``RAIGOV_CATALOG_URL`` and ``RAIGOV_LAKE_URL``. A template made once per
session keeps stores of its own (:func:`own_stores`); :func:`copy_home` copies the folder
and, where they are outside it, the catalog (``CREATE DATABASE ... TEMPLATE``) and the
lake's objects, and points this test at the copies (the autouse fixtures in
``tests/conftest.py`` restore the variables after the test).
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from raigov.home import Home

CATALOG_ENV = "RAIGOV_CATALOG_URL"
LAKE_ENV = "RAIGOV_LAKE_URL"
# The matrix switches (see tests/conftest.py and the README's "Scaling out").
PG_MATRIX = os.environ.get("RAIGOV_TEST_CATALOG", "duckdb") == "postgresql"
S3_MATRIX = os.environ.get("RAIGOV_TEST_LAKE", "local") == "s3"


@dataclass(frozen=True)
class Stores:
    catalog_url: str | None      # None: the home's own catalog.duckdb
    lake_url: str | None         # None: the home's own lake/

    def environment(self) -> dict[str, str | None]:
        return {CATALOG_ENV: self.catalog_url, LAKE_ENV: self.lake_url}


_MADE: dict[Path, Stores] = {}        # template homes -> the stores they were made with


def current() -> Stores:
    return Stores(_pg_url(os.environ.get(CATALOG_ENV)), _s3_url(os.environ.get(LAKE_ENV)))


def _pg_url(url: str | None) -> str | None:
    return url if url and url.startswith("postgresql://") else None


def _s3_url(url: str | None) -> str | None:
    return url if url and url.startswith("s3://") else None


def set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _new_database(like: str, template: str | None = None) -> str:
    """A new database on the server of URL ``like`` (a copy of ``template``'s URL)."""
    import psycopg

    base, _, _ = like.rpartition("/")
    name = f"c_{secrets.token_hex(8)}"
    clause = f' TEMPLATE "{template.rpartition("/")[2]}"' if template else ""
    with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"{clause}')
    return f"{base}/{name}"


def _s3():
    from pyarrow import fs

    return fs.S3FileSystem(access_key=os.environ["AWS_ACCESS_KEY_ID"],
                           secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                           endpoint_override=os.environ["AWS_ENDPOINT_URL"].removeprefix("http://"),
                           scheme="http", region=os.environ.get("AWS_REGION", "us-east-1"))


def _new_prefix(like: str) -> str:
    bucket = like.removeprefix("s3://").split("/", 1)[0]
    return f"s3://{bucket}/copy-{secrets.token_hex(6)}"


@contextmanager
def own_stores(request) -> Iterator[Stores]:
    """Stores of its own for a template made inside the block (the variables point at
    them meanwhile); outside the matrix, the home's own files (nothing changes).
    ``request`` is the (session) fixture's: the session's server and endpoint come
    from it, since a session fixture is made before a test's autouse ones."""
    catalog = lake = None
    extra: dict[str, str] = {}
    if PG_MATRIX:
        catalog = request.getfixturevalue("pg_cluster").create_database()
    if S3_MATRIX:
        endpoint = request.getfixturevalue("s3_endpoint")
        lake = endpoint.fresh_lake_url("template")
        extra = endpoint.environment()
    mine = Stores(catalog, lake)
    values = {**extra, **{k: v for k, v in mine.environment().items() if v is not None}}
    saved = {name: os.environ.get(name) for name in values}
    set_environment(values)
    try:
        yield mine
    finally:
        set_environment(saved)


def remember(home: Home, stores: Stores) -> Home:
    _MADE[home.root.resolve()] = stores
    return home


def stores_of(home: Home) -> Stores:
    """What ``home`` was made with: a template's own stores, else this test's."""
    return _MADE.get(home.root.resolve(), current())


def copy_home(source: Home, target: Path, *, activate: bool = True) -> tuple[Home, Stores]:
    """A private copy of ``source`` at ``target``: the folder, and its catalog database
    and lake objects when they are outside it. With ``activate`` this test's variables
    name the copies; returns the home and its stores."""
    shutil.copytree(source.root, target)
    stores = stores_of(source)
    # With ``activate`` the objects go to this test's own (fresh) prefix, the one its
    # fixtures (``s3_lake``) name; else to a new prefix.
    own = current().lake_url if activate else None
    lake = (own if own and own != stores.lake_url else _new_prefix(stores.lake_url)) \
        if stores.lake_url else None
    copied = Stores(_new_database(stores.catalog_url, template=stores.catalog_url)
                    if stores.catalog_url else None, lake)
    if stores.lake_url:
        from pyarrow import fs

        s3 = _s3()
        source_root = stores.lake_url.removeprefix("s3://")
        if s3.get_file_info(source_root).type != fs.FileType.NotFound:
            fs.copy_files(source_root, copied.lake_url.removeprefix("s3://"),
                          source_filesystem=s3, destination_filesystem=s3)
    if activate:
        set_environment({k: v for k, v in copied.environment().items() if v is not None})
    return Home.resolve(target), copied
