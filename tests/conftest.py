"""Shared fixtures. Homes are real directories with real DuckDB files and Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from raigov.home import Home
from tests.home_copies import PG_MATRIX, S3_MATRIX

ARTIFACTS = Path(os.environ.get("RAIGOV_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


@pytest.fixture(scope="session", autouse=True)
def signing_key_file(tmp_path_factory) -> Path:
    """Every test home is signed: one Ed25519 key per session, in a temporary directory
    outside every home, named by RAIGOV_SIGNING_KEY_FILE (subprocesses inherit it). A
    new ledger then opens with its public key (``ledger.signing_key``)."""
    from raigov.ledger.signing import generate_private_key, write_private_key

    path = tmp_path_factory.mktemp("signing-key") / "ledger-signing.pem"
    write_private_key(path, generate_private_key())
    old = os.environ.get("RAIGOV_SIGNING_KEY_FILE")
    os.environ["RAIGOV_SIGNING_KEY_FILE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("RAIGOV_SIGNING_KEY_FILE", None)
    else:
        os.environ["RAIGOV_SIGNING_KEY_FILE"] = old


@pytest.fixture(scope="session")
def signing_public_key(signing_key_file: Path, tmp_path_factory) -> Path:
    """The session key's public half as a PEM file: what an auditor holds."""
    from raigov.ledger.signing import load_private_key, public_pem

    path = tmp_path_factory.mktemp("auditor") / "ledger-public.pem"
    path.write_text(public_pem(load_private_key(signing_key_file).public_key()))
    return path


# ---- the catalog's engine --------------------------------------------------------------
# RAIGOV_TEST_CATALOG=postgresql runs the whole suite with every test's catalog in its
# own database of one throwaway PostgreSQL server (tests/pg_cluster.py); the seeded home's
# catalog is a database that each private copy clones (CREATE DATABASE ... TEMPLATE).
_SEEDED_CATALOG: list[str] = []      # the seeded template's database name (PG matrix)


@pytest.fixture(scope="session")
def pg_cluster():
    """A real PostgreSQL server for this session (Debian's binaries, .ci/install)."""
    from tests import pg_cluster as cluster_mod

    if not cluster_mod.available():
        pytest.fail("PostgreSQL's initdb/pg_ctl are not installed: run bash .ci/install")
    cluster = cluster_mod.start()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True)
def _catalog_database(request):
    """On the PostgreSQL matrix, point RAIGOV_CATALOG_URL at a database of this test's
    own (subprocesses inherit it); otherwise leave the default (the home's DuckDB file)."""
    if not PG_MATRIX:
        yield
        return
    cluster = request.getfixturevalue("pg_cluster")
    names = set(request.fixturenames)
    if "seeded_home" in names and _SEEDED_CATALOG:
        url = cluster.create_database(template=_SEEDED_CATALOG[0])
    elif "seeded_home_template" in names and _SEEDED_CATALOG:
        url = cluster.url(_SEEDED_CATALOG[0])
    else:
        url = cluster.create_database()
    old = os.environ.get("RAIGOV_CATALOG_URL")
    os.environ["RAIGOV_CATALOG_URL"] = url
    yield url
    if old is None:
        os.environ.pop("RAIGOV_CATALOG_URL", None)
    else:
        os.environ["RAIGOV_CATALOG_URL"] = old


# ---- the lake's storage ----------------------------------------------------------------
# RAIGOV_TEST_LAKE=s3 runs the tests with every test's lake under its own prefix of one
# bucket on a real S3 endpoint (SeaweedFS on loopback, tests/s3_endpoint.py), named by
# RAIGOV_LAKE_URL and the AWS variables that subprocesses inherit. Tests that look at a
# local lake's own files (directory stamps, temporary names) carry ``local_lake_only``
# and are deselected there, with the count in pytest's summary.


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "local_lake_only: checks files only a local lake has (deselected "
        "under RAIGOV_TEST_LAKE=s3)")


def pytest_collection_modifyitems(config, items) -> None:
    if not S3_MATRIX:
        return
    keep = [item for item in items if item.get_closest_marker("local_lake_only") is None]
    dropped = [item for item in items if item.get_closest_marker("local_lake_only") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real S3 endpoint for this session: SeaweedFS on free loopback ports."""
    from tests.s3_endpoint import start

    try:
        server = start(tmp_path_factory.mktemp("seaweedfs"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _lake_prefix(request):
    """On the S3 matrix, a fresh prefix of the session's bucket for this test's lake
    (RAIGOV_LAKE_URL with the AWS variables); otherwise the home's ``lake/``."""
    if not S3_MATRIX:
        yield None
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    settings = {**endpoint.environment(), "RAIGOV_LAKE_URL": endpoint.fresh_lake_url("lake")}
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    yield settings["RAIGOV_LAKE_URL"]
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.resolve(tmp_path / "home").ensure()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and rendered pages for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


_DATA_KEY_VARS = ("RAIGOV_DATA_KEY_FILE", "RAIGOV_DATA_KEY")
_SEEDED_DATA_KEY: list[str] = []     # the seeded template's key file, once it exists


@pytest.fixture(autouse=True)
def _data_key_environment(request):
    """Every test starts and ends with the data-key variables it found: the demo sets
    ``RAIGOV_DATA_KEY_FILE`` in ``os.environ`` for itself and its children, which
    would otherwise leak into every later test. A test on the seeded home gets the
    seeded home's key, as a user of that home would export it."""
    saved = {name: os.environ.get(name) for name in _DATA_KEY_VARS}
    if _SEEDED_DATA_KEY and {"seeded_home", "seeded_home_template"} & set(request.fixturenames):
        os.environ.pop("RAIGOV_DATA_KEY", None)
        os.environ["RAIGOV_DATA_KEY_FILE"] = _SEEDED_DATA_KEY[0]
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# The text model embeds 20-50 texts a second on a CPU: the seeded home leaves it out.
TABULAR_DEMO_MODELS = ("income-classifier", "credit-risk", "hours-estimator", "job-sector")


@pytest.fixture(scope="session")
def seeded_home_template(tmp_path_factory, request) -> Home:
    """A real home seeded by the demo pipeline once per session: both demo models
    trained and registered, 4 days of traffic through a real ``raigov serve`` process,
    labels sent later, monitors and the shipped policy packs run on every window.
    Treat it as read-only; use ``seeded_home`` for a private copy."""
    from raigov.cli.demo.run import DemoOptions, run_demo

    home = Home.resolve(tmp_path_factory.mktemp("seeded") / "home")
    old_url = os.environ.get("RAIGOV_CATALOG_URL")
    if PG_MATRIX:
        cluster = request.getfixturevalue("pg_cluster")
        name = "seeded_template"
        os.environ["RAIGOV_CATALOG_URL"] = cluster.create_database(name)
    try:
        run_demo(home, DemoOptions(days=4, seed=0, dashboard=False, rows_per_day=250,
                                   models=TABULAR_DEMO_MODELS))
    finally:
        if old_url is None:
            os.environ.pop("RAIGOV_CATALOG_URL", None)
        else:
            os.environ["RAIGOV_CATALOG_URL"] = old_url
    if PG_MATRIX:
        _SEEDED_CATALOG.append(name)
    _SEEDED_DATA_KEY.append(os.environ["RAIGOV_DATA_KEY_FILE"])
    return home


@pytest.fixture
def seeded_home(seeded_home_template: Home, tmp_path: Path) -> Home:
    """A private copy of the seeded home (tests may change it)."""
    import shutil

    target = tmp_path / "seeded-home"
    shutil.copytree(seeded_home_template.root, target)
    return Home.resolve(target)
