"""Ed25519 signatures on documents from central (job packages, rosters, config, deletions).

Central signs; the box verifies with central's public key, pinned at provisioning. What is
signed is the canonical JSON of every field of the document except ``signature``: keys
sorted, no whitespace, UTF-8. Anyone can reproduce it in any language.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.contract import SignedDocument
from shared.errors import KioskError


class SignatureError(KioskError):
    """A document's signature is missing, malformed, from an unknown key, or wrong."""


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The bytes a signature covers: every field but ``signature``, canonical JSON."""
    unsigned = {k: v for k, v in fields.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(private: Ed25519PrivateKey, fields: dict[str, Any]) -> SignedDocument:
    """Sign a document's fields (all but ``key_id`` and ``signature``)."""
    body = {**fields, "key_id": key_id(private.public_key()), "signature": ""}
    document = SignedDocument.model_validate(body)
    data = canonical_bytes(document.model_dump(mode="json"))
    signature = base64.b64encode(private.sign(data)).decode()
    return document.model_copy(update={"signature": signature})


def verify(document: SignedDocument, public: Ed25519PublicKey) -> None:
    """Raise :class:`SignatureError` unless central's pinned key signed exactly this."""
    expected = key_id(public)
    if document.key_id != expected:
        raise SignatureError(
            f"document {document.document_id} is signed by key {document.key_id!r}, not by"
            f" central's pinned key {expected!r}")
    try:
        signature = base64.b64decode(document.signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(
            f"document {document.document_id}: the signature is not base64") from None
    try:
        public.verify(signature, canonical_bytes(document.model_dump(mode="json")))
    except InvalidSignature:
        raise SignatureError(
            f"document {document.document_id}: the signature does not match its content"
            " (altered, truncated or forged)") from None


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def write_private_key(private: Ed25519PrivateKey, path: Path) -> None:
    """Write a private key as PEM, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def public_pem(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Central's pinned public key (PEM); a clear error when it is missing or not Ed25519."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(
            f"{path}: central's signing key is not installed ({exc.strerror}); documents from"
            " central cannot be checked, so none are applied") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise SignatureError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: central's signing key must be Ed25519")
    return key
