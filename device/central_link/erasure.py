"""Erasing a candidate's personal data on the box, on central's signed deletion request.

What goes, for every session of the candidate: the name, language and accommodation; the
follow-up questions asked; transcripts recognised live; analyses (transcripts,
observations); staff checklist scores;
results and reports; recordings (rows marked purged, files deleted after the commit);
invite, resume and link hashes; consent flags (so nothing is ever scored or reported for
the session again); every outbox message of those sessions, sent or not; and the
candidate's entries in stored roster documents. An open session is closed as revoked.

What stays, because it is not personal and keeps accounting coherent: session ids, jobs,
states, times and usage counters, answer timings, and the append-only audit log (which
holds ids and counts, never names).

Erasure is two steps. :func:`erase_candidate` runs inside the caller's transaction and
leaves a pending receipt in ``meta``; after the commit :func:`finish_erasure` deletes the
files and queues the ``deletion.receipt`` message, naming any file it could not delete.
A crash between the two is finished by :func:`finish_pending`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from device import audit
from device.analysis import analysis_rows, checklists
from device.audit import Actor
from device.central_link import inbox, outbox
from device.central_link.outbox import Identity
from device.clock import Stamp, elapsed_s
from device.sessions import answer_rows, candidate_rows, results, session_rows, usage
from device.storage import media, meta
from device.storage.database import Store
from shared.canonical_json import dumps

log = logging.getLogger(__name__)

PENDING = "erasure:"
RETRY = "erasure-retry:"
#: Fields of a roster entry that say something about the person.
PERSONAL_FIELDS = ("display_name", "language", "extra_time_pct", "invite_code")
CENTRAL = Actor("central", "deletion")
#: What a receipt counts: sessions closed, rows erased per kind, documents redacted.
COUNTED = ("sessions_closed", "follow_ups", "live_transcripts", "analyses", "checklists",
           "results", "media", "messages_withdrawn", "messages_cleared", "documents_redacted")


@dataclass(frozen=True)
class Receipt:
    """What an erasure did; its :meth:`body` is the ``deletion.receipt`` message."""

    request_id: str
    candidate_id: str
    found: bool
    sessions: tuple[str, ...]
    counts: dict[str, int]
    erased_at: str
    document_id: str | None = None
    #: Recordings to delete once the erasure is committed.
    files: tuple[str, ...] = ()
    pending_key: str = ""
    files_deleted: int = 0
    files_failed: tuple[str, ...] = ()
    message_id: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "candidate_id": self.candidate_id,
            "document_id": self.document_id,
            "found": self.found,
            "sessions": list(self.sessions),
            "counts": dict(self.counts),
            "files_deleted": self.files_deleted,
            "files_failed": list(self.files_failed),
            "erased_at": self.erased_at,
        }

    def to_json(self) -> str:
        return dumps({**self.body(), "files": list(self.files)})

    @classmethod
    def from_json(cls, text: str, pending_key: str) -> Receipt:
        d = json.loads(text)
        return cls(request_id=d["request_id"], candidate_id=d["candidate_id"], found=d["found"],
                   sessions=tuple(d["sessions"]), counts=d["counts"], erased_at=d["erased_at"],
                   document_id=d["document_id"], files=tuple(d["files"]),
                   pending_key=pending_key)


def erase_candidate(
    db: Database, now: Stamp, candidate_id: str, request_id: str, reason: str,
    *, document_id: str | None = None,
) -> Receipt:
    """Erase one candidate's personal data inside the caller's transaction.

    An unknown candidate is not an error: the receipt says nothing was found. Returns
    the receipt to hand to :func:`finish_erasure` after the commit.
    """
    candidate = candidate_rows.get(db, candidate_id)
    sessions = session_rows.ids_of_candidate(db, candidate_id)
    counts = dict.fromkeys(COUNTED, 0)
    files: list[str] = []
    if sessions:
        erased, files = _erase_sessions(db, sessions, now)
        counts.update(erased)
    if candidate is not None:
        candidate_rows.forget(db, candidate_id, now)
    counts["documents_redacted"] = redact_documents(db, candidate_id)
    receipt = Receipt(
        request_id=request_id, candidate_id=candidate_id, found=candidate is not None,
        sessions=tuple(sessions), counts=counts, erased_at=now.utc, document_id=document_id,
        files=tuple(files), pending_key=PENDING + uuid.uuid4().hex,
    )
    audit.append(db, now, CENTRAL, "candidate.erased", subject=candidate_id,
                 reason=reason[:500] or None,
                 details={"request_id": request_id, "document_id": document_id,
                          "found": receipt.found, "sessions": len(sessions), "counts": counts,
                          "files": len(files)})
    meta.add(db, receipt.pending_key, receipt.to_json())
    return receipt


def _erase_sessions(db: Database, sessions: list[str], now: Stamp
                    ) -> tuple[dict[str, int], list[str]]:
    counts = {"sessions_closed": _close_open(db, sessions, now)}
    erased, paths = erase_session_data(db, sessions, now)
    counts.update(erased)
    return counts, paths


def erase_session_data(db: Database, sessions: list[str], now: Stamp
                       ) -> tuple[dict[str, int], list[str]]:
    """Erase what is personal in these (ended) sessions inside the caller's transaction:
    follow-ups and live transcripts, analyses, checklist scores, results and reports,
    recordings (rows marked purged), every message about them, sent or not, and the codes
    and consent flags of the session rows. Returns counts per kind and the recordings'
    files, to delete once the transaction is committed (see :func:`delete_files`)."""
    ids = tuple(sessions)
    counts = {"follow_ups": answer_rows.clear_follow_ups(db, sessions),
              "live_transcripts": answer_rows.clear_live_transcripts(db, sessions)}
    counts["analyses"] = analysis_rows.delete_for_sessions(db, ids)
    counts["checklists"] = checklists.erase(db, sessions)
    counts["results"] = results.erase(db, sessions)
    paths = media.paths_of_sessions(db, ids)
    counts["media"] = media.purge_sessions(db, ids, now)
    counts["messages_withdrawn"] = outbox.delete_of_sessions(db, ids, acked=False)
    counts["messages_cleared"] = outbox.delete_of_sessions(db, ids, acked=True)
    session_rows.forget_personal(db, sessions)
    return counts, sorted(set(paths))


def _close_open(db: Database, sessions: list[str], now: Stamp) -> int:
    """Close open sessions as revoked, accounting the time spent in their last state."""
    found = session_rows.open_among(db, sessions)
    for s in found:
        spent = max(elapsed_s(s.state_since, now) or 0.0, 0.0)
        if s.state in usage.TIME_COLUMNS:
            usage.account_state(db, s.id, s.state, spent, now)
        answer_rows.interrupt_open(db, s.id, now)
        session_rows.revoke_erased(db, s.id, now, CENTRAL.label())
    return len(found)


def redact_documents(db: Database, candidate_id: str,
                     note: str = "erased at central's request") -> int:
    """Remove the candidate's personal fields from stored documents (rosters, rejects); a
    document that cannot be read is replaced by ``note``."""
    changed = 0
    for r in inbox.mentioning(db, candidate_id):
        try:
            document = json.loads(r.payload)
        except ValueError:
            document = None
        if document is None:
            payload = dumps({"redacted": note})
        elif _scrub(document, candidate_id):
            payload = dumps(document)
        else:
            continue
        inbox.replace_payload(db, r.message_id, payload)
        changed += 1
    return changed


def _scrub(value: Any, candidate_id: str) -> bool:
    changed = False
    if isinstance(value, dict):
        if value.get("candidate_id") == candidate_id:
            for name in PERSONAL_FIELDS:
                if value.get(name) is not None:
                    value[name] = None
                    changed = True
        for item in value.values():
            changed = _scrub(item, candidate_id) or changed
    elif isinstance(value, list):
        for item in value:
            changed = _scrub(item, candidate_id) or changed
    return changed


# -- after the commit ---------------------------------------------------------------------

def delete_files(paths: Sequence[str]) -> tuple[int, dict[str, str]]:
    """Delete recordings: (how many went, {path: why not} for those that could not)."""
    deleted = 0
    failed: dict[str, str] = {}
    for path in paths:
        try:
            Path(path).unlink()
            deleted += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed[path] = exc.strerror or type(exc).__name__
    return deleted, failed


def finish_erasure(store: Store, identity: Identity, receipt: Receipt) -> Receipt:
    """Delete the recordings, then queue the ``deletion.receipt`` message (once).

    A file that cannot be deleted is named in the receipt and retried by
    :func:`finish_pending`. When another caller already finished this erasure, the receipt
    is returned as it is.
    """
    deleted, failed = delete_files(receipt.files)
    done = replace(receipt, files_deleted=deleted, files_failed=tuple(sorted(failed)))
    now = store.now()
    with store.transaction() as db:
        if not meta.take(db, receipt.pending_key):
            return receipt
        message_id = outbox.enqueue(db, identity, now, "deletion.receipt", done.body())
        if failed:
            meta.add(db, RETRY + uuid.uuid4().hex, dumps(sorted(failed)))
            audit.append(db, now, audit.SYSTEM, "candidate.erasure_files_left",
                         subject=receipt.candidate_id,
                         details={"request_id": receipt.request_id, "files": len(failed)})
    for path, problem in failed.items():
        log.warning("erasure %s: cannot delete %s (%s); will retry", receipt.request_id, path,
                    problem)
    return replace(done, message_id=message_id)


def finish_pending(store: Store, identity: Identity) -> list[Receipt]:
    """Finish erasures a crash interrupted, and retry recordings that could not be deleted."""
    with store.read() as db:
        found = meta.with_prefix(db, "erasure")
    finished: list[Receipt] = []
    for entry in found:
        if entry.key.startswith(PENDING):
            receipt = Receipt.from_json(entry.value, entry.key)
            finished.append(finish_erasure(store, identity, receipt))
        elif entry.key.startswith(RETRY):
            _retry(store, entry.key, json.loads(entry.value))
    return finished


def _retry(store: Store, key: str, paths: list[str]) -> None:
    _, failed = delete_files(paths)
    with store.transaction() as db:
        if failed:
            meta.replace(db, key, dumps(sorted(failed)))
        else:
            meta.delete(db, key)
            audit.append(db, store.now(), audit.SYSTEM, "candidate.erasure_files_deleted",
                         details={"files": len(paths)})


def erase(store: Store, identity: Identity, candidate_id: str, request_id: str, reason: str
          ) -> Receipt:
    """Erase and report in one call (for staff tools): both steps, outside any transaction."""
    with store.transaction() as db:
        receipt = erase_candidate(db, store.now(), candidate_id, request_id, reason)
    return finish_erasure(store, identity, receipt)
