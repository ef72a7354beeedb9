"""The ``media`` table: one row per closed recording of an answer, as typed :class:`MediaRow`.

The only module that reads or writes the table. It sits in storage, below every feature,
because the session engine (registering recordings), the outbox (central's ack of a
recording), the storage budget (eviction) and erasure all change the same rows. A row is
``acked`` once central confirmed it holds the recording, ``purged`` once the box deleted
the file (eviction, erasure). Every function runs in the caller's transaction or read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import load_stamp, row, rows, stamp_json

_COLUMNS = ("id, session_id, answer_id, kind, path, bytes, sha256, encrypted, key_id,"
            " duration_s, created, acked, purged")


@dataclass(frozen=True, slots=True)
class MediaRow:
    """One recording. ``bytes`` and ``sha256`` describe the plaintext (what central checks
    after the upload); a sealed file (``encrypted``) names its key in ``key_id``."""

    id: str
    session_id: str
    answer_id: str | None
    kind: str
    path: str
    bytes: int
    sha256: str | None
    encrypted: bool
    key_id: str | None
    duration_s: float | None
    created: Stamp | None
    acked: Stamp | None = None
    purged: Stamp | None = None


def _media(r: dict[str, Any]) -> MediaRow:
    return MediaRow(
        id=r["id"], session_id=r["session_id"], answer_id=r["answer_id"], kind=r["kind"],
        path=r["path"], bytes=int(r["bytes"]), sha256=r["sha256"],
        encrypted=bool(r["encrypted"]), key_id=r["key_id"], duration_s=r["duration_s"],
        created=load_stamp(r["created"]), acked=load_stamp(r["acked"]),
        purged=load_stamp(r["purged"]),
    )


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


def add(db: Database, media: MediaRow) -> None:
    """Register a recording (a new row; ``acked`` and ``purged`` are not written)."""
    db.execute(
        "INSERT INTO media (id, session_id, answer_id, kind, path, bytes, sha256, encrypted,"
        " key_id, duration_s, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (media.id, media.session_id, media.answer_id, media.kind, media.path, media.bytes,
         media.sha256, int(media.encrypted), media.key_id, media.duration_s,
         stamp_json(media.created) if media.created else None),
    )


def find(db: Database, media_id: str) -> MediaRow | None:
    """The recording ``media_id``, purged or not."""
    found = row(db, f"SELECT {_COLUMNS} FROM media WHERE id = ?", (media_id,))  # noqa: S608 - fixed names
    return None if found is None else _media(found)


@dataclass(frozen=True, slots=True)
class Viewable:
    """A recording still on the box, with the job of its session (who may see it)."""

    media: MediaRow
    job_id: str


def viewable(db: Database, media_id: str) -> Viewable | None:
    """A recording not purged, with its session's job; None when there is none."""
    found = row(db, "SELECT m.*, s.job_id FROM media m JOIN sessions s ON s.id = m.session_id"
                " WHERE m.id = ? AND m.purged IS NULL", (media_id,))
    return None if found is None else Viewable(_media(found), found["job_id"])


def of_answer(db: Database, answer_id: str) -> list[MediaRow]:
    """The recordings of an answer still on the box."""
    return [_media(r) for r in rows(
        db, f"SELECT {_COLUMNS} FROM media WHERE answer_id = ? AND purged IS NULL",  # noqa: S608 - fixed names
        (answer_id,))]


def unconfirmed_of_session(db: Database, session_id: str) -> list[MediaRow]:
    """Recordings of a session with a checksum that central has not confirmed and the box
    still keeps, oldest first: the ones a ``media`` message may announce."""
    return [_media(r) for r in rows(
        db, f"SELECT {_COLUMNS} FROM media WHERE session_id = ? AND acked IS NULL"  # noqa: S608 - fixed names
        " AND purged IS NULL AND sha256 IS NOT NULL ORDER BY created, id", (session_id,))]


