"""A local Mosquitto broker for central: mutual TLS on loopback, per-device ACLs, persistence.

The demo and the integration tests run central's broker with this; a company's fleet meets
at its own broker cluster, configured along the same lines (see :func:`acl_text`).

Mosquitto 2.0 saves a client's session across a restart only if the client connected with
``clean_start=False`` (even the first time): a session begun with ``clean_start=True`` is
dropped at a restart whatever its expiry interval. Boxes therefore always connect with
``clean_start=False`` and a session expiry interval.

The broker runs as the user that starts it (the ``user`` option names that user): Mosquitto
started as root otherwise drops to the ``mosquitto`` user, which cannot read certificates or
write a data directory below a private (0700) directory such as a test's temporary path.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from central.pki import Credential
from central.registry import Device
from shared.contract import TOPIC_ROOT
from shared.errors import KioskError

log = logging.getLogger(__name__)

#: Where Debian and Raspberry Pi OS install the broker (used when it is not on PATH).
MOSQUITTO = "/usr/sbin/mosquitto"
#: MQTT username (client certificate CN) of central's own client.
CENTRAL_USER = "central"


class BrokerError(KioskError):
    """The broker cannot be configured, started or stopped; the message carries its log."""

    status = 503
    code = "broker-error"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def acl_text(devices: Iterable[Device] = (), services: Iterable[str] = (CENTRAL_USER,)) -> str:
    """The ACL: central's services read and write the whole tree; each enrolled box only
    its own ``tenant/site/device`` topics, written out per box from the registry.

    The username is the CN of the client certificate (and, with ``use_username_as_clientid``,
    the client id too). No ``%u`` pattern with wildcards is used: ``+/+/%u`` would let a
    box publish under any tenant and site. A box that is not in the registry may connect
    but can neither publish nor read anything.
    """
    root = TOPIC_ROOT
    lines = ["# central's services (each process its own certificate): the whole tree"]
    for service in sorted(set(services)):
        lines += [f"user {service}", f"topic readwrite {root}/#", ""]
    lines += ["# each enrolled box (username = certificate CN = device id): its own topics only"]
    for d in sorted(devices, key=lambda d: d.device_id):
        base = f"{root}/{d.tenant}/{d.site}/{d.device_id}"
        lines += [f"user {d.device_id}", f"topic write {base}/msg/#",
                  f"topic write {base}/status", f"topic read {base}/ack",
                  f"topic read {base}/down/#", ""]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BrokerFiles:
    """Where a broker's files live inside its directory."""

    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def acl(self) -> Path:
        return self.directory / "acl"

    @property
    def log(self) -> Path:
        return self.directory / "mosquitto.log"

    @property
    def stderr(self) -> Path:
        return self.directory / "stderr.log"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def database(self) -> Path:
        return self.data / "mosquitto.db"


