"""Job packages and rosters: applied whole or rejected whole, the last good version kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import ADMIN, JOB
from device.audit import SYSTEM
from device.composition import Kiosk
from device.errors import PackageRejectedError
from device.jobs.installed import active_package, import_package
from device.jobs.package import example_package_path
from device.sessions.roster import Roster, import_roster, parse_roster


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_package_path().read_text())
    return data


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def counts(kiosk: Kiosk) -> tuple[int, ...]:
    return tuple(
        kiosk.store.one(f"SELECT count(*) AS n FROM {t}")["n"]  # type: ignore[index]
        for t in ("job_packages", "question_sets", "jobs")
    )


def test_reimporting_the_same_package_changes_nothing(kiosk: Kiosk) -> None:
    before = counts(kiosk)
    outcome = import_package(kiosk.store, example_package_path().read_bytes(), "again", SYSTEM)
    assert outcome.status == "unchanged" and counts(kiosk) == before


def test_a_newer_version_becomes_active(kiosk: Kiosk) -> None:
    doc = example()
    doc["package_version"] = 2
    doc["items"][0]["answer_time_s"] = 150
    assert import_package(kiosk.store, encode(doc), "v2", SYSTEM).status == "imported"
    assert active_package(kiosk.store, JOB).package_version == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(package_version=0), "package_version"),
        (lambda d: d["items"][0]["prompt"].pop("ko"), "missing language 'ko'"),
        (lambda d: d.pop("consent"), "consent"),
        (lambda d: d.update(surprise=True), "surprise"),
        (lambda d: d["items"][2]["checklist"][0].update(competency="juggling"), "juggling"),
    ],
)
def test_bad_packages_are_rejected_whole_and_audited(
    kiosk: Kiosk, change: Any, message: str
) -> None:
    doc = example()
    doc["package_version"] = 5
    change(doc)
    before = counts(kiosk)
    with pytest.raises(PackageRejectedError, match=message):
        import_package(kiosk.store, encode(doc), "bad.json", SYSTEM)
    assert counts(kiosk) == before
    assert active_package(kiosk.store, JOB).package_version == 1
    rejected = kiosk.store.one("SELECT reason FROM audit WHERE action = 'job.package_rejected'"
                               " ORDER BY seq DESC LIMIT 1")
    assert rejected is not None and message in rejected["reason"]


def test_truncated_and_non_json_packages_are_rejected(kiosk: Kiosk) -> None:
    data = example_package_path().read_bytes()
    for bad in (data[: len(data) // 2], b"\x00\x01binary", b""):
        with pytest.raises(PackageRejectedError):
            import_package(kiosk.store, bad, "broken.json", SYSTEM)
    assert active_package(kiosk.store, JOB).package_version == 1


def test_older_or_conflicting_versions_are_refused(kiosk: Kiosk) -> None:
    doc = example()
    doc["package_version"] = 3
    import_package(kiosk.store, encode(doc), "v3", SYSTEM)
    doc["package_version"] = 2
    with pytest.raises(PackageRejectedError, match="older than the active version 3"):
        import_package(kiosk.store, encode(doc), "v2", SYSTEM)
    doc["package_version"] = 3
    doc["items"][0]["think_time_s"] = 10
    with pytest.raises(PackageRejectedError, match="already active with different content"):
        import_package(kiosk.store, encode(doc), "v3b", SYSTEM)
    assert active_package(kiosk.store, JOB).items[0].think_time_s == 30  # type: ignore[union-attr]


def test_sessions_keep_the_version_they_started_with(kiosk: Kiosk) -> None:
    roster = Roster.model_validate({"format": "kiosk-roster/1",
                                    "invites": [{"candidate_id": "c1", "job_id": JOB}]})
    invited = import_roster(kiosk.engine, roster, "r", SYSTEM)[0]
    doc = example()
    doc["package_version"] = 2
    import_package(kiosk.store, encode(doc), "v2", SYSTEM)
    assert invited.session_id
    assert kiosk.engine.session(invited.session_id).job_version == 1


def test_roster_with_unknown_job_is_rejected_whole(kiosk: Kiosk) -> None:
    roster = Roster.model_validate({"format": "kiosk-roster/1", "invites": [
        {"candidate_id": "ok-1", "job_id": JOB},
        {"candidate_id": "bad-1", "job_id": "forklift-driver"},
    ]})
    with pytest.raises(PackageRejectedError, match="forklift-driver"):
        import_roster(kiosk.engine, roster, "r", ADMIN.actor)
    assert kiosk.store.one("SELECT count(*) AS n FROM sessions") == {"n": 0}


def test_roster_reimport_does_not_duplicate_open_sessions(kiosk: Kiosk) -> None:
    roster = Roster.model_validate({"format": "kiosk-roster/1",
                                    "invites": [{"candidate_id": "c1", "job_id": JOB}]})
    first = import_roster(kiosk.engine, roster, "r", SYSTEM)
    second = import_roster(kiosk.engine, roster, "r", SYSTEM)
    assert first[0].status == "invited" and second[0].status == "already_invited"
    assert second[0].session_id == first[0].session_id and second[0].invite_code is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"format": "kiosk-roster/1", "invites": []}', "invites"),
        (b'{"format": "kiosk-roster/2", "invites": [{"candidate_id": "a", "job_id": "j"}]}',
         "format"),
        (b'{"format": "kiosk-roster/1", "invites": [{"candidate_id": "a", "job_id": "j",'
         b' "extra_time_pct": 900}]}', "extra_time_pct"),
        (b"not json", "(document)|Invalid JSON"),
    ],
)
def test_malformed_rosters_are_named(data: bytes, message: str) -> None:
    with pytest.raises(PackageRejectedError, match=message):
        parse_roster(data, "roster.json")
