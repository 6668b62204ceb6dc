"""Where the lake's files live: the one place that touches them as files or objects.

The lake's code names files by paths (``root / table / model=M / date=D / name``) and
asks :func:`fs_of` (or :func:`lake_fs`) what to do with them. A local lake's paths are
``pathlib.Path`` objects under the home's ``lake/`` directory; an object-storage lake's
are ``PurePosixPath`` objects ``bucket/prefix/...`` (see :mod:`raigov.store.lake_s3`),
so the type of a path says which filesystem holds it.

Every backend writes a file so that a reader sees the old content or the whole new
one, never a half file: locally a temporary name, ``fsync``, ``rename``, directory
``fsync``; on object storage one upload of the finished bytes (an object appears only
when its upload completes).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Protocol

import pyarrow as pa


class LakeFS(Protocol):
    """What the lake asks of the place its files live."""

    root: PurePosixPath
    lock_dir: Path        # host-local: where the reader and rewrite locks are taken
    arrow: "pa.fs.FileSystem | None"     # for pyarrow readers; None: plain local paths
    stamped: bool         # whether directories carry change stamps (mtimes)
    duckdb_reads: bool    # whether DuckDB opens these paths itself (else: a pyarrow dataset)

    def exists(self) -> bool: ...
    def names(self, directory: PurePosixPath) -> list[str]: ...
    def subdirs(self, directory: PurePosixPath, prefix: str) -> list[PurePosixPath]: ...
    def existing(self, directories: list[PurePosixPath]) -> list[PurePosixPath]: ...
    def size(self, path: PurePosixPath) -> int: ...
    def read_bytes(self, path: PurePosixPath) -> bytes: ...
    def tail(self, path: PurePosixPath, n: int) -> bytes: ...
    def write_bytes(self, path: PurePosixPath, data: bytes) -> None: ...
    def write_table(self, table: pa.Table, path: PurePosixPath, options: dict) -> None: ...
    def delete(self, path: PurePosixPath) -> None: ...
    def make_dirs(self, *directories: PurePosixPath) -> None: ...
    def hide_partition(self, directory: PurePosixPath, publish_empty) -> object: ...
    def drop_hidden(self, token: object) -> None: ...


class LocalLake:
    """A lake in a local directory (the default: the home's ``lake/``)."""

    arrow = None
    stamped = True
    duckdb_reads = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock_dir = root

    def exists(self) -> bool:
        return self.root.exists()

    def names(self, directory: Path) -> list[str]:
        try:
            return sorted(os.listdir(directory))
        except FileNotFoundError:
            return []

    def subdirs(self, directory: Path, prefix: str) -> list[Path]:
        if not directory.exists():
            return []
        return sorted(p for p in directory.glob(f"{prefix}*") if p.is_dir())

    def existing(self, directories: list[Path]) -> list[Path]:
        return [d for d in directories if d.is_dir()]

    def size(self, path: Path) -> int:
        return path.stat().st_size

    def read_bytes(self, path: Path) -> bytes:
        return path.read_bytes()

    def tail(self, path: Path, n: int) -> bytes:
        with open(path, "rb") as handle:
            handle.seek(-n, os.SEEK_END)
            return handle.read(n)

    def write_bytes(self, path: Path, data: bytes) -> None:
        from raigov.durable import write_durably

        write_durably(path, data, mode=0o600)

    def write_table(self, table: pa.Table, path: Path, options: dict) -> None:
        """A temporary name, fsync, rename, directory fsync."""
        import pyarrow.parquet as pq

        from raigov.durable import fsync_directory

        tmp = path.parent / f".{path.name}.tmp"
        pq.write_table(table, tmp, **options)
        os.chmod(tmp, 0o600)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_directory(path.parent)

    def delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def make_dirs(self, *directories: Path) -> None:
        from raigov.permissions import private_dir

        for directory in directories:
            private_dir(directory)

    def hide_partition(self, directory: Path, publish_empty) -> Path:
        """Rename the partition aside atomically (``publish_empty`` is not needed)."""
        target = directory.parent / f".expired-{directory.name}"
        os.replace(directory, target)
        return target

    def drop_hidden(self, token: Path) -> None:
        shutil.rmtree(token, ignore_errors=True)


_REGISTERED: dict[str, LakeFS] = {}    # object-storage lakes by the text of their root


def register(fs: LakeFS) -> LakeFS:
    """Make ``fs`` the filesystem of every path under its root (see :func:`fs_of`)."""
    _REGISTERED[str(fs.root)] = fs
    return fs


def fs_of(path: PurePosixPath | str) -> LakeFS:
    """The filesystem holding ``path``: a local ``Path`` is a local file; a pure path
    (or its text) lies under an object-storage lake's root."""
    if isinstance(path, Path):
        return LocalLake(path)
    text = str(path)
    for root, fs in _REGISTERED.items():
        if text == root or text.startswith(root + "/"):
            return fs
    return LocalLake(Path(text))


def lake_fs(home) -> LakeFS:
    """The lake of ``home``: ``$RAIGOV_LAKE_URL`` when set (checked once per process,
    see :mod:`raigov.store.lake_s3`), else the home's ``lake/`` directory."""
    from raigov.store.lake_s3 import lake_from_env

    chosen = lake_from_env(home)
    if chosen is None:
        return LocalLake(home.lake)
    if isinstance(chosen, Path):
        return LocalLake(chosen)
    return register(chosen)
