"""TLS material for mutual TLS between boxes and central: a CA, server and client certificates.

One certificate authority signs central's server certificates (the MQTT broker, the HTTPS
receiver) and one client certificate per box (CN = device id; central's own MQTT client uses
CN ``central``). The broker maps the CN to the MQTT username its ACL is written for.
Revoking a box's certificate rewrites the CA's CRL, which the broker loads.

Files are PEM. A CA directory holds ``ca.pem``, ``ca.key`` and ``crl.pem``; a credential is
``<name>.pem`` and ``<name>.key`` in the directory it was issued into. Keys are written 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central.identity import check_device_name
from shared.errors import KioskError
from shared.files import write_atomic

CA_VALID_DAYS = 3650
LEAF_VALID_DAYS = 825
CRL_VALID_DAYS = 365
#: Certificates start to be valid a little in the past, so that a peer whose clock runs
#: slightly behind still accepts them.
BACKDATE = dt.timedelta(hours=1)
#: Names always in a server certificate: the broker and the receiver listen on loopback in
#: the demo and the tests.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PkiError(KioskError):
    """TLS material that cannot be created, read or used (missing, unreadable, mismatched)."""

    code = "pki-error"


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path

    def check(self) -> None:
        """Raise :class:`PkiError` unless both files load and the key matches the certificate."""
        cert = read_certificate(self.cert)
        key = read_private_key(self.key)
        if not _same_public_key(cert.public_key(), key.public_key()):
            raise PkiError(f"{self.key} is not the private key of the certificate {self.cert}")

    def common_name(self) -> str:
        return common_name(read_certificate(self.cert))


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA on disk: ``ca.pem`` (certificate), ``ca.key`` (private key), ``crl.pem``."""

    directory: Path
    name: str

    @property
    def cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"

    # -- creating and opening ---------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, name: str, *,
               valid_days: int = CA_VALID_DAYS) -> CertificateAuthority:
        """Create a new CA in ``directory`` (which must not hold one yet), with an empty CRL."""
        directory = Path(directory)
        ca = cls(directory, name)
        if ca.cert.exists() or ca.key.exists():
            raise PkiError(f"{directory} already holds a certificate authority; open it with"
                           " CertificateAuthority.load or choose another directory")
        _make_dir(directory)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(ca.key, key)
        _write_public(ca.cert, cert.public_bytes(serialization.Encoding.PEM))
        ca._write_crl(key, cert, [])
        return ca

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """Open an existing CA; raises :class:`PkiError` if its files are missing or mismatched."""
        directory = Path(directory)
        cert = read_certificate(directory / "ca.pem")
        Credential(directory / "ca.pem", directory / "ca.key").check()
        return cls(directory, common_name(cert))

    # -- issuing ----------------------------------------------------------------------

    def issue_server(self, name: str, directory: Path,
                     hosts: Iterable[str] = (), *,
                     valid_days: int = LEAF_VALID_DAYS) -> Credential:
        """A server certificate named ``name`` for localhost, 127.0.0.1 and ``hosts``.

        Each host that parses as an IP address becomes an IP SAN, any other a DNS SAN.
        """
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys([*LOOPBACK_HOSTS, *hosts]):
            names.append(_general_name(host))
        return self._issue(name, directory, ExtendedKeyUsageOID.SERVER_AUTH,
                           x509.SubjectAlternativeName(names), valid_days)

    def issue_client(self, cn: str, directory: Path, *,
                     valid_days: int = LEAF_VALID_DAYS) -> Credential:
        """A client certificate with CN ``cn`` (a device id, or ``central``)."""
        return self._issue(cn, directory, ExtendedKeyUsageOID.CLIENT_AUTH, None, valid_days)

    def _issue(self, name: str, directory: Path, usage: x509.ObjectIdentifier,
               san: x509.SubjectAlternativeName | None, valid_days: int) -> Credential:
        _check_name(name)
        directory = Path(directory)
        _make_dir(directory)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._leaf(key.public_key(), name, usage, san, valid_days)
        cred = Credential(directory / f"{name}.pem", directory / f"{name}.key")
        _write_key(cred.key, key)
        _write_public(cred.cert, cert.public_bytes(serialization.Encoding.PEM))
        return cred

    def sign_csr(self, csr_pem: bytes, cn: str, *,
                 valid_days: int = LEAF_VALID_DAYS) -> x509.Certificate:
        """A client certificate with CN ``cn`` for the key of a certificate signing request.

        The request's own subject is ignored: the CA decides the name. Raises
        :class:`PkiError` if the request does not parse, its signature does not verify, or
        its key is neither EC (P-256 or larger) nor RSA of at least 2048 bits, or ``cn`` is
        one of central's service names (requests are what boxes send; central's own
        certificates are issued with :meth:`issue_client`).
        """
        _check_name(cn)
        try:
            check_device_name(cn)
        except ValueError as exc:
            raise PkiError(str(exc)) from None
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError:
            raise PkiError("the certificate signing request is not a PEM CSR") from None
        if not csr.is_signature_valid:
            raise PkiError("the certificate signing request's signature does not verify")
        public = csr.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            if public.curve.key_size < 256:
                raise PkiError("the request's EC key is too small (P-256 or larger)")
        elif isinstance(public, rsa.RSAPublicKey):
            if public.key_size < 2048:
                raise PkiError("the request's RSA key is too small (2048 bits or more)")
        else:
            raise PkiError("the request's key must be an EC or RSA key")
        return self._leaf(public, cn, ExtendedKeyUsageOID.CLIENT_AUTH, None, valid_days)

    def _leaf(self, public: CertificatePublicKeyTypes, name: str,
              usage: x509.ObjectIdentifier, san: x509.SubjectAlternativeName | None,
              valid_days: int) -> x509.Certificate:
        ca_cert, ca_key = self._open()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(min(now + dt.timedelta(days=valid_days), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    # -- revocation -------------------------------------------------------------------

    def revoke(self, cert_path: Path) -> Path:
        """Add the certificate at ``cert_path`` to the CRL; returns the CRL's path.

        Raises :class:`PkiError` if the certificate was not issued by this CA.
        Revoking a certificate twice is harmless.
        """
        ca_cert, ca_key = self._open()
        cert = read_certificate(Path(cert_path))
        if not self.issued(cert):
            raise PkiError(f"{cert_path} (CN {common_name(cert)!r}) was not issued by the"
                           f" certificate authority {self.name!r} in {self.directory}")
        entries = list(self._revoked_entries())
        if all(e.serial_number != cert.serial_number for e in entries):
            entries.append(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(_now())
                .build()
            )
        self._write_crl(ca_key, ca_cert, entries)
        return self.crl

    def revoked_serials(self) -> set[int]:
        return {e.serial_number for e in self._revoked_entries()}

    def is_revoked(self, cert_path: Path) -> bool:
        return read_certificate(Path(cert_path)).serial_number in self.revoked_serials()

    def issued(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` carries this CA's signature."""
        ca_cert = read_certificate(self.cert)
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def _revoked_entries(self) -> Iterable[x509.RevokedCertificate]:
        if not self.crl.exists():
            return []
        try:
            crl = x509.load_pem_x509_crl(self.crl.read_bytes())
        except (OSError, ValueError) as exc:
            raise PkiError(f"{self.crl}: the CRL cannot be read ({exc})") from None
        return list(crl)

    def _write_crl(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
                   entries: Sequence[x509.RevokedCertificate]) -> None:
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now - BACKDATE)
            .next_update(now + dt.timedelta(days=CRL_VALID_DAYS))
        )
        for entry in entries:
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(key, hashes.SHA256())
        _write_public(self.crl, crl.public_bytes(serialization.Encoding.PEM))

    def _open(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = read_certificate(self.cert)
        key = read_private_key(self.key)
        if not _same_public_key(cert.public_key(), key.public_key()):
            raise PkiError(f"{self.key} is not the private key of the CA certificate {self.cert}")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.key}: the CA key must be an EC key")
        return cert, key


# -- reading ------------------------------------------------------------------------------

def read_certificate(path: Path) -> x509.Certificate:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: the certificate cannot be read ({exc.strerror or exc})") from None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise PkiError(f"{path} does not hold a PEM certificate") from None


def read_private_key(path: Path) -> PrivateKeyTypes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: the private key cannot be read ({exc.strerror or exc})") from None
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{path} does not hold an unencrypted PEM private key") from None


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


# -- internals ----------------------------------------------------------------------------

def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise PkiError(f"{name!r} cannot name a certificate: use letters, digits, '.', '_'"
                       " or '-' (at most 64 characters, not starting with a symbol)")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or any(c.isspace() for c in host):
        raise PkiError(f"{host!r} is neither an IP address nor a DNS name")
    return x509.DNSName(host)


def _same_public_key(a: object, b: object) -> bool:
    def der(k: object) -> bytes:
        return k.public_bytes(  # type: ignore[attr-defined,no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        return der(a) == der(b)
    except (AttributeError, ValueError):
        return False


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PkiError(f"{directory}: cannot create the directory ({exc.strerror or exc})"
                       ) from None


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    _write(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write(path, data, 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    write_atomic(path, data, mode, error=PkiError)
