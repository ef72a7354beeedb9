"""The candidate's receipt: what was recorded, what is shared with central, for how long,
and how to ask for deletion. Shown on the last screen, also after a pause or a decline."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from device.jobs.installed import session_package
from device.jobs.models import DemonstrationTask, SpokenQuestion
from device.sessions import answer_rows
from device.sessions.session_rows import SessionRow
from device.storage import media
from device.storage.database import Store

#: Minutes the candidate's token still shows the receipt after the session ended.
RECEIPT_WINDOW_MIN = 15


def receipt(store: Store, db: Database, session: SessionRow) -> dict[str, Any]:
    package = session_package(db, session)
    recorded = media.kinds_by_answer(db, session.id)
    items = {i.id: i for i in package.items}
    listed = []
    for a in answer_rows.finished(db, session.id):
        item = items.get(a.item_id)
        title: dict[Any, str] | None = None
        if isinstance(item, DemonstrationTask):
            title = dict(item.title)
        elif isinstance(item, SpokenQuestion):
            title = dict(item.prompt)
        listed.append({"position": a.position, "kind": a.kind, "title": title,
                       "recorded": recorded.get(a.id, []),
                       "duration_s": round(a.duration_s or 0.0, 1)})
    consent = package.consent
    return {
        "session_id": session.id,
        "state": session.state,
        "job": {"id": package.job.id, "title": package.job.title},
        "items": listed,
        "shared_with_central": dict(consent.shared_with_central),
        "expression_analysis": bool(session.expression_consent),
        "retention_days": consent.retention_days,
        "deletion_contact": dict(consent.deletion_contact),
    }
