"""Enrolling a box with central (``kiosk provision enroll``, ``POST /provision/enrol``).

The device key is generated on the box (EC P-256, 0600) and never leaves it: central gets a
certificate signing request with the one-time token, and answers with the box's
certificate, its CA certificate, the box's identity, where to deliver and its
document-signing key. Everything is written atomically; ``enrolment.toml`` is written last
and is what makes the box enrolled.

Re-running is safe. On an enrolled box, the same URL changes nothing; another URL is
refused unless ``force`` (recorded in the audit log). A key generated for an enrolment that
did not finish (central unreachable, power cut) is kept and reused, and central hands the
same certificate again to the same key with the same token, so the re-run completes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from device import audit
from device.audit import Actor
from device.config import DeviceConfig, KioskConfig
from device.enrolment_file import read_enrolment
from device.errors import ConfigError, KioskError
from device.storage.database import Store
from provisioning import files
from provisioning.central import NotAReceiverError, normalise_url, request_certificate
from provisioning.files import BoxFiles, ProvisioningError
from provisioning.wipe import refuse_if_pending

log = logging.getLogger(__name__)

CONSOLE = Actor("technician", "console")


class AlreadyEnrolledError(KioskError):
    status = 409
    code = "already-enrolled"


@dataclass(frozen=True)
class Outcome:
    changed: bool
    device_id: str
    message: str


def enrolled_url(box: BoxFiles) -> str | None:
    """The URL the box was enrolled with, if it is enrolled (and every file is there)."""
    try:
        found = read_enrolment(box.enrolment)
    except ConfigError:
        return None
    if found is None or not all(p.is_file() for p in box.secret_files()):
        return None
    url = found.get("enrolment", {}).get("url")
    return str(url) if url else ""


def enrol(config: KioskConfig, url: str, token: str, *, ca_file: Path | None = None,
          force: bool = False, store: Store | None = None, actor: Actor = CONSOLE,
          timeout_s: float = 30.0) -> Outcome:
    """Enrol this box with central at ``url`` using ``token``; see the module's docstring."""
    refuse_if_pending(config)
    url = normalise_url(url)
    box = BoxFiles.of(config)
    current = enrolled_url(box)
    previous = _identity(box) if box.enrolment.exists() else None
    if current is not None:
        if current == url and not force:
            return Outcome(False, previous["id"] if previous else config.device.id,
                           f"already enrolled with {url} as {previous and previous['id']};"
                           " nothing changed")
        if not force:
            raise AlreadyEnrolledError(
                f"this box is already enrolled with {current or 'central'} as"
                f" {previous and previous['id']}; to enrol it with {url} instead, run again"
                " with --force (its current identity is replaced)")
    files.secure_dir(box.secrets)
    key, key_path = _key(box, reuse_device_key=current is None)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .sign(key, hashes.SHA256()))
    answer = request_certificate(url, token, csr.public_bytes(serialization.Encoding.PEM)
                                 .decode(), ca_file=ca_file, timeout_s=timeout_s)
    cert = _check_answer(answer, key, url)
    if current is not None or box.enrolment.exists():
        files.unlink(box.enrolment)  # not enrolled until every new file is in place
    files.write_atomic(box.ca, answer["ca_pem"].encode())
    files.write_atomic(box.signing, answer["signing_public_key_pem"].encode())
    files.write_atomic(box.cert, cert.public_bytes(serialization.Encoding.PEM))
    if key_path != box.key:
        key_path.replace(box.key)
        files.fsync_dir(box.secrets)
    files.write_atomic(box.enrolment, _enrolment_text(answer, url).encode(), 0o644)
    device_id = answer["device_id"]
    forced = current is not None
    _audit(config, store, actor, device_id, url, forced, previous, current)
    log.info("enrolled as %s with %s%s", device_id, url, " (forced)" if forced else "")
    return Outcome(True, device_id, f"enrolled as {device_id} ({answer['tenant']}/"
                   f"{answer['site']}) with {url}; restart the kiosk services to use it")


