"""A lake's files as the tests count them, wherever the lake is (the home's ``lake/`` or a
prefix of an S3 bucket under ``RAIGOV_TEST_LAKE=s3``): listed and read with pyarrow's
own filesystems, never through raigov's readers, so a count here checks them."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pyarrow.parquet as pq
from pyarrow import fs

from raigov.store.lake_fs import LocalLake, fs_of, lake_fs


def _arrow(directory: PurePosixPath | Path):
    owner = fs_of(directory)
    if isinstance(owner, LocalLake):
        return fs.LocalFileSystem(), str(Path(directory))
    return owner.arrow, str(directory)


def names(directory: PurePosixPath | Path, suffix: str = "") -> list[str]:
    """The names of the files directly in ``directory`` ending in ``suffix``, sorted."""
    arrow, root = _arrow(directory)
    infos = arrow.get_file_info(fs.FileSelector(root, allow_not_found=True))
    return sorted(PurePosixPath(i.path).name for i in infos
                  if i.type == fs.FileType.File and i.base_name.endswith(suffix))


def parquet_names(directory: PurePosixPath | Path) -> list[str]:
    return names(directory, ".parquet")


def total_size(directory: PurePosixPath | Path, suffix: str = ".parquet") -> int:
    arrow, root = _arrow(directory)
    infos = arrow.get_file_info(fs.FileSelector(root, allow_not_found=True))
    return sum(i.size for i in infos if i.type == fs.FileType.File and i.base_name.endswith(suffix))


def read_column(path: PurePosixPath | Path, column: str) -> list:
    arrow, where = _arrow(path)
    return pq.read_table(where, filesystem=arrow, columns=[column]).column(0).to_pylist()


def read_bytes(path: PurePosixPath | Path) -> bytes:
    arrow, where = _arrow(path)
    with arrow.open_input_stream(where) as stream:
        return stream.read()


def every_file(home) -> list[tuple[str, bytes]]:
    """Every file under the home's lake, hidden and replaced ones included: (path, bytes)."""
    lake = lake_fs(home)
    arrow, root = _arrow(lake.root)
    infos = arrow.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    found = []
    for info in infos:
        if info.type == fs.FileType.File:
            with arrow.open_input_stream(info.path) as stream:
                found.append((info.path, stream.read()))
    return found


def read_bytes_table(data: bytes):
    """A Parquet file's bytes as a table."""
    import pyarrow as pa

    return pq.read_table(pa.BufferReader(data))
