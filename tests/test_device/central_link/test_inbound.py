"""Signed documents from central: applied whole, rejected whole (and reported), never half."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from document_helpers import (
    assert_rejected,
    deliver,
    encode,
    messages,
    package,
    rejections,
    roster_body,
    signed,
    snapshot,
)

from conftest import JOB, make_config
from device import audit
from device.central_link.settings import ALLOWED, effective_config, validate
from device.composition import Kiosk
from device.jobs.installed import active_package
from device.sessions import roster
from shared.signing import generate_key

OTHER = generate_key()


# -- job packages -------------------------------------------------------------------------

def test_a_signed_package_is_applied_and_active(kiosk: Kiosk) -> None:
    doc = signed("job_package", JOB, 2, package(2))
    outcome = deliver(kiosk, encode(doc), via="https")
    assert (outcome.status, outcome.document_id, outcome.version) == ("applied", doc.document_id,
                                                                      2)
    assert active_package(kiosk.store, JOB).package_version == 2
    inbox = kiosk.store.one("SELECT * FROM inbox WHERE message_id = ?", (doc.document_id,))
    assert inbox is not None
    assert (inbox["status"], inbox["doc_kind"], inbox["scope"], inbox["version"],
            inbox["via"]) == ("applied", "job_package", JOB, 2, "https")
    assert inbox["applied"] is not None and inbox["error"] is None
    version = kiosk.store.one("SELECT version, document_id FROM document_versions WHERE"
                              " kind = 'job_package' AND scope = ?", (JOB,))
    assert version == {"version": 2, "document_id": doc.document_id}
    imported = kiosk.store.one("SELECT actor_role, subject FROM audit WHERE action ="
                               " 'job.imported' ORDER BY seq DESC LIMIT 1")
    assert imported == {"actor_role": "central", "subject": JOB}


def test_the_same_package_again_is_unchanged(kiosk: Kiosk) -> None:
    doc = signed("job_package", JOB, 2, package(2))
    assert deliver(kiosk, encode(doc)).status == "applied"
    before = snapshot(kiosk)
    again = deliver(kiosk, encode(doc))
    assert again.status == "unchanged" and "already applied" in again.reason
    assert snapshot(kiosk) == before
    # the same version and content under another document id: nothing to do either
    twin = signed("job_package", JOB, 2, package(2), document_id="republished")
    assert deliver(kiosk, encode(twin)).status == "unchanged"
    assert active_package(kiosk.store, JOB).package_version == 2
    assert messages(kiosk, "package.rejected") == []


def test_an_older_version_is_rejected_as_a_replay_and_the_last_good_stays(
    kiosk: Kiosk,
) -> None:
    assert deliver(kiosk, encode(signed("job_package", JOB, 3, package(3)))).status == "applied"
    old = signed("job_package", JOB, 2, package(2))
    outcome = deliver(kiosk, encode(old))
    assert_rejected(kiosk, outcome, "replay of an old version")
    assert "version 2 is older than the active version 3" in outcome.reason
    assert outcome.document_id == old.document_id
    told = messages(kiosk, "package.rejected")[-1]["body"]
    assert told == {"document_id": old.document_id, "kind": "job_package", "scope": JOB,
                    "version": 2, "reason": outcome.reason}
    assert active_package(kiosk.store, JOB).package_version == 3


def test_the_same_version_with_other_content_is_rejected(kiosk: Kiosk) -> None:
    assert deliver(kiosk, encode(signed("job_package", JOB, 2, package(2)))).status == "applied"
    changed = package(2)
    changed["items"][0]["answer_time_s"] = 150
    outcome = deliver(kiosk, encode(signed("job_package", JOB, 2, changed, document_id="x2")))
    assert_rejected(kiosk, outcome, "already active with different content")
    assert active_package(kiosk.store, JOB).model_dump()["items"][0]["answer_time_s"] != 150


def test_a_package_conflicting_with_a_locally_imported_one_is_rejected(kiosk: Kiosk) -> None:
    body = package(1)
    body["items"][0]["answer_time_s"] = 150
    outcome = deliver(kiosk, encode(signed("job_package", JOB, 1, body)))
    assert_rejected(kiosk, outcome, "version 1 is already active with different content")
    assert active_package(kiosk.store, JOB).model_dump()["items"][0]["answer_time_s"] != 150


def _edited(change: Callable[[dict[str, Any]], object]) -> bytes:
    fields = signed("job_package", JOB, 2, package(2)).model_dump(mode="json")
    change(fields)
    return encode(fields)


_GOOD = encode(signed("job_package", JOB, 2, package(2)))
_FORGED = encode(signed("job_package", JOB, 2, package(2), key=OTHER))


@pytest.mark.parametrize(("data", "reason"), [
    (_FORGED, "not by central's pinned key"),
    (_edited(lambda f: f["body"]["items"][0].update(answer_time_s=999)),
     "does not match its content"),
    (_GOOD[: len(_GOOD) // 2], "not valid JSON (truncated or corrupt)"),
    (b"\xff\xfe" + _GOOD, "not UTF-8"),
    (_edited(lambda f: f.pop("signature")), "not a signed document: signature: Field required"),
    (_edited(lambda f: f.update(kind="firmware")), "not a signed document: kind"),
    (b"[1, 2, 3]", "expected a JSON object, got list"),
    (_GOOD.replace(b'"scope":', b'"scope": "other", "scope":', 1), "duplicate key 'scope'"),
], ids=["forged", "tampered", "truncated", "not-utf8", "unsigned", "unknown-kind", "list",
        "duplicate-key"])
def test_untrustworthy_documents_are_rejected_keyed_by_their_digest(
    kiosk: Kiosk, data: bytes, reason: str
) -> None:
    before = snapshot(kiosk)["job_packages"]
    outcome = deliver(kiosk, data)
    assert_rejected(kiosk, outcome, reason)
    assert outcome.document_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert snapshot(kiosk)["job_packages"] == before
    assert active_package(kiosk.store, JOB).package_version == 1
    assert audit.verify(kiosk.store.db).ok


def test_an_oversized_document_is_rejected_unread(kiosk: Kiosk) -> None:
    data = encode(signed("job_package", JOB, 2, package(2)))
    outcome = deliver(kiosk, data, max_bytes=1024)
    assert_rejected(kiosk, outcome, f"document is {len(data)} bytes, over the limit of 1024")
    stored = kiosk.store.one("SELECT payload FROM inbox WHERE message_id = ?",
                             (outcome.document_id,))
    assert stored == {"payload": ""}
    assert active_package(kiosk.store, JOB).package_version == 1


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("tenant", "acme", "meant for tenant 'acme'; this box belongs to tenant 'demo-tenant'"),
    ("site", "hall-9", "meant for site 'hall-9'; this box is at site 'demo-site'"),
    ("device_id", "kiosk-7", "meant for device 'kiosk-7'; this box is 'kiosk-dev'"),
])
def test_documents_for_another_box_are_rejected(kiosk: Kiosk, field: str, value: str,
                                                reason: str) -> None:
    target: dict[str, Any] = {field: value}
    doc = signed("job_package", JOB, 2, package(2), **target)
    outcome = deliver(kiosk, encode(doc))
    assert_rejected(kiosk, outcome, reason)
    assert active_package(kiosk.store, JOB).package_version == 1


def test_documents_for_every_box_of_the_site_are_accepted(kiosk: Kiosk) -> None:
    doc = signed("job_package", JOB, 2, package(2), device_id=None)
    assert deliver(kiosk, encode(doc)).status == "applied"
    doc = signed("job_package", JOB, 3, package(3), device_id=None, site=None)
    assert deliver(kiosk, encode(doc)).status == "applied"


@pytest.mark.parametrize(("body", "scope", "reason"), [
    ({k: v for k, v in package(2).items() if k != "consent"}, JOB,
     "job package body: central:job_package-assembly-line-operator-2: consent"),
    (package(3), JOB, "package_version 3, the document says version 2"),
    (package(2), "forklift-driver", "for job 'assembly-line-operator' sent under scope"
                                    " 'forklift-driver'"),
    (package(2, surprise=True), JOB, "surprise: unknown field"),
])
def test_an_invalid_package_body_is_rejected_whole(kiosk: Kiosk, body: dict[str, Any],
                                                   scope: str, reason: str) -> None:
    before = snapshot(kiosk)["job_packages"]
    outcome = deliver(kiosk, encode(signed("job_package", scope, 2, body)))
    assert_rejected(kiosk, outcome, reason)
    assert snapshot(kiosk)["job_packages"] == before
    assert kiosk.store.one("SELECT count(*) AS n FROM document_versions") == {"n": 0}


def test_a_rejection_received_again_is_reported_once(kiosk: Kiosk) -> None:
    data = _FORGED
    first = deliver(kiosk, data)
    again = deliver(kiosk, data)
    assert first.status == again.status == "rejected" and first.reason == again.reason
    assert len(rejections(kiosk)) == 1 and len(messages(kiosk, "package.rejected")) == 1


def test_a_forgery_reusing_an_applied_id_does_not_touch_the_applied_record(
    kiosk: Kiosk,
) -> None:
    good = signed("job_package", JOB, 2, package(2))
    assert deliver(kiosk, encode(good)).status == "applied"
    forged = signed("job_package", JOB, 3, package(3), key=OTHER,
                    document_id=good.document_id)
    outcome = deliver(kiosk, encode(forged))
    assert outcome.status == "rejected" and outcome.document_id.startswith("sha256:")
    kept = kiosk.store.one("SELECT status FROM inbox WHERE message_id = ?", (good.document_id,))
    assert kept == {"status": "applied"}
    assert active_package(kiosk.store, JOB).package_version == 2


def test_a_failure_in_the_middle_leaves_nothing(kiosk: Kiosk,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = audit.append

    def failing(*args: Any, **kwargs: Any) -> int:
        if args[3] == "job.imported":  # after the package rows are written
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(audit, "append", failing)
    before = snapshot(kiosk)
    with pytest.raises(RuntimeError, match="power cut"):
        deliver(kiosk, encode(signed("job_package", JOB, 2, package(2))))
    assert snapshot(kiosk) == before
    monkeypatch.setattr(audit, "append", real)
    assert deliver(kiosk, encode(signed("job_package", JOB, 2, package(2)))).status == "applied"


# -- rosters ------------------------------------------------------------------------------


def test_a_roster_is_applied_once_per_document_id(kiosk: Kiosk) -> None:
    doc = signed("roster", "week-2", 1, roster_body({"candidate_id": "c-1",
                                                     "display_name": "Ada Park"},
                                                    {"candidate_id": "c-2"}))
    outcome = deliver(kiosk, encode(doc))
    assert outcome.status == "applied" and outcome.reason == "2 invited, 0 already invited"
    sessions = kiosk.store.all("SELECT candidate_id FROM sessions ORDER BY candidate_id")
    assert [s["candidate_id"] for s in sessions] == ["c-1", "c-2"]
    assert kiosk.engine.check_in("CODE0000X").state == "checked_in"
    before = snapshot(kiosk)
    assert deliver(kiosk, encode(doc)).status == "unchanged"
    assert snapshot(kiosk) == before
    stored = kiosk.store.one("SELECT payload FROM inbox WHERE message_id = ?",
                             (doc.document_id,))
    assert stored is not None and "CODE0000X" not in stored["payload"]
    # another roster document, even with a lower version, is applied
    # (its own code: c-1's stays reserved while c-1's session is unfinished)
    later = signed("roster", "week-2", 1, roster_body({"candidate_id": "c-3",
                                                       "invite_code": "CODE0000Y"}),
                   document_id="roster-late")
    assert deliver(kiosk, encode(later)).status == "applied"
    assert kiosk.store.one("SELECT count(*) AS n FROM sessions") == {"n": 3}


@pytest.mark.parametrize(("body", "reason"), [
    ({"format": "kiosk-roster/1", "invites": []}, "roster body: central:r-1: invites"),
    ({"format": "kiosk-roster/1", "invites": [{"candidate_id": "c-1", "job_id": JOB}]},
     "has no invite_code"),
    (roster_body({"candidate_id": "c-1", "job_id": "welder"}), "job welder is not on this box"),
    (roster_body({"candidate_id": "c-1"}, {"candidate_id": "c-2", "invite_code": "CODE0000X"}),
     "invite code already in use"),
])
def test_a_bad_roster_is_rejected_whole(kiosk: Kiosk, body: dict[str, Any], reason: str
                                        ) -> None:
    outcome = deliver(kiosk, encode(signed("roster", "r", 1, body, document_id="r-1")))
    assert_rejected(kiosk, outcome, reason)
    assert outcome.document_id == "r-1"
    assert kiosk.store.one("SELECT count(*) AS n FROM sessions") == {"n": 0}


def test_a_rejected_roster_is_applied_when_delivered_again_after_its_job(
    kiosk: Kiosk,
) -> None:
    other = package(1, job={**package(1)["job"], "id": "welder"})
    doc = signed("roster", "r", 1, roster_body({"candidate_id": "c-1", "job_id": "welder"}))
    assert deliver(kiosk, encode(doc)).status == "rejected"
    assert deliver(kiosk, encode(signed("job_package", "welder", 1, other))).status == "applied"
    assert deliver(kiosk, encode(doc)).status == "applied"
    inbox = kiosk.store.one("SELECT status, error FROM inbox WHERE message_id = ?",
                            (doc.document_id,))
    assert inbox == {"status": "applied", "error": None}


def test_a_roster_needs_the_session_engine(kiosk: Kiosk) -> None:
    doc = signed("roster", "r", 1, roster_body({"candidate_id": "c-1"}))
    before = snapshot(kiosk)
    with pytest.raises(ValueError, match="needs engine"):
        deliver(kiosk, encode(doc), with_engine=False)
    assert snapshot(kiosk) == before


def test_a_roster_failing_halfway_leaves_nothing(kiosk: Kiosk,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = roster.create_session
    calls = []

    def second_fails(*args: Any, **kwargs: Any) -> tuple[str, str]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk error")
        return real(*args, **kwargs)

    monkeypatch.setattr(roster, "create_session", second_fails)
    before = snapshot(kiosk)
    doc = signed("roster", "r", 1, roster_body({"candidate_id": "c-1"}, {"candidate_id": "c-2"}))
    with pytest.raises(RuntimeError, match="disk error"):
        deliver(kiosk, encode(doc))
    assert len(calls) == 2 and snapshot(kiosk) == before


# -- config -------------------------------------------------------------------------------

def config_doc(version: int, settings: dict[str, Any]) -> bytes:
    return encode(signed("config", "device", version, {"settings": settings}))


def test_config_is_applied_and_in_force(kiosk: Kiosk) -> None:
    settings = {"sync": {"metered": True, "bandwidth_kbps": 256},
                "storage": {"media_retention_days": 3}}
    outcome = deliver(kiosk, config_doc(1, settings))
    assert outcome.status == "applied" and outcome.reason == "3 central settings in force"
    config = effective_config(kiosk.config, kiosk.store, environ={})
    assert config.sync.metered is True and config.sync.bandwidth_kbps == 256
    assert config.storage.media_retention_days == 3.0
    assert config.device.id == kiosk.config.device.id  # the rest stays the box's own
    # a newer version states the whole set: a key it leaves out falls back
    assert deliver(kiosk, config_doc(2, {"sync": {"metered": True}})).status == "applied"
    config = effective_config(kiosk.config, kiosk.store, environ={})
    assert config.sync.metered is True and config.sync.bandwidth_kbps == 0
    assert config.storage.media_retention_days == kiosk.config.storage.media_retention_days
    # the superseded document delivered again changes nothing; an older version is a replay
    assert deliver(kiosk, config_doc(1, settings)).status == "unchanged"
    replay = signed("config", "device", 1, {"settings": settings}, document_id="c-old")
    assert_rejected(kiosk, deliver(kiosk, encode(replay)), "replay of an old version")
    assert effective_config(kiosk.config, kiosk.store, environ={}).sync.bandwidth_kbps == 0


def test_precedence_defaults_file_central_environment(kiosk: Kiosk, tmp_path: Any) -> None:
    toml = tmp_path / "kiosk.toml"
    toml.write_text("[sync]\npoll_interval_s = 60\nbandwidth_kbps = 100\n")
    env = {"KIOSK_SYNC_BANDWIDTH_KBPS": "50"}
    from device.config_loader import load_config

    config = load_config(toml, {"KIOSK_DATA_DIR": str(kiosk.config.data_dir), **env})
    deliver(kiosk, config_doc(1, {"sync": {"poll_interval_s": 30, "bandwidth_kbps": 999},
                                  "session": {"resume_window_h": 48}}))
    merged = effective_config(config, kiosk.store, environ=env)
    assert merged.sync.poll_interval_s == 30  # central over the file
    assert merged.sync.bandwidth_kbps == 50  # the technician's environment over central
    assert merged.session.resume_window_h == 48  # central over the default
    assert merged.session.undo_window_min == 10  # the default


@pytest.mark.parametrize(("settings", "reason"), [
    ({"sync": {"metered": True, "mqtt_host": "evil.example"}},
     "[sync] mqtt_host is not a setting central may change"),
    ({"device": {"id": "x"}}, "[device] is not a section central may change"),
    ({"sync": {"metered": "yes"}}, "[sync] metered: input should be a valid boolean"),
    ({"storage": {"quota_mb": 1}}, "[storage] quota_mb: input should be greater than or equal"),
    ({"sync": {"bandwidth_kbps": True}}, "[sync] bandwidth_kbps: input should be a valid integer"),
    ({"site": {"time_zone": "Asia/Shanghia"}},
     "[site] time_zone: value error, not an IANA time zone name the box knows, such as"
     " Asia/Shanghai or UTC, got 'Asia/Shanghia'"),
])
def test_a_bad_config_is_rejected_whole(kiosk: Kiosk, settings: dict[str, Any], reason: str
                                        ) -> None:
    outcome = deliver(kiosk, config_doc(1, settings))
    assert_rejected(kiosk, outcome, reason)
    assert kiosk.store.one("SELECT count(*) AS n FROM central_settings") == {"n": 0}
    assert effective_config(kiosk.config, kiosk.store, environ={}) == kiosk.config


def test_central_sets_the_site_time_zone(kiosk: Kiosk) -> None:
    assert kiosk.config.site.time_zone == "UTC"
    outcome = deliver(kiosk, config_doc(1, {"site": {"time_zone": "Asia/Shanghai"}}))
    assert outcome.status == "applied"
    assert effective_config(kiosk.config, kiosk.store, environ={}).site.time_zone == \
        "Asia/Shanghai"
    pinned = effective_config(kiosk.config, kiosk.store, environ={"KIOSK_SITE_TIME_ZONE": "UTC"})
    assert pinned.site.time_zone == kiosk.config.site.time_zone  # the technician's pin wins


def test_a_config_body_outside_its_schema_is_rejected(kiosk: Kiosk) -> None:
    doc = signed("config", "device", 1, {"settings": {}, "also": 1})
    assert_rejected(kiosk, deliver(kiosk, encode(doc)), "config body: also: Extra inputs")


def test_every_allowed_setting_exists_in_the_configuration(tmp_path: Any) -> None:
    config = make_config(tmp_path)
    for section, keys in ALLOWED.items():
        for key in keys:
            value = getattr(getattr(config, section), key)
            assert validate({section: {key: value}}) == {section: {key: value}}
