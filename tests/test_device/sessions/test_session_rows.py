"""The owners of the session tables: what they refuse, and rows read back as written."""

from __future__ import annotations

import pytest

from conftest import InviteFn
from device.composition import Kiosk
from device.sessions import answer_rows, candidate_rows, session_rows, usage


def test_a_session_update_names_only_its_own_columns(kiosk: Kiosk, invite: InviteFn) -> None:
    sid = invite().session_id
    assert sid
    with pytest.raises(ValueError, match="no_such_column"), kiosk.store.transaction() as db:
        session_rows.update(db, sid, {"state_reason": "x", "no_such_column": 1})
    with pytest.raises(ValueError, match="'id'"), kiosk.store.transaction() as db:
        session_rows.update(db, sid, {"id": "another"})
    with pytest.raises(ValueError, match="hash column"), kiosk.store.read() as db:
        session_rows.by_hash(db, "state", "invited")  # type: ignore[arg-type]
    assert kiosk.engine.session(sid).state_reason is None


def test_an_invitation_reads_back_as_typed_rows(kiosk: Kiosk, invite: InviteFn) -> None:
    invited = invite(display_name="Ada", extra_time_pct=25, important=True)
    sid = invited.session_id
    assert sid
    with kiosk.store.read() as db:
        session = session_rows.get(db, sid)
        candidate = candidate_rows.get(db, invited.candidate_id)
        used = usage.get(db, sid)
        named = session_rows.named(db, sid)
        listed = session_rows.listing(db, jobs=[])
        answers = answer_rows.of_session(db, sid)
    assert session is not None and session.state == "invited"
    assert session.important is True and session.drill is False
    assert session.extra_time_pct == 25 and session.started is None
    assert session.created == session.state_since
    assert candidate is not None and candidate.display_name == "Ada" and candidate.erased is None
    assert named is not None and named.display_name == "Ada"
    assert listed == [], "a staff member scoped to no job sees no session"
    assert answers == []
    assert used is not None
    body = used.message_body()
    assert "updated" not in body and body["drill"] is False and body["answers"] == 0
