"""Reading sealed recordings: a seekable plaintext view that authenticates each chunk as it
is read, and private plaintext copies for tools that can only open a path (format and
writing: :mod:`device.storage.media_crypto`)."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from device.storage.media_crypto import (
    HEADER,
    HEADER_BYTES,
    MAGIC,
    MAX_CHUNK,
    TAG_BYTES,
    MediaCryptoError,
    MediaIntegrityError,
    MediaKey,
    chunk_aad,
    chunk_nonce,
    private_dir,
    read_full,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class SealedReader(io.RawIOBase):
    """A read-only, seekable view of a sealed recording's plaintext.

    Opening checks the header and that the file's length fits whole chunks; each chunk is
    authenticated when first read, before any of its bytes are returned."""

    def __init__(self, path: Path, key: MediaKey) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self._file = self.path.open("rb", buffering=0)
        try:
            self._open(key)
        except BaseException:
            self._file.close()
            raise
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def _open(self, key: MediaKey) -> None:
        header = read_full(self._file, HEADER_BYTES)
        if header[: len(MAGIC)] != MAGIC:
            raise MediaCryptoError(f"{self.path} is not a sealed recording (no"
                                   f" {MAGIC[:-1].decode()} header)")
        if len(header) < HEADER_BYTES:
            raise MediaIntegrityError(f"{self.path} is truncated: its header is incomplete",
                                      self.path)
        _, key_id, chunk_size, _ = HEADER.unpack(header)
        if key_id.hex() != key.key_id:
            raise MediaCryptoError(f"{self.path} was sealed with key {key_id.hex()}, this box"
                                   f" has {key.key_id}")
        if not 0 < chunk_size <= MAX_CHUNK:
            raise MediaIntegrityError(f"{self.path} has a damaged header (chunk size"
                                      f" {chunk_size})", self.path)
        body = os.fstat(self._file.fileno()).st_size - HEADER_BYTES
        stride = chunk_size + TAG_BYTES
        whole, rest = divmod(body, stride)
        if rest == 0 and whole > 0:
            chunks, last = whole, chunk_size
        elif rest >= TAG_BYTES:
            chunks, last = whole + 1, rest - TAG_BYTES
        else:
            raise MediaIntegrityError(
                f"{self.path} was altered or truncated: its {body} bytes after the header do"
                f" not make whole chunks", self.path)
        self._header = bytes(header)
        self._aead = AESGCM(key.key)
        self.chunk_size: int = chunk_size
        self.chunks: int = chunks
        self._last = last
        #: Plaintext size in bytes.
        self.size: int = (chunks - 1) * chunk_size + last

    # --- io.RawIOBase ------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence ({whence})")
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Fill ``buffer`` from the current chunk (a short read at a chunk boundary)."""
        self._check_open()
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or not len(view):
            return 0
        index, start = divmod(self._pos, self.chunk_size)
        plain = self._chunk(index)
        n = min(len(view), len(plain) - start)
        view[:n] = plain[start:start + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all that remain when negative), across chunk boundaries."""
        self._check_open()
        remaining = max(self.size - self._pos, 0)
        want = remaining if size is None or size < 0 else min(size, remaining)
        out = bytearray(want)
        view = memoryview(out)
        got = 0
        while got < want:
            got += self.readinto(view[got:])
        return bytes(out)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._cached = None
        super().close()

    # --- chunks ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed sealed recording {self.path}")

    def _chunk(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        final = index == self.chunks - 1
        length = (self._last if final else self.chunk_size) + TAG_BYTES
        self._file.seek(HEADER_BYTES + index * (self.chunk_size + TAG_BYTES))
        data = read_full(self._file, length)
        try:
            if len(data) != length:  # the file shrank while open
                raise InvalidTag
            plain = self._aead.decrypt(chunk_nonce(self._header, index), data,
                                       chunk_aad(self._header, index, final))
        except InvalidTag:
            raise MediaIntegrityError(
                f"chunk {index} of {self.path} failed authentication: the file was altered or"
                " truncated", self.path, index) from None
        self._cached = (index, plain)
        return plain


# --- plaintext copies for tools that need a path ---------------------------------------------

COPY_BLOCK = 1 << 20
_PLAIN_PREFIX = "plain-"


@contextmanager
def decrypted_copy(path: Path, key: MediaKey, workdir: Path, suffix: str) -> Iterator[Path]:
    """A private plaintext copy of a sealed recording, removed when the block ends.

    For tools that can only open a path (speech recognition, video decoding). The copy is
    owner-only, in ``workdir`` (created owner-only), and removed on exit, also when the
    block or the decryption raises; :func:`clear_workdir` removes what a crash left."""
    private_dir(workdir)
    fd, name = tempfile.mkstemp(prefix=_PLAIN_PREFIX, suffix=suffix, dir=workdir)
    plain = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, SealedReader(path, key) as reader:
            while block := reader.read(COPY_BLOCK):
                out.write(block)
        yield plain
    finally:
        plain.unlink(missing_ok=True)


def clear_workdir(workdir: Path) -> int:
    """Remove plaintext copies left in ``workdir`` (after a crash); returns how many."""
    if not workdir.is_dir():
        return 0
    removed = 0
    for entry in workdir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed
