"""The lake on object storage: ``RAIGOV_LAKE_URL=s3://bucket/prefix``.

Objects are read and written through pyarrow's own S3 filesystem
(``pyarrow.fs.S3FileSystem``), configured from the standard AWS variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_REGION``, and ``AWS_ENDPOINT_URL`` for an endpoint other than AWS's). DuckDB
here has no ``httpfs`` extension, so it never opens an ``s3://`` path: plain objects
are scanned as a pyarrow dataset DuckDB reads with projection and filter pushdown
(:meth:`S3Lake.dataset`), encrypted ones are decrypted through pyarrow as on disk.

Atomicity. An object becomes visible only when its upload completes (a single PUT, or
the completion of a multipart upload), and S3 lists and reads what was written after
the write returns (strong read-after-write consistency). Every object is therefore
written whole from memory: the Parquet bytes are built in a buffer, then uploaded in
one call, so a failure while encoding uploads nothing and a killed upload leaves no
object. Sealing names segments after the spool file, so a reseal overwrites the same
key with the same rows. A rewrite (compaction, erasure) uploads its new ``c-`` objects
first and only then overwrites ``_manifest.json``: the manifest never names an object
that is not there yet, and the old objects are deleted after it. Retention publishes a
manifest that lists no file (the partition is empty at that instant), deletes the
files it hid, then the manifest.

Locks. The reader and rewrite locks are ``flock`` files in the home's ``lake-locks/``
(host-local): readers and rewriters on one host are kept apart as on disk. A reader on
another host is not: a superseded object may be deleted while it reads (it fails and
reads again); a directory has no mtime, so partitions are always listed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pyarrow as pa

from raigov.errors import ConfigError, did_you_mean

LAKE_URL_ENV = "RAIGOV_LAKE_URL"
SCHEMES = ("s3", "file")
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_REGION", "AWS_ENDPOINT_URL")

UNKNOWN_SCHEME = ("{env}={url!r}: unknown scheme {scheme!r}; expected a local path, "
                  "file:///path or s3://bucket/prefix.{hint}")
NO_BUCKET = ("{env}={url!r} names no bucket; write it as s3://bucket or "
             "s3://bucket/prefix.")
UNREACHABLE = ("{env}={url!r}: cannot reach the object store at {endpoint} ({reason}). "
               "Check AWS_ENDPOINT_URL, AWS_REGION and the credentials "
               "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).")
NO_SUCH_BUCKET = ("{env}={url!r}: the bucket {bucket!r} does not exist at {endpoint}; "
                  "create it first.")


def lake_from_env(home) -> "S3Lake | Path | None":
    """The lake ``$RAIGOV_LAKE_URL`` names for ``home``: an :class:`S3Lake`, a local
    directory, or None when the variable is unset."""
    url = os.environ.get(LAKE_URL_ENV, "").strip()
    if not url:
        return None
    aws = tuple(os.environ.get(name) for name in AWS_VARIABLES)
    return _lake(url, str(home.root), aws)


@lru_cache(maxsize=8)
def _lake(url: str, home_root: str, aws: tuple[str | None, ...]):
    """One checked filesystem per process and configuration (a check costs a request)."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return Path(parts.path or url).expanduser().resolve()
    if parts.scheme != "s3":
        raise ConfigError(UNKNOWN_SCHEME.format(env=LAKE_URL_ENV, url=url, scheme=parts.scheme,
                                                hint=did_you_mean(parts.scheme, SCHEMES)))
    if not parts.netloc:
        raise ConfigError(NO_BUCKET.format(env=LAKE_URL_ENV, url=url))
    root = PurePosixPath(parts.netloc, *[p for p in parts.path.split("/") if p])
    lake = S3Lake(_filesystem(dict(zip(AWS_VARIABLES, aws))), root,
                  lock_dir=Path(home_root) / "lake-locks")
    lake.check(url)
    return lake


def _filesystem(env: dict[str, str | None]):
    from pyarrow import fs

    options: dict = {"region": env["AWS_REGION"] or "us-east-1", "connect_timeout": 3.0,
                     "request_timeout": 30.0,
                     "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=3)}
    if env["AWS_ACCESS_KEY_ID"]:
        options.update(access_key=env["AWS_ACCESS_KEY_ID"],
                       secret_key=env["AWS_SECRET_ACCESS_KEY"] or "",
                       session_token=env["AWS_SESSION_TOKEN"])
    endpoint = env["AWS_ENDPOINT_URL"]
    if endpoint:
        parsed = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme)
    return fs.S3FileSystem(**options)


PARTITION_PREFIX = "date="     # a day's partition: .../<table>/model=<M>/date=<D>/


