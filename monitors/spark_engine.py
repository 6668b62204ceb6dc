"""``raigov monitor run --engine spark``: window aggregates as Spark SQL over the lake.

The DuckDB engine reads a window's rows into the monitor process. This engine leaves
the rows where they lie: Spark (local mode, or a cluster given by ``--spark-master``)
reads the same Parquet segments, joins the label in force exactly as the DuckDB
``labelled`` view does (the first label of an id stands; the latest correction
replaces it), and computes for each window, when a monitor asks:

- the row count;
- the *cell table*: rows per (sensitive columns, ``y_true``, ``label``), from which the
  fairness monitor's (group x tn/fp/fn/tp/unlabelled) counts come, per attribute and
  intersection, through the monitors' own grouping code;
- per tested column, the *value counts*, from which univariate drift's exact
  distributions come (the same scores as from rows: no binning).

Only these counts reach the driver. What needs rows (performance's score cells,
explanations, estimates, multivariate drift, quality, slices, text models) is computed
on the driver from the window's rows, read through the DuckDB engine when, and only
when, a monitor asks for them, so every family gives the same metric rows on both
engines. A run of the families Spark counts alone (``run_monitors(families=
("fairness",))``; drift without its multivariate part) never moves rows to the driver.

Encrypted segments (a model with a ``privacy`` section) are read with Parquet's own
modular decryption in Spark: ``spark_kms/RaigovKms.java``, a KMS client that unwraps
the key-encryption keys exactly as raigov's in-process KMS wraps them, is compiled
once (``javac`` against pyspark's jars) into ``~/.cache/raigov``; the per-identifier
wrapping keys (derived from the data key; the data key itself never reaches Spark) go
into the session's Hadoop configuration for the run.

What Spark cannot read here: a lake on object storage (Spark needs the hadoop-aws jars
for ``s3a://``, which a cluster image carries and Maven, unreachable here, would
supply). It is refused with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from raigov.errors import ConfigError
from raigov.monitors.base import WindowData

if TYPE_CHECKING:
    from raigov.home import Home
    from raigov.monitors.runner import WindowKey
    from raigov.monitors.version_state import VersionStates

DEFAULT_MASTER = "local[2]"
NO_PYSPARK = ("--engine spark needs pyspark (pip install 'pyspark>=4.0') and a Java 17+ "
              "runtime; the DuckDB engine (the default) needs neither")
NO_JAVAC = ("model {model!r} has a privacy section, so its segments are encrypted: Spark "
            "reads them through raigov's KMS client, which is compiled with javac (a JDK "
            "17+), not found on PATH; install a JDK or use the DuckDB engine")
KMS_CLASS = "raigov.RaigovKms"
CRYPTO_FACTORY = "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"
NOT_LOCAL = ("the lake is at {url}: Spark reads object storage through s3a:// with the "
             "hadoop-aws jars, which this installation lacks; use the DuckDB engine or run "
             "Spark on a cluster whose image has hadoop-aws")
PREDICTION_COLUMNS = {"label": "BIGINT", "score": "DOUBLE", "value": "DOUBLE"}
FEEDBACK_COLUMNS = {"y_true": "BIGINT", "y_value": "DOUBLE", "correction": "BOOLEAN"}


def spark_session(master: str | None = None):
    """A Spark session in UTC, without its web UI."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(NO_PYSPARK) from exc
    kms = kms_jar()
    master = master or DEFAULT_MASTER
    from importlib.resources import files

    logging = files("raigov.monitors") / "spark_kms" / "log4j2.properties"
    java = f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{logging}"
    builder = (SparkSession.builder.master(master).appName("raigov-monitor")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.sql.parquet.mergeSchema", "true")
               .config("spark.driver.extraJavaOptions", java)
               .config("spark.executor.extraJavaOptions", java))
    if master.startswith("local"):   # local mode: the driver listens on loopback only
        builder = (builder.config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1"))
    if kms is not None:   # encrypted segments: Parquet's decryption with raigov's KMS
        builder = (builder.config("spark.jars", str(kms))
                   .config("spark.driver.extraClassPath", str(kms))
                   .config("spark.executor.extraClassPath", str(kms))
                   .config("spark.hadoop.parquet.crypto.factory.class", CRYPTO_FACTORY)
                   .config("spark.hadoop.parquet.encryption.kms.client.class", KMS_CLASS))
    from pyspark import SparkContext

    running = SparkContext._active_spark_context is not None
    session = builder.getOrCreate()
    if running and kms is not None:
        # The process already had a session (a notebook's, or one a library opened on
        # import: nannyml's flaml does), so the static settings above did not apply:
        # the KMS client reaches its executors as an added jar instead.
        session.sparkContext._jsc.sc().addJar(str(kms))
    session.sparkContext.setLogLevel("ERROR")
    return session


def kms_jar() -> Path | None:
    """raigov's KMS client for Spark, compiled once per source and pyspark version into
    the user's cache; None without ``javac`` (then encrypted models are refused)."""
    import hashlib
    import os
    import shutil
    import subprocess
    import tempfile
    from importlib.resources import files

    import pyspark

    javac, jar = shutil.which("javac"), shutil.which("jar")
    if javac is None or jar is None:
        return None
    source = (files("raigov.monitors") / "spark_kms" / "RaigovKms.java").read_bytes()
    digest = hashlib.sha256(source + pyspark.__version__.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raigov"
    target = cache / f"spark-kms-{digest}.jar"
    if target.exists():
        return target
    jars = Path(pyspark.__file__).parent / "jars"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        java = Path(work) / "raigov" / "RaigovKms.java"
        java.parent.mkdir()
        java.write_bytes(source)
        classes = Path(work) / "classes"
        subprocess.run([javac, "-nowarn", "-cp", f"{jars}/*", "-d", str(classes), str(java)],
                       check=True, capture_output=True)
        built = Path(work) / "kms.jar"
        subprocess.run([jar, "cf", str(built), "-C", str(classes), "."], check=True,
                       capture_output=True)
        os.replace(built, target)
    return target


class SparkEngine:
    """One Spark session for a monitor run; :meth:`window` gives each window's
    :class:`WindowData`, its counts computed by Spark on demand."""

    def __init__(self, master: str | None = None) -> None:
        self.master = master or DEFAULT_MASTER
        self.spark = spark_session(self.master)

    def close(self) -> None:
        self.spark.stop()

    def _give_wrapping_keys(self, home: "Home", model: str) -> None:
        """The per-identifier wrapping keys of an encrypted model, into the session's
        Hadoop configuration (where RaigovKms reads them)."""
        import base64

        from raigov.store.parquet_crypto import (COLUMN_KEY_ID, FOOTER_KEY_ID,
                                                 require_data_key, wrapping_key)

        if kms_jar() is None:
            raise ConfigError(NO_JAVAC.format(model=model))
        master = require_data_key(home, what="Reading encrypted segments on Spark")
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()
        # Set here as well as in the session's static spark.hadoop.* settings: a session
        # that was already running (getOrCreate) reads encrypted footers only with them.
        conf.set("parquet.crypto.factory.class", CRYPTO_FACTORY)
        conf.set("parquet.encryption.kms.client.class", KMS_CLASS)
        for identifier in (FOOTER_KEY_ID, COLUMN_KEY_ID):   # per home: set on every window
            conf.set(f"raigov.kms.key.{identifier}",
                     base64.b64encode(wrapping_key(master, identifier)).decode())

    @contextmanager
    def window(self, home: "Home", key: "WindowKey",
               states: "VersionStates") -> Iterator[WindowData]:
        """The window with Spark aggregates and rows read (by the DuckDB engine) only
        if a monitor asks for them. Holds the lake's reader lock meanwhile, so no
        segment Spark reads is deleted under it."""
        from raigov.monitors.runner import load_window
        from raigov.store.lake import reading

        if _check_readable(home, key.model):
            self._give_wrapping_keys(home, key.model)
        with reading(home):
            frame = _window_frame(self.spark, home, key)
            yield LazyWindow(loader=lambda: load_window(home, key, states=states).frame,
                             spec=states.model(key.model, key.version).spec,
                             version=key.version, start=key.start, end=key.end,
                             aggregates=SparkAggregates(frame), home=home, key=key,
                             states=states)


class LazyWindow(WindowData):
    """A :class:`WindowData` whose rows are read on first use of ``frame``; the rest
    (spec, reference, profile, quarantine count) is what the DuckDB engine gives."""

    def __init__(self, *, loader, home: "Home", key: "WindowKey", states: "VersionStates",
                 **fields: Any) -> None:
        self._loader, self._frame = loader, None
        registered = states.model(key.model, key.version)
        from raigov.monitors.version_state import version_cache_dir
        from raigov.store.window_quarantine import quarantined_in_window

        quarantined = quarantined_in_window(home, model=key.model, version=key.version,
                                            start=key.start,
                                            end=min(key.end, key.as_of or key.end))
        super().__init__(frame=None, reference=states.reference(key.model, key.version),
                         artifact_dir=registered.artifact_dir,
                         reference_profile=states.profile(key.model, key.version),
                         cache_dir=version_cache_dir(home, key.model, key.version),
                         quarantined=quarantined, **fields)

    @property
    def frame(self) -> pd.DataFrame:   # type: ignore[override]
        if self._frame is None:
            self._frame = self._loader()
        return self._frame

    @frame.setter
    def frame(self, value: pd.DataFrame | None) -> None:
        self._frame = value

    @property
    def rows_read(self) -> bool:
        """Whether a monitor asked for the rows (so they were read on the driver)."""
        return self._frame is not None


class SparkAggregates:
    """The counts of one window, each computed by one Spark job when first asked."""

    def __init__(self, frame) -> None:
        self._frame = frame
        self._rows: int | None = None
        self._cells: dict[tuple[str, ...], pd.DataFrame] = {}
        self._values: dict[str, pd.DataFrame | None] = {}

    @property
    def rows(self) -> int:
        if self._rows is None:
            self._rows = int(self._frame.count())
        return self._rows

    def cell_table(self, columns: Sequence[str]) -> pd.DataFrame:
        from raigov.errors import InputError, did_you_mean

        wanted = tuple(dict.fromkeys([*columns, "y_true", "label"]))
        if wanted not in self._cells:
            present = self._frame.columns
            for column in wanted:
                if column not in present:
                    raise InputError(f"Window has no column {column!r} (columns: "
                                     f"{list(present)})." + did_you_mean(column, present))
            from pyspark.sql import functions as F

            grouped = self._frame.groupBy(*wanted).agg(F.count(F.lit(1)).alias("n"))
            self._cells[wanted] = grouped.toPandas()
        return self._cells[wanted]

    def value_counts(self, columns: Sequence[str]) -> dict[str, pd.DataFrame]:
        wanted = [c for c in dict.fromkeys(columns) if c not in self._values]
        if wanted:
            self._values.update(self._count_values(wanted))
        return {c: self._values[c] for c in columns if self._values.get(c) is not None}

    def _count_values(self, columns: list[str]) -> dict[str, pd.DataFrame | None]:
        """Every column's value counts in one Spark job: ``GROUPING SETS``, one set
        per column, told apart by ``grouping_id()``."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import ByteType, IntegerType, LongType, ShortType

        from raigov.monitors.drift_outputs import RESIDUAL_COLUMN

        frame, found = self._frame, {}
        for column in columns:
            if column == RESIDUAL_COLUMN:
                if {"y_true", "value"} <= set(frame.columns):
                    found[column] = F.col("y_true") - F.col("value")
            elif column in frame.columns:
                found[column] = F.col(f"`{column}`")
        out: dict[str, pd.DataFrame | None] = {c: None for c in columns}
        if not found:
            return out
        names = {column: f"c{i}" for i, column in enumerate(found)}
        selected = frame.select(*[e.alias(names[c]) for c, e in found.items()])
        selected.createOrReplaceTempView("raigov_window_values")
        sets = ", ".join(f"({name})" for name in names.values())
        listed = ", ".join(names.values())
        counted = selected.sparkSession.sql(
            f"SELECT {listed}, grouping_id() AS g, count(1) AS n FROM raigov_window_values "
            f"GROUP BY GROUPING SETS ({sets})").toPandas()
        last = len(names) - 1
        for i, (column, name) in enumerate(names.items()):
            # grouping_id(): bit (last - i) is 0 for the set that groups by column i
            mine = counted[counted["g"] == (2 ** len(names) - 1) - 2 ** (last - i)]
            mine = mine[mine[name].notna()]
            part = pd.DataFrame({"value": mine[name].to_numpy(),
                                 "n": mine["n"].to_numpy(dtype="int64")})
            part.attrs["integer"] = isinstance(selected.schema[name].dataType,
                                               (ByteType, ShortType, IntegerType, LongType))
            out[column] = part
        return out


def _check_readable(home: "Home", model: str) -> bool:
    """Refuse a lake Spark cannot read here; True when the model's segments are
    encrypted."""
    import os

    from raigov.store.lake_s3 import LAKE_URL_ENV
    from raigov.store.parquet_crypto import segment_encryption

    url = os.environ.get(LAKE_URL_ENV, "")
    if url.startswith("s3://"):
        raise ConfigError(NOT_LOCAL.format(url=url))
    return segment_encryption(home, "predictions", model) is not None


def _window_frame(spark, home: "Home", key: "WindowKey"):
    """The window's rows with their label in force, as a Spark DataFrame (lazy)."""
    from raigov.monitors.runner import days_of
    from raigov.store.lake import segment_files

    days = days_of(key.start, key.end)   # the partitions the DuckDB engine reads
    since, until = min(days) - dt.timedelta(days=1), max(days) + dt.timedelta(days=1)
    predictions = _table(spark, segment_files(home, "predictions", model=key.model,
                                              since=since, until=until), PREDICTION_COLUMNS)
    feedback = _table(spark, segment_files(home, "feedback", model=key.model,
                                           since=since - dt.timedelta(days=1), until=None),
                      FEEDBACK_COLUMNS)
    if predictions is None:
        return spark.createDataFrame([], "prediction_id STRING, version INT, ts TIMESTAMP, "
                                         "label BIGINT, score DOUBLE, value DOUBLE, "
                                         "y_true DOUBLE")
    predictions.createOrReplaceTempView("raigov_predictions")
    as_of = key.as_of or key.end
    where = (f"version = {int(key.version)} AND ts >= {_timestamp(key.start)} AND "
             f"ts < {_timestamp(key.end)} AND ts <= {_timestamp(as_of)}")
    if feedback is None:
        return spark.sql(f"SELECT *, CAST(NULL AS DOUBLE) AS y_true FROM "
                         f"raigov_predictions WHERE {where}")
    feedback.createOrReplaceTempView("raigov_feedback")
    # The same label in force as raigov.store.lake.labelled_sql: the latest correction,
    # else the first plain label.
    return spark.sql(
        "SELECT p.*, f.y_true FROM (SELECT * FROM raigov_predictions WHERE "
        f"{where}) p LEFT JOIN (SELECT prediction_id, "
        "coalesce(max_by(v, received_at) FILTER (WHERE c), "
        "min_by(v, received_at) FILTER (WHERE NOT c)) AS y_true "
        "FROM (SELECT prediction_id, coalesce(y_value, CAST(y_true AS DOUBLE)) AS v, "
        "received_at, coalesce(correction, false) AS c FROM raigov_feedback) "
        "GROUP BY prediction_id) f ON p.prediction_id = f.prediction_id")


def _table(spark, files: list[str], fixed: dict[str, str]):
    """The segments as one DataFrame (columns merged by name; a fixed column older
    segments lack reads as NULL); None when there is none."""
    if not files:
        return None
    from pyspark.sql import functions as F

    frame = spark.read.option("mergeSchema", "true").parquet(*files)
    for column, kind in fixed.items():
        if column not in frame.columns:
            frame = frame.withColumn(column, F.lit(None).cast(kind))
    return frame


def _timestamp(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment
    return f"TIMESTAMP '{utc:%Y-%m-%d %H:%M:%S.%f}'"
