"""Fixtures for the storage tests: a real S3 endpoint (SeaweedFS, started by
``tests/s3_endpoint.py``; one server and one bucket per session, one prefix per test) and
a fresh PostgreSQL database per test.
"""

from __future__ import annotations

import pytest

from tests.s3_endpoint import S3Endpoint, start


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> S3Endpoint:
    try:
        server = start(tmp_path_factory.mktemp("seaweedfs"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_lake(s3_endpoint: S3Endpoint, monkeypatch) -> str:
    """A fresh prefix of the session's bucket, named by RAIGOV_LAKE_URL (with the AWS
    variables) for this test and the processes it starts; returns the URL."""
    for name, value in s3_endpoint.environment().items():
        monkeypatch.setenv(name, value)
    url = s3_endpoint.fresh_lake_url("lake")
    monkeypatch.setenv("RAIGOV_LAKE_URL", url)
    return url


@pytest.fixture
def pg_url(pg_cluster, monkeypatch) -> str:
    """A fresh database on the session's PostgreSQL server, named by RAIGOV_CATALOG_URL
    for this test and the processes it starts; returns the URL."""
    url = pg_cluster.create_database()
    monkeypatch.setenv("RAIGOV_CATALOG_URL", url)
    return url
