"""Recordings encrypted at rest: AES-256-GCM in independently authenticated chunks.

Each recording is sealed under the box's media key (32 random bytes in
``<data_dir>/secrets/media.key``, owner-only) as soon as it is closed, and is read back
through :class:`device.storage.media_reader.SealedReader`, which decrypts only the chunk a
read needs, so an upload can resume in the middle of a file and nothing ever holds a whole
recording in memory.

Sealed file format (all integers big-endian)::

    header  = b"KMEDIA1\\0"            8 bytes, magic
              key id                   8 bytes, the first 8 bytes of SHA-256(key)
              chunk size               u32, plaintext bytes per chunk
              nonce prefix             8 random bytes, new for every file
    chunk i = AES-256-GCM(plaintext[i * chunk size : (i + 1) * chunk size])
              ciphertext followed by its 16-byte tag

    nonce(i) = nonce prefix + u32(i)
    aad(i)   = header + u32(i) + final, where final is 1 on the last chunk and 0 on the others

Every chunk holds ``chunk size`` plaintext bytes except the last, which may be shorter (and
is empty only for an empty recording), so the plaintext size follows from the file size.
Because the header, the chunk's index and the final flag are authenticated with each chunk,
an altered byte, chunks swapped or dropped, a file cut short (even at a chunk boundary) and
chunks appended are all detected when the affected chunk is read.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from device.errors import KioskError
from device.storage.key_file import KEY_BYTES, create_key, read_key
from shared.files import fsync_dir

if TYPE_CHECKING:
    pass

MAGIC = b"KMEDIA1\0"
TAG_BYTES = 16
DEFAULT_CHUNK = 1 << 20
#: Largest chunk a header may name: bounds what one read allocates, even for a forged file.
MAX_CHUNK = 1 << 24
#: Name ending of a sealed recording: ``<answer_id>.<ext>.sealed``.
SEALED_SUFFIX = ".sealed"

HEADER = struct.Struct(">8s8sI8s")
HEADER_BYTES = HEADER.size
INDEX = struct.Struct(">I")
MAX_CHUNKS = 1 << 32


class MediaCryptoError(KioskError):
    """A recording cannot be sealed or opened (no key, wrong key, not a sealed file...)."""

    status = 500
    code = "media-crypto"


class MediaIntegrityError(MediaCryptoError):
    """A sealed recording was altered, truncated or extended."""

    code = "media-integrity"

    def __init__(self, message: str, path: Path, chunk: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.chunk = chunk


@dataclass(frozen=True)
class MediaKey:
    """The box's recording key; ``key_id`` names it in every file it seals."""

    key: bytes = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise MediaCryptoError(f"a media key has {KEY_BYTES} bytes, not {len(self.key)}")
        object.__setattr__(self, "key_id", hashlib.sha256(self.key).hexdigest()[:16])

    @classmethod
    def load(cls, path: Path) -> MediaKey:
        """The key in ``path``; refused when the file is open to others or the wrong size."""
        return cls(read_key(path, "media key", MediaCryptoError,
                            "sealed recordings cannot be read without it"))

    @classmethod
    def load_or_create(cls, path: Path) -> MediaKey:
        """The key in ``path``, created (owner-only, in an owner-only directory) if missing;
        two processes starting together end up with the same key."""
        if not path.exists():
            create_key(path, "media key", MediaCryptoError)
        return cls.load(path)


@dataclass(frozen=True)
class SealedInfo:
    """What sealing a recording measured on the way."""

    plain_bytes: int
    plain_sha256: str
    sealed_bytes: int
    key_id: str


def seal_file(src: Path, dest: Path, key: MediaKey, *, chunk_size: int = DEFAULT_CHUNK
              ) -> SealedInfo:
    """Encrypt ``src`` into ``dest`` (owner-only), streaming one chunk at a time.

    The sealed file is written beside ``dest`` as ``<dest>.part``, flushed to disk and
    renamed, so ``dest`` is either absent or complete. ``src`` is left in place: the caller
    deletes it once the sealed file is registered."""
    if not 0 < chunk_size <= MAX_CHUNK:
        raise MediaCryptoError(f"chunk size {chunk_size} is outside 1..{MAX_CHUNK}")
    part = dest.with_name(dest.name + ".part")
    header = HEADER.pack(MAGIC, bytes.fromhex(key.key_id), chunk_size, secrets.token_bytes(8))
    aead = AESGCM(key.key)
    digest = hashlib.sha256()
    plain = sealed = 0
    try:
        with src.open("rb") as f, _private_file(part) as out:
            out.write(header)
            sealed += len(header)
            current, index = read_full(f, chunk_size), 0
            while True:
                following = read_full(f, chunk_size) if len(current) == chunk_size else b""
                final = not following
                digest.update(current)
                block = aead.encrypt(chunk_nonce(header, index), current,
                                     chunk_aad(header, index, final))
                out.write(block)
                plain += len(current)
                sealed += len(block)
                if final:
                    break
                index += 1
                if index >= MAX_CHUNKS:
                    raise MediaCryptoError(f"{src} is too large to seal in {chunk_size}-byte"
                                           " chunks")
                current = following
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise MediaCryptoError(f"cannot seal {src} into {dest}: {exc.strerror or exc}"
                               ) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return SealedInfo(plain_bytes=plain, plain_sha256=digest.hexdigest(), sealed_bytes=sealed,
                      key_id=key.key_id)


def is_sealed(path: Path) -> bool:
    """Whether ``path`` starts like a sealed recording (it is not authenticated here)."""
    with path.open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def plain_suffix(path: Path) -> str:
    """The plaintext's file extension: ``.wav`` for ``abc.wav.sealed`` (and for ``abc.wav``)."""
    name = path.name
    if name.endswith(SEALED_SUFFIX):
        name = name[: -len(SEALED_SUFFIX)]
    return Path(name).suffix


# --- shared with the reader ------------------------------------------------------------

def chunk_nonce(header: bytes, index: int) -> bytes:
    """The nonce of chunk ``index``: the file's nonce prefix and the index."""
    return header[-8:] + INDEX.pack(index)


def chunk_aad(header: bytes, index: int, final: bool) -> bytes:
    """What chunk ``index`` authenticates besides itself: the header, its index, whether last."""
    return header + INDEX.pack(index) + (b"\x01" if final else b"\x00")


def read_full(f: IO[bytes], n: int) -> bytes:
    """``n`` bytes, fewer only at end of file (raw reads may return short)."""
    parts, got = [], 0
    while got < n and (more := f.read(n - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


@contextmanager
def _private_file(path: Path) -> Iterator[IO[bytes]]:
    path.unlink(missing_ok=True)  # a leftover keeps its mode through O_TRUNC
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        yield f


def private_dir(path: Path) -> None:
    """Create ``path`` owner-only (0700), or make it so."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
