"""Network self-test: can the box reach central, and does central's TLS check out?

For each configured transport (the MQTT broker when ``[sync] transport = "mqtt"``, the
HTTPS receiver when ``https_url`` is set): a TCP connection, then a TLS handshake that
trusts only central's pinned CA and presents the device certificate, as the sync agent
does. The result names the peer's certificate (subject, issuer, expiry), the TLS version
and cipher; a failure names host:port and the cause. When the peer's certificate does not
verify, it is fetched once more without verification, so staff see whom the box reached.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from device.central_link.tls_files import TlsPaths
from device.config import KioskConfig

TIMEOUT_S = 3.0
#: After the handshake, how long to listen for a TLS alert (a server refusing the device
#: certificate says so only after a TLS 1.3 handshake has completed).
ALERT_WAIT_S = 0.4
#: TLS alerts with which a server refuses the client's certificate.
CERT_ALERTS = ("ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_REQUIRED",
               "ALERT_CERTIFICATE_REVOKED", "ALERT_CERTIFICATE_EXPIRED",
               "ALERT_CERTIFICATE_UNKNOWN", "ALERT_ACCESS_DENIED")


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    problem: str | None = None  # a configuration that cannot be tried


class TlsSetupError(Exception):
    """The box's own TLS files cannot be loaded."""


def targets(config: KioskConfig) -> list[Target]:
    sync = config.sync
    out: list[Target] = []
    if sync.transport == "mqtt":
        out.append(Target("mqtt", sync.mqtt_host, sync.mqtt_port))
    if sync.https_url:
        parts = urlsplit(sync.https_url)
        if parts.scheme != "https" or not parts.hostname:
            out.append(Target("https", parts.hostname or "", parts.port or 443,
                              f"[sync] https_url {sync.https_url!r} is not an https:// URL"))
        else:
            out.append(Target("https", parts.hostname, parts.port or 443))
    elif sync.transport == "https":
        out.append(Target("https", "", 0, "[sync] transport is https but [sync] https_url is"
                                          " not set; set it to central's HTTPS address"))
    return out


def run_all(config: KioskConfig) -> list[dict[str, Any]]:
    files = TlsPaths.from_config(config)
    return [check(t, files) for t in targets(config)]


def client_context(files: TlsPaths, verify: bool = True) -> ssl.SSLContext:
    """A client context trusting only central's CA, with the device certificate if any."""
    if verify:
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(files.ca))
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError(f"central's CA certificate {files.ca} cannot be loaded"
                                f" ({_why(exc)}); provision the box first") from None
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.cert is not None:
        try:
            ctx.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError(f"the device certificate {files.cert} or its key cannot be"
                                f" loaded ({_why(exc)})") from None
    return ctx


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def check(target: Target, files: TlsPaths, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """Connect and shake hands with one target; the result object."""
    where = f"{target.host}:{target.port}"
    out: dict[str, Any] = {"name": target.name, "host": target.host, "port": target.port,
                           "ok": False, "ms": 0.0, "detail": None, "tls": None}
    if target.problem:
        out["detail"] = target.problem
        return out
    started = time.perf_counter()

    def done(detail: str | None, tls: dict[str, Any] | None = None) -> dict[str, Any]:
        out.update(ok=detail is None, ms=round((time.perf_counter() - started) * 1000, 1),
                   detail=detail, tls=tls)
        return out

    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout_s)
    except OSError as exc:
        return done(f"{where}: {_connect_failure(exc, timeout_s)}")
    try:
        try:
            ctx = client_context(files)
        except TlsSetupError as exc:
            return done(f"{where}: reachable, but {exc}")
        try:
            with ctx.wrap_socket(sock, server_hostname=target.host) as tls:
                details = describe(tls, verified=True)
                refused = _alert_after_handshake(tls)
        except ssl.SSLCertVerificationError as exc:
            seen = peek(target, files, timeout_s)
            return done(f"{where}: TLS handshake failed: certificate verify failed"
                        f" ({exc.verify_message}); the box trusts only {files.ca}", seen)
        except (ssl.SSLError, OSError) as exc:
            return done(f"{where}: TLS handshake failed: {_tls_failure(exc, timeout_s)}")
    finally:
        sock.close()
    if refused:
        return done(f"{where}: the server refused the device certificate after the"
                    f" handshake ({refused})", details)
    return done(None, details)


def _connect_failure(exc: OSError, timeout_s: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there, or a firewall rejects it)"
    if isinstance(exc, TimeoutError):
        return f"no answer in {timeout_s:g} s (timeout: the host is down or a firewall drops it)"
    if isinstance(exc, socket.gaierror):
        return f"the name cannot be resolved ({exc.strerror or exc}); check DNS and the address"
    return f"cannot connect ({exc.strerror or exc})"


def _tls_failure(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no TLS answer in {timeout_s:g} s (is it a TLS port?)"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if any(alert in reason for alert in CERT_ALERTS):
            return f"the server refused the device certificate ({reason})"
        return reason
    if isinstance(exc, OSError):
        return f"the connection dropped ({exc.strerror or exc})"
    return str(exc)


def _alert_after_handshake(tls: ssl.SSLSocket) -> str | None:
    """A TLS alert the server sends right after the handshake (e.g. the device certificate
    refused under TLS 1.3), or None when it stays quiet and waits for us as it should."""
    tls.settimeout(ALERT_WAIT_S)
    try:
        data = tls.recv(1)
    except TimeoutError:
        return None
    except ssl.SSLError as exc:
        return exc.reason or str(exc)
    except OSError as exc:
        return f"connection dropped: {exc.strerror or exc}"
    return None if data else "the server closed the connection"


def peek(target: Target, files: TlsPaths, timeout_s: float) -> dict[str, Any] | None:
    """The peer's certificate fetched without verification (verified False), or None."""
    try:
        ctx = client_context(files, verify=False)
        with socket.create_connection((target.host, target.port), timeout=timeout_s) as sock, \
                ctx.wrap_socket(sock, server_hostname=target.host) as tls:
            return describe(tls, verified=False)
    except (OSError, TlsSetupError):
        return None


def describe(tls: ssl.SSLSocket, verified: bool) -> dict[str, Any]:
    cipher = tls.cipher()
    out: dict[str, Any] = {"version": tls.version(), "cipher": cipher[0] if cipher else None,
                           "peer_subject": None, "peer_issuer": None, "not_after": None,
                           "days_left": None, "verified": verified}
    der = tls.getpeercert(binary_form=True)
    if der:
        cert = x509.load_der_x509_certificate(der)
        not_after = cert.not_valid_after_utc
        out.update(peer_subject=cert.subject.rfc4514_string(),
                   peer_issuer=cert.issuer.rfc4514_string(),
                   not_after=not_after.isoformat().replace("+00:00", "Z"),
                   days_left=int((not_after - dt.datetime.now(dt.timezone.utc))
                                 .total_seconds() // 86400))
    return out