def sessions_with_unconfirmed(db: Database) -> list[str]:
    """Sessions with a recording :func:`unconfirmed_of_session` lists, sorted."""
    return [r["session_id"] for r in rows(
        db, "SELECT DISTINCT session_id FROM media WHERE acked IS NULL AND purged IS NULL"
        " AND sha256 IS NOT NULL ORDER BY session_id")]


def is_registered(db: Database, paths: Sequence[str]) -> bool:
    """Whether a recording with one of these paths is registered."""
    if not paths:
        return False
    return row(db, f"SELECT 1 AS x FROM media WHERE path IN ({_marks(paths)})",  # noqa: S608
               tuple(paths)) is not None


def mark_acked(db: Database, media_id: str, at: Stamp) -> None:
    """Central confirmed it holds the recording (a later confirmation changes nothing)."""
    db.execute("UPDATE media SET acked = ? WHERE id = ? AND acked IS NULL",
               (stamp_json(at), media_id))


def mark_purged(db: Database, media_id: str, at: Stamp) -> None:
    """The recording's file is deleted (a row already purged keeps its first time)."""
    db.execute("UPDATE media SET purged = ? WHERE id = ? AND purged IS NULL",
               (stamp_json(at), media_id))


@dataclass(frozen=True, slots=True)
class MediaTotals:
    """Bytes of the recordings still on the box, and of those central has not confirmed."""

    bytes: int
    unconfirmed_bytes: int


def totals(db: Database) -> MediaTotals:
    found = row(db, "SELECT COALESCE(SUM(bytes), 0) AS total, COALESCE(SUM(CASE WHEN"
                " acked IS NULL THEN bytes ELSE 0 END), 0) AS unconfirmed FROM media"
                " WHERE purged IS NULL")
    assert found is not None  # an aggregate always returns a row
    return MediaTotals(int(found["total"]), int(found["unconfirmed"]))


def count_unconfirmed(db: Database) -> int:
    """Recordings still on the box that central has not confirmed."""
    found = row(db, "SELECT COUNT(*) AS n FROM media WHERE acked IS NULL AND purged IS NULL")
    return int(found["n"]) if found else 0


def confirmed_batch(db: Database, after: int, limit: int) -> list[tuple[int, MediaRow]]:
    """Recordings central confirmed and the box still keeps, in registration order after
    the position ``after``: (position, row) pairs, for eviction in batches."""
    return [(int(r["rid"]), _media(r)) for r in rows(
        db, f"SELECT rowid AS rid, {_COLUMNS} FROM media WHERE acked IS NOT NULL"  # noqa: S608 - fixed names
        " AND purged IS NULL AND rowid > ? ORDER BY rowid LIMIT ?", (after, limit))]


def paths_of_sessions(db: Database, session_ids: Sequence[str]) -> list[str]:
    """The file of every recording of these sessions, purged or not."""
    return [r["path"] for r in rows(
        db, f"SELECT path FROM media WHERE session_id IN ({_marks(session_ids)})",  # noqa: S608
        tuple(session_ids))]


def purge_sessions(db: Database, session_ids: Sequence[str], at: Stamp) -> int:
    """Mark every recording of these sessions purged; returns how many were not yet."""
    return int(db.execute(
        f"UPDATE media SET purged = ? WHERE purged IS NULL AND session_id IN"  # noqa: S608
        f" ({_marks(session_ids)})", (stamp_json(at), *session_ids)).rowcount)


def kinds_by_answer(db: Database, session_id: str) -> dict[str, list[str]]:
    """The kinds of recording (``audio``, ``video``) each answer of a session still has on
    the box, sorted."""
    out: dict[str, list[str]] = {}
    for r in rows(db, "SELECT DISTINCT answer_id, kind FROM media WHERE session_id = ?"
                  " AND answer_id IS NOT NULL AND purged IS NULL ORDER BY answer_id, kind",
                  (session_id,)):
        out.setdefault(r["answer_id"], []).append(r["kind"])
    return out
