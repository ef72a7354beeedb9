"""A session's places (``session_seq``) follow the order the box wrote its messages, also
when a recording's ``media`` message waits for its upload while the session's later
messages (its ``usage``) could already go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from media_fixtures import BOX, media_box, record_session
from sync_fixtures import Pki
from sync_harness import Central, box_rows, running_agent, wait_until

from device.central_link import outbox
from device.storage.database import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def central(tmp_path: Path, pki: Pki) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, None)
    yield c
    c.close()


def test_usage_written_after_a_media_message_comes_after_it_in_its_session(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = media_box(tmp_path, pki, central, central.url, chunk_bytes=256 * 1024)
    state, rec = record_session(config, 2 * 1024 * 1024)
    store = Store(config.db_path)
    try:
        with store.transaction() as db:
            usage = outbox.enqueue(db, BOX, store.now(), "usage", {"answers": 1},
                                   session_id="S1")
    finally:
        store.close()
    written = [state, rec.message_id, usage]
    with running_agent(config) as service:
        wait_until(service.agent.drained, 30, "the session's messages and its recording")
    rows = [r for r in box_rows(config.db_path) if r["session_id"] == "S1"]
    assert [r["message_id"] for r in rows] == written, "outbox order is write order"
    assert [r["session_seq"] for r in rows] == [1, 2, 3]
    got = {m["message_id"]: m["session_seq"] for m in central.messages("dev-1")}
    assert [got[m] for m in written] == [1, 2, 3], "central has the same places"
