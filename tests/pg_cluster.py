"""A throwaway PostgreSQL server for tests and benchmarks: Debian's ``postgresql``
binaries, ``initdb`` into a temporary directory, listening on a free loopback port.

It is a real server (the same one a team runs), only private: trust authentication
for loopback connections from this machine, no data kept after ``stop()``. As root the
server runs as the ``postgres`` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


def available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class Cluster:
    root: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as con:
            tmpl = f" TEMPLATE {template}" if template else ""
            con.execute(f'CREATE DATABASE "{name}"{tmpl}')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_server_user([pg_bin("pg_ctl"), "-D", str(self.root / "data"),
                                        "-m", "immediate", "stop"]),
                       capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start(*, max_connections: int = 200) -> Cluster:
    """initdb + start; returns once the server accepts connections."""
    root = Path(tempfile.mkdtemp(prefix="raigov-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(_as_server_user([pg_bin("initdb"), "-D", str(data), "-U", "postgres",
                                    "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c fsync=off "
               f"-c synchronous_commit=off -c full_page_writes=off "
               f"-c max_connections={max_connections} -c unix_socket_directories={root}")
    subprocess.run(_as_server_user([pg_bin("pg_ctl"), "-D", str(data), "-o", options,
                                    "-l", str(root / "server.log"), "-w", "start"]),
                   check=True, capture_output=True)
    cluster = Cluster(root, port)
    deadline = time.monotonic() + 30
    import psycopg

    while True:
        try:
            psycopg.connect(cluster.admin_url, connect_timeout=2).close()
            return cluster
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
