"""What staff see of delivery to central: link state, queue, last success and failure, and
the technician's controls (``kiosk sync status``, the TUI, ``GET /api/v1/staff/sync``)."""

from __future__ import annotations

from typing import Any

from device.central_link import link_state, outbox, sync_control
from device.clock import elapsed_s
from device.config import KioskConfig
from device.storage.database import Store


def status(store: Store, config: KioskConfig) -> dict[str, Any]:
    """Link state, queue, last success and failure, and the technician's controls: what
    ``kiosk sync status``, the TUI and ``GET /api/v1/staff/sync`` show. Times are ISO 8601
    UTC; ``config`` is the box's own configuration (central's settings are looked up)."""

    links = [link.to_dict() for link in link_state.read(store)]
    now = store.now()
    with store.read() as db:
        depth = outbox.depth(db)
        first = outbox.oldest_unsent(db)
        acked = outbox.last_acked_utc(db)
    oldest: dict[str, Any] | None = None
    if first is not None:
        age = elapsed_s(first.created, now) if first.created else None
        oldest = {"message_id": first.message_id, "kind": first.kind,
                  "session_id": first.session_id,
                  "created": first.created.utc if first.created else None,
                  "attempts": first.attempts, "last_error": first.last_error,
                  "age_s": None if age is None else round(age, 1)}
    successes = [at for at in [acked, *(link["last_ack"] for link in links)] if at]
    errors = [link for link in links if link["last_error_at"]]
    last_error = max(errors, key=lambda link: link["last_error_at"], default=None)
    return {
        "links": links, "outbox_depth": depth, "waiting": sum(depth.values()),
        "oldest_unsent": oldest,
        "last_success": max(successes, default=None),
        "last_error": None if last_error is None else {
            "at": last_error["last_error_at"], "message": last_error["last_error"]},
        "control": sync_control.describe(store, config),
    }