class Mosquitto:
    """One Mosquitto process listening with mutual TLS on ``host:port``.

    ``autosave_interval_s`` is how often the broker writes its in-memory state (sessions,
    queued messages, retained messages) to disk; it always does so on :meth:`stop`. A
    :meth:`kill` loses everything since the last save, including messages it already acked.
    """

    def __init__(self, directory: Path, port: int, ca: Path, server: Credential,
                 crl: Path | None = None, *, host: str = "127.0.0.1",
                 autosave_interval_s: int = 1800, max_queued_messages: int = 100_000,
                 max_inflight_messages: int = 1000, executable: str | None = None,
                 start_timeout_s: float = 10.0, devices: Iterable[Device] = (),
                 services: Iterable[str] = (CENTRAL_USER,)) -> None:
        self.files = BrokerFiles(Path(directory))
        self.host = host
        self.port = port
        self.ca = Path(ca)
        self.server = server
        self.crl = Path(crl) if crl is not None else None
        self.autosave_interval_s = autosave_interval_s
        self.max_queued_messages = max_queued_messages
        self.max_inflight_messages = max_inflight_messages
        self.executable = executable or shutil.which("mosquitto") or MOSQUITTO
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        #: The enrolled boxes the ACL lets in (see :meth:`update_acl`).
        self.devices = list(devices)
        #: Central's service identities (certificate CNs): central, its ingest workers.
        self.services = list(services)

    # -- configuration ----------------------------------------------------------------

    def config_text(self) -> str:
        f = self.files
        lines = [
            "# Written by central/broker.py: central's broker, mutual TLS only.",
            f"user {_current_user()}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"acl_file {f.acl}",
            "persistence true",
            f"persistence_location {f.data}/",
            f"autosave_interval {self.autosave_interval_s}",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_inflight_messages {self.max_inflight_messages}",
            f"log_dest file {f.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_type subscribe",
            "connection_messages true",
            "log_timestamp true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "",
            f"listener {self.port} {self.host}",
            "protocol mqtt",
            f"cafile {self.ca}",
            f"certfile {self.server.cert}",
            f"keyfile {self.server.key}",
            "require_certificate true",
            "use_identity_as_username true",
            # the client id is the certificate's CN: no box can connect as "central" and
            # take over central's session
            "use_username_as_clientid true",
        ]
        if self.crl is not None:
            lines.append(f"crlfile {self.crl}")
        return "\n".join(lines) + "\n"

    def write_config(self) -> Path:
        """Write ``mosquitto.conf`` (and ``acl``, unless one is there: a restart keeps the
        registry's ACL) into the broker directory; returns the config."""
        for path in (self.ca, self.server.cert, self.server.key, *filter(None, [self.crl])):
            if not os.access(path, os.R_OK):
                raise BrokerError(f"{path}: the broker cannot read this file (missing or"
                                  " no permission)")
        f = self.files
        try:
            f.data.mkdir(parents=True, exist_ok=True)
            if not f.acl.exists():  # once written, update_acl (or central) keeps it current
                write_acl(f.acl, self.devices, self.services)
            f.conf.write_text(self.config_text(), encoding="utf-8")
        except OSError as exc:
            raise BrokerError(f"{f.directory}: cannot write the broker's configuration"
                              f" ({exc.strerror or exc})") from None
        return f.conf

    def update_acl(self, devices: Iterable[Device]) -> None:
        """Rewrite the ACL for these enrolled boxes and have the running broker reload it
        (SIGHUP; connected clients are checked against the new ACL from then on)."""
        self.devices = list(devices)
        write_acl(self.files.acl, self.devices, self.services)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGHUP)

    # -- process ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> None:
        """Start the broker and wait until it completes TLS handshakes on its port."""
        if self.running:
            raise BrokerError(f"the broker on port {self.port} is already running")
        conf = self.write_config()
        try:
            with self.files.stderr.open("ab") as err:
                self._proc = subprocess.Popen(
                    [self.executable, "-c", str(conf)],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                )
        except OSError as exc:
            raise BrokerError(f"cannot run {self.executable}: {exc.strerror or exc}"
                              " (is the mosquitto package installed?)") from None
        try:
            self._wait_ready()
        except BaseException:
            self._terminate(signal.SIGKILL)
            raise
        log.info("mosquitto listening on %s:%d (pid %d)", self.host, self.port, self._proc.pid)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM and wait: the broker saves its state to disk before it exits."""
        self._terminate(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """SIGKILL: a crash. Whatever was not saved yet is lost, even messages it acked."""
        self._terminate(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the broker's log and of its standard error."""
        parts = []
        for path in (self.files.log, self.files.stderr):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if text.strip():
                parts.append("\n".join(text.rstrip().splitlines()[-lines:]))
        return "\n".join(parts) if parts else "(the broker wrote no log)"

    def wait_for_log(self, text: str, timeout_s: float = 5.0, *, after: int = 0) -> bool:
        """Wait until the log holds ``text`` more than ``after`` times; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                log_text = self.files.log.read_text(encoding="utf-8", errors="replace")
            except OSError:
                log_text = ""
            if log_text.count(text) > after:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def log_count(self, text: str) -> int:
        """How often ``text`` occurs in the log so far."""
        try:
            return self.files.log.read_text(encoding="utf-8", errors="replace").count(text)
        except OSError:
            return 0

    def _terminate(self, sig: signal.Signals, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("mosquitto (pid %d) ignored %s; killing it", proc.pid, sig.name)
            proc.kill()
            proc.wait(timeout_s)

    def _wait_ready(self) -> None:
        assert self._proc is not None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            code = self._proc.poll()
            if code is not None:
                raise BrokerError(f"mosquitto exited with status {code} while starting on"
                                  f" {self.host}:{self.port}:\n{self.log_tail()}")
            if _handshake(ctx, self.host, self.port):
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"mosquitto did not accept TLS connections on {self.host}:"
                                  f"{self.port} within {self.start_timeout_s:g} s:\n"
                                  f"{self.log_tail()}")
            time.sleep(0.05)

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def write_acl(path: Path, devices: Iterable[Device],
              services: Iterable[str] = (CENTRAL_USER,)) -> None:
    """Write the ACL for ``devices`` and central's ``services`` whole or not at all
    (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(acl_text(devices, services), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise BrokerError(f"{path}: cannot write the broker's ACL ({exc.strerror or exc})"
                          ) from None


def _handshake(ctx: ssl.SSLContext, host: str, port: int) -> bool:
    """Whether a TLS server answers on ``host:port`` with a certificate ``ctx`` trusts.

    No client certificate is offered, so the broker refuses the client afterwards; the
    server's own certificate has been verified by then.
    """
    try:
        with socket.create_connection((host, port), timeout=2) as raw, \
                ctx.wrap_socket(raw, server_hostname=host):
            pass
    except ssl.SSLCertVerificationError as exc:
        raise BrokerError(f"the broker on {host}:{port} presents a certificate its own CA does"
                          f" not verify: {exc.verify_message}") from None
    except ssl.SSLError as exc:
        # TLS 1.2: the server aborts the handshake for want of a client certificate.
        return "CERTIFICATE" in (exc.reason or "").upper() or "ALERT" in str(exc).upper()
    except OSError:
        return False
    return True


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
