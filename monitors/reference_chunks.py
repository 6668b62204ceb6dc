"""Metric values over chunks of a model version's reference data, NannyML-style: the
reference is split, in its stored row order, into consecutive chunks of equal size,
and the monitor families a ``reference_band`` rule names run on each chunk, with the
same family code the monitor runner runs on a window (the whole reference stays the
reference). A band rule judges a window's value against the spread of these values.

Computed once per model version, family and chunk size, and cached as plain JSON under
the home (``<home>/cache/reference-chunks/<model>/<version>.json``, never in the
immutable artifact directory). A cache written by another format version, or for
other reference bytes, is stale and rebuilt.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raigov.canonical import sha256_hex
from raigov.home import Home
from raigov.monitors.base import MetricRow, WindowData

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.registry import RegisteredModel

#: Bumped whenever what a chunk's rows mean changes: older caches are then rebuilt.
CACHE_VERSION = 1
#: Chunks the reference is split into when a rule gives no ``chunk_size`` (NannyML's
#: default chunker also makes ten).
DEFAULT_CHUNKS = 10
CACHE_DIR = "reference-chunks"
_EPOCH = dt.datetime(2000, 1, 3, tzinfo=dt.timezone.utc)   # a chunk's placeholder window


@dataclass
class ChunkValues:
    """What one (family, chunk size) gave: for every (metric, segment), one value per
    chunk that yielded a finite, ``ok`` value."""

    chunk_size: int
    chunks: int
    values: dict[str, list[float]] = field(default_factory=dict)

    def of(self, metric: str, segment: str) -> list[float]:
        return self.values.get(_key(metric, segment), [])


def cache_path(home: Home, model: str, version: int) -> Path:
    from raigov.store.lake import model_key

    return home.cache / CACHE_DIR / model_key(model) / f"{version}.json"


def default_chunk_size(reference_rows: int, chunks: int | None = None) -> int:
    """The rows of each of ``chunks`` (default ``DEFAULT_CHUNKS``) chunks of the
    reference (at least one row each)."""
    return max(1, reference_rows // (chunks or DEFAULT_CHUNKS))


def split_chunks(reference: "pd.DataFrame", chunk_size: int) -> list["pd.DataFrame"]:
    """Consecutive chunks of ``chunk_size`` rows; a last, shorter remainder is dropped
    (NannyML keeps it; a short chunk's spread is wider, so it would widen the band)."""
    full = len(reference) // chunk_size
    return [reference.iloc[i * chunk_size:(i + 1) * chunk_size].reset_index(drop=True)
            for i in range(full)]


def chunk_rows(registered: "RegisteredModel", reference: "pd.DataFrame", *, family: str,
               chunk_size: int, profile: dict[str, Any] | None) -> list[list[MetricRow]]:
    """The family's metric rows on every chunk of the reference."""
    from raigov.monitors.builtin import load_builtin_monitors

    cls = load_builtin_monitors()[family]
    out = []
    for chunk in split_chunks(reference, chunk_size):
        window = WindowData(spec=registered.spec, version=registered.version,
                            start=_EPOCH, end=_EPOCH, frame=_as_window(chunk),
                            reference=reference, artifact_dir=registered.artifact_dir,
                            reference_profile=profile)
        out.append(cls().run(window))
    return out


def reference_values(home: Home, model: str, version: int, *, family: str,
                     chunk_size: int | None = None, chunks: int | None = None) -> ChunkValues:
    """The cached chunk values of one family, computed (and written) when missing or
    stale. Chunks of ``chunk_size`` rows, else ``chunks`` of them (default
    ``DEFAULT_CHUNKS``)."""
    from raigov.models.registry import get_model

    registered = get_model(home, model, version)
    digest = sha256_hex(registered.reference_path.read_bytes())
    path = cache_path(home, model, version)
    cache = _read(path, digest)
    reference = None
    if chunk_size is None:
        size = cache.get("rows")
        if size is None:
            reference = registered.load_reference()
            size = len(reference)
        chunk_size = default_chunk_size(int(size), chunks)
    entry = cache["entries"].get(f"{family}:{chunk_size}")
    if entry is None:
        reference = registered.load_reference() if reference is None else reference
        from raigov.monitors.version_state import cached_reference_profile

        profile = cached_reference_profile(home, registered, reference)
        per_chunk = chunk_rows(registered, reference, family=family, chunk_size=chunk_size,
                               profile=profile)
        entry = {"chunks": len(per_chunk), "values": _collect(per_chunk)}
        cache["rows"] = len(reference)
        cache["entries"][f"{family}:{chunk_size}"] = entry
        _write(path, cache)
    return ChunkValues(chunk_size, int(entry["chunks"]),
                       {k: [float(v) for v in vs] for k, vs in entry["values"].items()})


def _collect(per_chunk: list[list[MetricRow]]) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for rows in per_chunk:
        for row in rows:
            if row.status == "ok" and isinstance(row.value, numbers.Real) \
                    and not isinstance(row.value, bool) and math.isfinite(row.value):
                values.setdefault(_key(row.metric, row.segment), []).append(float(row.value))
    return values


def _read(path: Path, digest: str) -> dict[str, Any]:
    fresh = {"format": CACHE_VERSION, "reference_sha256": digest, "entries": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return fresh
    if not isinstance(data, dict) or data.get("format") != CACHE_VERSION \
            or data.get("reference_sha256") != digest or not isinstance(data.get("entries"), dict):
        return fresh   # stale: another format, or another reference
    return data


def _write(path: Path, cache: dict[str, Any]) -> None:
    from raigov.permissions import private_dir

    for parent in reversed(path.parents[:3]):   # cache/, reference-chunks/, <model>/
        private_dir(parent)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, sort_keys=True))
    tmp.replace(path)


def _as_window(chunk: "pd.DataFrame") -> "pd.DataFrame":
    """A chunk shaped like a window's frame: every reference row counts as labelled
    where the reference has ``y_true``."""
    import pandas as pd

    frame = chunk.copy()
    if "y_true" not in frame.columns:
        frame["y_true"] = float("nan")
    frame["prediction_id"] = [f"reference-{i}" for i in range(len(frame))]
    frame["ts"] = pd.Timestamp(_EPOCH)
    return frame


def _key(metric: str, segment: str) -> str:
    return f"{metric}|{segment}"


class ReferenceChunks:
    """The chunk values of one model version, as rules look them up
    (:class:`raigov.policies.rules.ReferenceLookup`): read from the cache, or computed
    on first use; kept in memory for the life of the object (one monitor run)."""

    def __init__(self, home: Home, model: str, version: int) -> None:
        self.home, self.model, self.version = home, model, version
        self._loaded: dict[tuple[str, int | None, int | None], ChunkValues] = {}

    def chunk_values(self, metric: str, segment: str, *, chunk_size: int | None = None,
                     chunks: int | None = None) -> tuple[list[float], int] | None:
        family = metric.split(".", 1)[0]
        key = (family, chunk_size, chunks)
        if key not in self._loaded:
            self._loaded[key] = reference_values(self.home, self.model, self.version,
                                                 family=family, chunk_size=chunk_size,
                                                 chunks=chunks)
        found = self._loaded[key]
        return found.of(metric, segment), found.chunk_size
