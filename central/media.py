"""Resumable media uploads: declare, append checksummed chunks, verify the whole file.

Each chunk is written at the upload's offset and fsynced before the offset moves on, so
an acknowledged chunk survives a power cut. The box asks for the offset (``GET``) after
any failure and resumes from there.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from central.errors import (
    ConflictError,
    InvalidContentError,
    NotFoundError,
    OffsetMismatchError,
)
from central.store import ReceiverStore, row, utc_now
from shared.files import fsync_dir

MEDIA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
HEX64 = r"^[0-9a-fA-F]{64}$"


class MediaDeclaration(BaseModel):
    """Body of ``PUT /v1/media/{media_id}``."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1, max_length=128, description="Session it belongs to.")
    bytes: int = Field(ge=0, description="Size of the whole file.")
    sha256: str = Field(pattern=HEX64, description="SHA-256 of the whole file (hex).")
    content_type: str = Field(min_length=1, max_length=128, description="e.g. video/mp4.")


@dataclass(frozen=True)
class UploadState:
    offset: int
    bytes: int
    complete: bool

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset, "bytes": self.bytes, "complete": self.complete}


def check_media_id(media_id: str) -> str:
    if not MEDIA_ID.match(media_id):
        raise InvalidContentError(
            f"media id {media_id!r} is not valid (1-128 characters: letters, digits, '.', '_',"
            " ':', '-'; starting with a letter or digit)")
    return media_id


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class MediaUploads:
    def __init__(self, store: ReceiverStore, directory: Path) -> None:
        self.store = store
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, media_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(media_id, threading.Lock())

    def _row(self, media_id: str, device_id: str | None = None) -> dict[str, Any]:
        """An upload's record; for a box (``device_id``), only one it declared itself: any
        other is answered as never declared, so a box learns nothing of another's."""
        found = self.store.one('SELECT id, session_id, bytes, sha256, content_type, "offset",'
                               " complete, path, device_id FROM media WHERE id = ?", (media_id,))
        if found is None or (device_id is not None and found["device_id"] != device_id):
            raise NotFoundError(f"media {media_id} has not been declared (PUT it first)")
        return found

    def state(self, media_id: str, device_id: str | None = None) -> UploadState:
        r = self._row(check_media_id(media_id), device_id)
        return UploadState(r["offset"], r["bytes"], bool(r["complete"]))

    def declare(self, media_id: str, declared: MediaDeclaration,
                device_id: str | None = None) -> UploadState:
        """Start an upload for box ``device_id``, or return where an identical one of the
        same box stands (idempotent)."""
        check_media_id(media_id)
        sha = declared.sha256.lower()
        path = self.directory / media_id
        with self._lock(media_id):
            with self.store.transaction() as conn:
                existing = row(conn, 'SELECT bytes, sha256, "offset", complete, device_id'
                               " FROM media WHERE id = ?", (media_id,))
                if existing is not None and existing["device_id"] != device_id:
                    raise ConflictError(f"media {media_id} is already declared by another box;"
                                        " a media id must never be reused")
                if existing is not None:
                    if existing["bytes"] != declared.bytes or existing["sha256"] != sha:
                        raise ConflictError(
                            f"media {media_id} is already declared with {existing['bytes']}"
                            f" bytes and sha256 {existing['sha256']}, not {declared.bytes}"
                            f" bytes and sha256 {sha}")
                    return UploadState(existing["offset"], existing["bytes"],
                                       bool(existing["complete"]))
                empty = declared.bytes == 0
                if empty and sha != hashlib.sha256(b"").hexdigest():
                    raise InvalidContentError(
                        f"media {media_id}: an empty file's sha256 is"
                        f" {hashlib.sha256(b'').hexdigest()}, not {sha}")
                path.open("wb").close()
                fsync_dir(self.directory)
                conn.execute(
                    'INSERT INTO media (id, session_id, bytes, sha256, content_type, "offset",'
                    " complete, path, created, completed, device_id)"
                    " VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                    (media_id, declared.session_id, declared.bytes, sha, declared.content_type,
                     int(empty), str(path), utc_now(), utc_now() if empty else None,
                     device_id))
            return UploadState(0, declared.bytes, empty)

    def append(self, media_id: str, upload_offset: int, chunk: bytes,
               chunk_sha256: str, device_id: str | None = None) -> UploadState:
        """Write one chunk at ``upload_offset``; verify the whole file when it is the last."""
        check_media_id(media_id)
        with self._lock(media_id):
            r = self._row(media_id, device_id)
            offset, size = r["offset"], r["bytes"]
            if upload_offset != offset:
                raise OffsetMismatchError(
                    f"media {media_id}: Upload-Offset is {upload_offset} but the upload stands"
                    f" at {offset}{' (complete)' if r['complete'] else ''}; resume from there",
                    offset)
            if r["complete"]:
                if chunk:
                    raise OffsetMismatchError(
                        f"media {media_id} is already complete ({size} bytes)", offset)
                return UploadState(offset, size, True)
            actual = hashlib.sha256(chunk).hexdigest()
            if actual != chunk_sha256.lower():
                raise InvalidContentError(
                    f"media {media_id}: chunk at offset {offset} has sha256 {actual}, not"
                    f" {chunk_sha256} as declared in Chunk-Sha256; chunk discarded",
                    offset=offset)
            if offset + len(chunk) > size:
                raise InvalidContentError(
                    f"media {media_id}: a chunk of {len(chunk)} bytes at offset {offset} runs"
                    f" past the declared size of {size} bytes", offset=offset)
            path = Path(r["path"])
            with path.open("r+b") as f:
                f.truncate(offset)  # drop anything written after the last recorded offset
                f.seek(offset)
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            new_offset = offset + len(chunk)
            if new_offset < size:
                with self.store.transaction() as conn:
                    conn.execute('UPDATE media SET "offset" = ? WHERE id = ?',
                                 (new_offset, media_id))
                return UploadState(new_offset, size, False)
            return self._finish(media_id, path, r["sha256"], size)

    def _finish(self, media_id: str, path: Path, expected: str, size: int) -> UploadState:
        actual = _file_sha256(path)
        if actual == expected:
            with self.store.transaction() as conn:
                conn.execute('UPDATE media SET "offset" = ?, complete = 1, completed = ?'
                             " WHERE id = ?", (size, utc_now(), media_id))
            return UploadState(size, size, True)
        with path.open("r+b") as f:
            f.truncate(0)
            os.fsync(f.fileno())
        with self.store.transaction() as conn:
            conn.execute('UPDATE media SET "offset" = 0, restarts = restarts + 1 WHERE id = ?',
                         (media_id,))
        raise InvalidContentError(
            f"media {media_id}: the whole file has sha256 {actual}, not {expected} as declared;"
            " the upload restarts at offset 0", offset=0)

    def file(self, media_id: str) -> tuple[Path, str]:
        """The stored file of a complete upload and its content type."""
        r = self._row(check_media_id(media_id))
        if not r["complete"]:
            raise ConflictError(
                f"media {media_id} is not complete ({r['offset']} of {r['bytes']} bytes)")
        return Path(r["path"]), r["content_type"]

    def complete_count(self) -> int:
        found = self.store.one("SELECT COUNT(*) AS n FROM media WHERE complete = 1")
        return 0 if found is None else int(found["n"])
