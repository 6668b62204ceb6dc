"""Fixtures for the storage tests: a lake on the session's S3 endpoint (SeaweedFS,
``s3_endpoint`` in tests/conftest.py; one bucket per session, one prefix per test) and a
fresh PostgreSQL database per test.
"""

from __future__ import annotations

import pytest

from tests.s3_endpoint import S3Endpoint


@pytest.fixture
def s3_lake(s3_endpoint: S3Endpoint, _lake_prefix, monkeypatch) -> str:
    """A fresh prefix of the session's bucket, named by RAIGOV_LAKE_URL (with the AWS
    variables) for this test and the processes it starts; returns the URL (on the S3
    matrix, the prefix every test already has)."""
    if _lake_prefix is not None:
        return _lake_prefix
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
