"""The fleet benchmark's bench: PostgreSQL from Debian's binaries, a CA with a certificate
per box, a fresh Mosquitto per run, and processes started and stopped as a supervisor would.

PostgreSQL runs as it would at a site (``fsync`` and ``synchronous_commit`` on), on loopback
from ``/usr/lib/postgresql/<version>/bin``; under root it runs as the ``postgres`` user, in
a directory that user owns (as ``tests/pg_fixtures.py`` does).
"""

from __future__ import annotations

import glob
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.broker import Mosquitto, free_port
from central.pki import CertificateAuthority, Credential
from central.registry import Device, register
from central.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SUPERUSER = "postgres"
TENANT, SITE = "bench", "site-1"
#: Central's service identities (certificate CN = MQTT client id): the ingest workers, and
#: the raw baseline's subscriber.
WORKERS = tuple(f"central-ingest-{n}" for n in range(1, 5))
RAW = "raw-ingest"
SERVICES = (*WORKERS, RAW)


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
    raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb):"
                       " install Debian's 'postgresql' package")


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")


@dataclass
class PgServer:
    bin_dir: Path
    directory: Path
    port: int

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def postgres() -> Iterator[PgServer]:
    """A durable PostgreSQL on a free loopback port, stopped and removed afterwards."""
    bin_dir = pg_bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="kiosk-bench-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SUPERUSER)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    server = PgServer(bin_dir, directory, free_port())
    data = directory / "data"
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--locale=C.UTF-8"], "initdb")
        _run(["mkdir", "-p", str(directory / "socket")], "mkdir")
        options = (f"-p {server.port} -k {directory / 'socket'} -c listen_addresses=127.0.0.1"
                   " -c max_connections=200 -c shared_buffers=256MB")
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"),
              "-w", "-t", "60", "-o", options, "start"], "pg_ctl start")
        yield server
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                                        "fast", "-w", "stop"]),
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Pki:
    """The bench CA, the broker's certificate, one per central service, one per box."""

    root: Path
    ca: CertificateAuthority
    broker: Credential
    services: dict[str, Credential]
    signing_pub: Path
    boxes: Path = field(init=False)

    def __post_init__(self) -> None:
        self.boxes = self.root / "boxes"

    def issue_boxes(self, device_ids: Iterable[str]) -> None:
        """A client certificate (EC P-256, CN = device id) for each box, in :attr:`boxes`."""
        for device_id in device_ids:
            self.ca.issue_client(device_id, self.boxes)

    def service(self, name: str) -> Credential:
        return self.services[name]

    def box(self, device_id: str) -> Credential:
        return Credential(self.boxes / f"{device_id}.pem", self.boxes / f"{device_id}.key")


def make_pki(root: Path) -> Pki:
    ca = CertificateAuthority.create(root / "ca", "Fleet bench CA")
    certs = root / "certs"
    signing_pub = root / "central-signing.pub"
    signing_pub.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return Pki(root, ca, ca.issue_server("broker", certs),
               {name: ca.issue_client(name, certs) for name in SERVICES}, signing_pub)


def raise_open_files() -> int:
    """Raise this process's (and so its children's) open-file limit to the hard limit:
    Mosquitto needs a descriptor per connection, and 1,024 is the usual soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def register_all(url: str, devices: list[Device]) -> None:
    """Enrol the boxes in central's registry (the schema is created on opening)."""
    store = open_store(url)
    try:
        with store.transaction() as conn:
            for device in devices:
                register(conn, device, "bench")
    finally:
        store.close()


def broker(pki: Pki, directory: Path, devices: list[Device]) -> Mosquitto:
    """A fresh Mosquitto (its own directory, so no session outlives a run) whose ACL lets
    each box use its own topics only."""
    return Mosquitto(directory, free_port(), pki.ca.cert, pki.broker, devices=devices,
                     services=SERVICES, max_queued_messages=200_000)


# -- processes ---------------------------------------------------------------------------


def spawn(argv: list[str], log: Path, ready: str, timeout_s: float = 60.0
          ) -> subprocess.Popen[bytes]:
    """Start ``argv`` (stderr to ``log``) and wait until ``ready`` appears in the log."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_bytes()[offset:].decode(errors="replace")
        if ready in text:
            return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"{' '.join(argv[:5])} did not start:\n{text[-2000:]}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL when it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def peak_rss_of(pid: int) -> float:
    """Peak resident set size (VmHWM) of a running process, in MiB; 0 when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker(pki: Pki, mqtt: Mosquitto, url: str, n: int, log: Path
           ) -> subprocess.Popen[bytes]:
    """``kiosk central worker`` number ``n`` (client id and certificate CN
    ``central-ingest-n``), ready."""
    cred = pki.service(f"central-ingest-{n}")
    argv = [sys.executable, "-m", "kiosk", "central", "worker", "--database", url,
            "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mqtt.port),
            "--mqtt-ca", str(pki.ca.cert), "--mqtt-cert", str(cred.cert),
            "--mqtt-key", str(cred.key), "--client-id", f"central-ingest-{n}",
            "--share-group", "ingest"]
    return spawn(argv, log, f"worker central-ingest-{n} ingesting")


def raw_subscriber(pki: Pki, mqtt: Mosquitto, url: str, log: Path) -> subprocess.Popen[bytes]:
    """The baseline: a bare paho subscriber inserting into PostgreSQL (benchmarks.fleet_raw)."""
    argv = [sys.executable, "-m", "benchmarks.fleet_raw", "--database", url,
            "--port", str(mqtt.port), "--ca", str(pki.ca.cert), "--cert",
            str(pki.service(RAW).cert), "--key", str(pki.service(RAW).key)]
    return spawn(argv, log, "raw subscriber ingesting")


def cpu_s(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds (user + system) a process has used so far; with ``reaped``, its waited-for
    children's too. 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(ppid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            found.append(int(entry.name))
    return found


def postgres_cpu_s(pg: PgServer) -> float:
    """CPU seconds of this PostgreSQL: the postmaster, its live and its exited backends."""
    try:
        postmaster = int((pg.directory / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return cpu_s(postmaster, reaped=True) + sum(cpu_s(p) for p in children(postmaster))
