"""What a box's provisioning looks like (``kiosk provision status``, ``GET /provision``).

Read from the disk each time (not from the running configuration), so the answer is
current right after an enrolment.
"""

from __future__ import annotations

import math
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from device.config import KioskConfig
from device.enrolment_file import read_enrolment
from device.errors import ConfigError
from provisioning.files import SECRET_MODE, SECRETS_DIR_MODE, BoxFiles
from provisioning.wipe import pending


def status(config: KioskConfig) -> dict[str, Any]:
    """The status object of the API contract, plus ``healthy``."""
    box = BoxFiles.of(config)
    enrolment, enrolment_problem = _enrolment(box.enrolment)
    device = enrolment.get("device", {}) if enrolment else {}
    sync = enrolment.get("sync", {}) if enrolment else {}
    mqtt_host = sync.get("mqtt_host") or (config.sync.mqtt_host if not enrolment else None)
    mqtt_port = sync.get("mqtt_port") or config.sync.mqtt_port
    cert, cert_info, cert_problem = _certificate(box.cert)
    entries = [
        _file("secrets", box.secrets, SECRETS_DIR_MODE, None),
        _file("device.key", box.key, SECRET_MODE, _key_problem(box.key, cert)),
        _file("device.pem", box.cert, SECRET_MODE, cert_problem or _issuer_problem(cert, box.ca)),
        _file("central-ca.pem", box.ca, SECRET_MODE, _pem_problem(box.ca, "certificate")),
        _file("central-signing.pub", box.signing, SECRET_MODE,
              _pem_problem(box.signing, "public key")),
        _file("enrolment.toml", box.enrolment, None, enrolment_problem),
    ]
    wipe = pending(config.data_dir) is not None
    enrolled = bool(device.get("id"))
    healthy = (enrolled and all(e["ok"] for e in entries) and not wipe
               and cert_info is not None and not cert_info["expired"])
    return {
        "enrolled": enrolled,
        "device_id": device.get("id", config.device.id),
        "tenant": device.get("tenant", config.device.tenant),
        "site": device.get("site", config.device.site),
        "central_url": (enrolment or {}).get("enrolment", {}).get("url"),
        "mqtt": f"{mqtt_host}:{mqtt_port}" if mqtt_host else None,
        "https_url": sync.get("https_url") if enrolment else config.sync.https_url,
        "certificate": cert_info,
        "files": entries,
        "missing": [e["name"] for e in entries if not e["present"]],
        "wipe_pending": wipe,
        "healthy": healthy,
    }


def _enrolment(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return read_enrolment(path), None
    except ConfigError as exc:
        return None, str(exc)


def _file(name: str, path: Path, mode: int | None, problem: str | None) -> dict[str, Any]:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return {"name": name, "path": str(path), "present": False, "ok": False,
                "detail": "missing"}
    except OSError as exc:
        return {"name": name, "path": str(path), "present": True, "ok": False,
                "detail": f"cannot be read ({exc.strerror})"}
    actual = stat.S_IMODE(info.st_mode)
    detail = problem
    if stat.S_ISLNK(info.st_mode):
        detail = "is a symbolic link"
    elif mode is not None and actual != mode:
        detail = f"permissions {actual:04o}, should be {mode:04o} (chmod {mode:o} {path})"
    return {"name": name, "path": str(path), "present": True, "ok": detail is None,
            "detail": detail}


def _certificate(path: Path) -> tuple[x509.Certificate | None, dict[str, Any] | None,
                                      str | None]:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        return None, None, None
    except (OSError, ValueError):
        return None, None, "does not hold a PEM certificate"
    not_after = cert.not_valid_after_utc
    left = (not_after - datetime.now(timezone.utc)).total_seconds() / 86400
    info = {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "not_after": not_after.isoformat().replace("+00:00", "Z"),
            "days_left": math.floor(left), "expired": left <= 0}
    problem = f"expired on {info['not_after']}: enrol the box again" if left <= 0 else None
    return cert, info, problem


def _key_problem(path: Path, cert: x509.Certificate | None) -> str | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError:
        return None  # reported as missing or unreadable
    except (ValueError, TypeError):
        return "does not hold an unencrypted PEM private key"
    if cert is not None:
        fmt = serialization.PublicFormat.SubjectPublicKeyInfo
        if (key.public_key().public_bytes(serialization.Encoding.DER, fmt)
                != cert.public_key().public_bytes(serialization.Encoding.DER, fmt)):
            return "is not the key of device.pem"
    return None


def _issuer_problem(cert: x509.Certificate | None, ca_path: Path) -> str | None:
    if cert is None:
        return None
    try:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        cert.verify_directly_issued_by(ca)
    except (OSError, ValueError):
        return None  # central-ca.pem's own entry says what is wrong with it
    except (TypeError, InvalidSignature):
        return "was not issued by central-ca.pem"
    return None


def _pem_problem(path: Path, what: str) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if what == "certificate":
            x509.load_pem_x509_certificate(data)
        else:
            serialization.load_pem_public_key(data)
    except ValueError:
        return f"does not hold a PEM {what}"
    return None


def summary_lines(found: dict[str, Any]) -> list[str]:
    """Human-readable lines for the terminal."""
    lines = []
    who = f"{found['device_id']} ({found['tenant']}/{found['site']})"
    lines.append(f"enrolled: {'yes' if found['enrolled'] else 'no'}; device {who}")
    lines.append(f"central: {found['central_url'] or '-'}; mqtt {found['mqtt'] or '-'};"
                 f" https {found['https_url'] or '-'}")
    cert = found["certificate"]
    if cert is None:
        lines.append("certificate: none")
    else:
        state = "EXPIRED" if cert["expired"] else f"{cert['days_left']} days left"
        lines.append(f"certificate: {cert['subject']} issued by {cert['issuer']}, valid until"
                     f" {cert['not_after']} ({state})")
    for entry in found["files"]:
        mark = "ok" if entry["ok"] else "PROBLEM"
        detail = f": {entry['detail']}" if entry["detail"] else ""
        lines.append(f"  {mark:<7} {entry['name']:<20} {entry['path']}{detail}")
    if found["wipe_pending"]:
        lines.append("a factory reset is pending: finish it with `kiosk provision wipe`")
    lines.append("healthy" if found["healthy"] else "NOT healthy")
    return lines