def _identity(box: BoxFiles) -> dict[str, str] | None:
    try:
        found = read_enrolment(box.enrolment)
    except ConfigError:
        return None
    device = (found or {}).get("device", {})
    return {k: str(v) for k, v in device.items()} if device.get("id") else None


def _key(box: BoxFiles, *, reuse_device_key: bool) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """The key to enrol with: a pending one first, else (when not enrolled) an existing
    device key whose enrolment never finished, else a new one written as pending."""
    candidates = [box.pending_key] + ([box.key] if reuse_device_key else [])
    for path in candidates:
        if path.is_file():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError):
                log.warning("%s is not a usable key; a new one is generated", path)
                continue
            if isinstance(key, ec.EllipticCurvePrivateKey):
                log.info("reusing the key of an unfinished enrolment (%s)", path)
                return key, path
    key = ec.generate_private_key(ec.SECP256R1())
    files.write_atomic(box.pending_key, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return key, box.pending_key


def _check_answer(answer: dict[str, Any], key: ec.EllipticCurvePrivateKey,
                  url: str) -> x509.Certificate:
    def bad(why: str) -> NotAReceiverError:
        return NotAReceiverError(f"central at {url} answered with {why}; nothing was stored")

    try:
        cert = x509.load_pem_x509_certificate(answer["certificate_pem"].encode())
        ca = x509.load_pem_x509_certificate(answer["ca_pem"].encode())
        signing = serialization.load_pem_public_key(answer["signing_public_key_pem"].encode())
    except ValueError:
        raise bad("a certificate or key that does not parse") from None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(signing, Ed25519PublicKey):
        raise bad("a document-signing key that is not Ed25519")
    der = serialization.PublicFormat.SubjectPublicKeyInfo
    if (cert.public_key().public_bytes(serialization.Encoding.DER, der)
            != key.public_key().public_bytes(serialization.Encoding.DER, der)):
        raise bad("a certificate for another key than this box's")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise bad("a certificate its own CA did not sign") from None
    try:
        DeviceConfig(id=answer["device_id"], tenant=answer["tenant"], site=answer["site"])
    except ValueError:
        raise bad(f"an unusable device id {answer['device_id']!r}") from None
    cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    if not cn or cn[0].value != answer["device_id"]:
        raise bad("a certificate whose name is not the device id")
    return cert


def _enrolment_text(answer: dict[str, Any], url: str) -> str:
    mqtt = answer.get("mqtt") or {}
    sync: dict[str, Any] = {"transport": answer["transport"]}
    if mqtt:
        sync.update(mqtt_host=str(mqtt["host"]), mqtt_port=int(mqtt["port"]))
    sync["https_url"] = answer.get("https_url")
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return files.toml_text(
        {"enrolment": {"url": url, "enrolled": at},
         "device": {"id": answer["device_id"], "tenant": answer["tenant"],
                    "site": answer["site"]},
         "sync": sync},
        header="Written by `kiosk provision enroll`: who this box is and where central is.\n"
               "These values override the configuration file; KIOSK_* variables override"
               " them.")


def _audit(config: KioskConfig, store: Store | None, actor: Actor, device_id: str, url: str,
           forced: bool, previous: dict[str, str] | None, previous_url: str | None) -> None:
    details = {"url": url, "forced": forced,
               "previous_device_id": previous["id"] if previous else None,
               "previous_url": previous_url}
    action = "provision.re-enrol" if forced else "provision.enrol"
    reason = "forced re-enrolment (--force)" if forced else None
    own = store is None
    try:
        db_store = store or Store(config.db_path, busy_timeout_ms=config.store.busy_timeout_ms,
                                  check_integrity=False, mark=config.store_mark_path)
    except KioskError as exc:
        if forced:
            raise ProvisioningError(f"enrolled as {device_id}, but the forced re-enrolment"
                                    f" could not be recorded in the audit log: {exc}") from None
        log.warning("enrolment not recorded in the audit log: %s", exc)
        return
    try:
        with db_store.transaction() as db:
            audit.append(db, db_store.now(), actor, action, subject=device_id, reason=reason,
                         details=details)
    finally:
        if own:
            db_store.close()
