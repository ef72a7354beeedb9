"""A real PostgreSQL for the tests: Debian's server, started once per test session.

Loaded from conftest.py as a pytest plugin. ``pg_server`` runs ``initdb`` and ``pg_ctl``
from ``/usr/lib/postgresql/<version>/bin`` in a temporary directory, listening on a free
loopback port and a unix socket in that directory; ``pg_url`` gives each test a fresh
database on it. PostgreSQL refuses to run as root, so under root (as here and in CI) the
server runs as the ``postgres`` user, in a directory that user owns outside pytest's
private (0700) temporary directories. Durability is switched off: these databases are
thrown away, and it keeps the tests fast on a busy machine.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from central.broker import free_port

SUPERUSER = "postgres"


def pg_bin_dir() -> Path:
    """The newest PostgreSQL server binaries installed (Debian's layout, then PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb and no"
                " initdb on PATH): install Debian's 'postgresql' package, listed in"
                " provisioning/debian-packages.txt", pytrace=False)


@dataclass
class PgServer:
    """One running PostgreSQL; :meth:`create_database` makes an empty database on it."""

    bin_dir: Path
    directory: Path
    port: int
    _counter: itertools.count[int]

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        name = f"central_test_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session, stopped and removed after it."""
    bin_dir = pg_bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, PostgreSQL needs the 'postgres' user (created by"
                        " Debian's postgresql package)", pytrace=False)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    server = PgServer(bin_dir, directory, free_port(), itertools.count(1))
    data = directory / "data"
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        _run(["mkdir", "-p", str(server.socket_dir)], "mkdir")
        options = (f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=200 -c shared_buffers=32MB")
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"),
              "-w", "-t", "60", "-o", options, "start"], "pg_ctl start")
    except RuntimeError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"cannot start PostgreSQL from {bin_dir}: {exc}", pytrace=False)
    try:
        yield server
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                                        "immediate", "-w", "stop"]),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of an empty database of its own for this test."""
    return pg_server.create_database()