class S3Lake:
    """A lake under ``bucket/prefix`` of an S3 endpoint (see the module docstring)."""

    stamped = False
    duckdb_reads = False

    def __init__(self, arrow, root: PurePosixPath, *, lock_dir: Path) -> None:
        self.arrow = arrow
        self.root = root
        self.lock_dir = lock_dir

    def check(self, url: str) -> None:
        from pyarrow import fs

        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
        bucket = self.root.parts[0]
        try:
            info = self.arrow.get_file_info(bucket)
        except OSError as exc:
            raise ConfigError(UNREACHABLE.format(env=LAKE_URL_ENV, url=url, endpoint=endpoint,
                                                 reason=str(exc).strip())) from exc
        if info.type == fs.FileType.NotFound:
            raise ConfigError(NO_SUCH_BUCKET.format(env=LAKE_URL_ENV, url=url, bucket=bucket,
                                                    endpoint=endpoint))

    def exists(self) -> bool:
        return True

    def _entries(self, directory: PurePosixPath) -> list:
        from pyarrow import fs

        return self.arrow.get_file_info(fs.FileSelector(str(directory), allow_not_found=True))

    def names(self, directory: PurePosixPath) -> list[str]:
        return sorted(PurePosixPath(i.path).name for i in self._entries(directory))

    def subdirs(self, directory: PurePosixPath, prefix: str) -> list[PurePosixPath]:
        """Child prefixes of ``directory`` named ``prefix...``. Partitions (``date=``) count
        only while an object lies under them: a filer-backed store (SeaweedFS, like a
        file system) keeps a prefix whose objects retention deleted as an empty
        directory, which AWS S3 would drop; one recursive listing of the model's objects
        tells them apart (what the readers list next anyway)."""
        from pyarrow import fs

        if prefix != PARTITION_PREFIX:
            return sorted(directory / PurePosixPath(i.path).name for i in self._entries(directory)
                          if i.type == fs.FileType.Directory
                          and PurePosixPath(i.path).name.startswith(prefix))
        infos = self.arrow.get_file_info(fs.FileSelector(str(directory), recursive=True,
                                                         allow_not_found=True))
        below = [PurePosixPath(i.path).relative_to(directory).parts for i in infos
                 if i.type == fs.FileType.File]
        held = {parts[0] for parts in below if len(parts) > 1}
        return sorted(directory / name for name in held if name.startswith(prefix))

    def existing(self, directories: list[PurePosixPath]) -> list[PurePosixPath]:
        """Of ``directories``, those holding objects: one listing per parent."""
        present: dict[PurePosixPath, set[str]] = {}
        out = []
        for directory in directories:
            if directory.parent not in present:
                prefix = PARTITION_PREFIX if directory.name.startswith(PARTITION_PREFIX) else ""
                present[directory.parent] = {p.name for p in self.subdirs(directory.parent, prefix)}
            if directory.name in present[directory.parent]:
                out.append(directory)
        return out

    def size(self, path: PurePosixPath) -> int:
        from pyarrow import fs

        info = self.arrow.get_file_info(str(path))
        if info.type == fs.FileType.NotFound:
            raise FileNotFoundError(str(path))
        return info.size

    def read_bytes(self, path: PurePosixPath) -> bytes:
        with self.arrow.open_input_stream(str(path)) as stream:
            return stream.read()

    def tail(self, path: PurePosixPath, n: int) -> bytes:
        with self.arrow.open_input_file(str(path)) as handle:
            return handle.read_at(n, handle.size() - n)

    def write_bytes(self, path: PurePosixPath, data: bytes) -> None:
        """One upload of the whole object: it appears complete or not at all."""
        with self.arrow.open_output_stream(str(path)) as out:
            out.write(data)

    def write_table(self, table: pa.Table, path: PurePosixPath, options: dict) -> None:
        import pyarrow.parquet as pq

        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, **options)
        self.write_bytes(path, buffer.getvalue().to_pybytes())

    def delete(self, path: PurePosixPath) -> None:
        try:
            self.arrow.delete_file(str(path))
        except FileNotFoundError:
            pass

    def make_dirs(self, *directories: PurePosixPath) -> None:
        return None       # a prefix exists once an object lies under it

    def hide_partition(self, directory: PurePosixPath, publish_empty) -> tuple:
        """Publish a manifest listing no file; returns what to delete afterwards: the
        objects that were there, and the manifest (not a segment sealed meanwhile)."""
        before = set(self.names(directory))
        publish_empty()
        made = {n for n in self.names(directory) if n not in before and not n.endswith(".parquet")}
        return directory, sorted(before) + sorted(made)

    def drop_hidden(self, token: tuple) -> None:
        directory, names = token
        manifests = [n for n in names if not n.endswith(".parquet")]
        for name in [n for n in names if n.endswith(".parquet")] + manifests:
            self.delete(directory / name)     # the manifest last: it hides the others

    def dataset(self, files: list[str], *, hive: bool):
        """The plain objects ``files`` as one pyarrow dataset for DuckDB to scan: columns
        united by name over every file's footer; with ``hive``, ``model`` and ``date``
        from the paths (``.../<table>/model=<M>/date=<D>/<file>``)."""
        import pyarrow.dataset as ds

        partitioning = None
        base = None
        if hive:
            partitioning = ds.HivePartitioning(pa.schema([("model", pa.string()),
                                                          ("date", pa.date32())]))
            base = str(PurePosixPath(files[0]).parents[2])
        options = ds.FileSystemFactoryOptions(partition_base_dir=base, partitioning=partitioning)
        factory = ds.FileSystemDatasetFactory(self.arrow, [str(f) for f in files],
                                              ds.ParquetFileFormat(), options)
        return factory.finish(factory.inspect(promote_options="permissive", fragments=None))
