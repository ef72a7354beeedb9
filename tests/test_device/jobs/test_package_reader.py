"""One reader of installed job packages: a session reads the version it started with, and the
engine, the interview, the analysis, the receipt and the candidate API agree on it after a
newer version is imported."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import JOB, InviteFn
from device.audit import SYSTEM
from device.composition import Kiosk
from device.errors import PackageRejectedError
from device.jobs import installed
from device.jobs.installed import active_package, find_job, import_package, session_package
from device.jobs.package import example_package_path


def _version_2() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(example_package_path().read_text())
    doc["package_version"] = 2
    doc["consent"]["version"] = "2026-07"
    doc["items"][0]["answer_time_s"] = 150
    for language, words in doc["items"][0]["evidence"][0]["keywords"].items():
        doc["items"][0]["evidence"][0]["keywords"][language] = [f"v2-{w}" for w in words]
    return doc


def test_a_session_keeps_reading_its_version_after_a_newer_one_is_imported(
    kiosk: Kiosk, invite: InviteFn, http: httpx.Client, consent_version: str,
) -> None:
    code = invite().invite_code
    assert code
    v1 = active_package(kiosk.store, JOB)
    outcome = import_package(kiosk.store, json.dumps(_version_2()).encode(), "v2", SYSTEM)
    assert outcome.status == "imported" and active_package(kiosk.store, JOB).package_version == 2

    opened = http.post("/api/v1/checkin", json={"code": code}).json()
    h = {"X-Session-Token": opened["token"]}
    shown = http.get("/api/v1/session", headers=h).json()
    assert shown["consent"] == v1.consent.model_dump(mode="json")
    # the engine checks consent against the version the session shows
    r = http.post("/api/v1/session/consent", headers=h,
                  json={"accept": True, "consent_version": consent_version})
    assert r.json() == {"state": "consented"}
    item = http.post("/api/v1/session/present", headers=h).json()
    assert item["item"]["answer_time_s"] == 120
    assert item["total"] == len(v1.items)

    session = kiosk.engine.session(opened["session_id"])
    with kiosk.store.read() as db:
        assert session_package(db, session) == v1
        assert kiosk.interview.items(db, session)[0]["answer_time_s"] == 120
    hints = kiosk.analysis.hints(item["answer_id"])
    assert hints and not any(h.startswith("v2-") for h in hints)


def test_the_active_job_and_its_languages_come_from_the_active_version(kiosk: Kiosk) -> None:
    doc = _version_2()
    import_package(kiosk.store, json.dumps(doc).encode(), "v2", SYSTEM)
    with kiosk.store.read() as db:
        job = find_job(db, JOB)
        assert find_job(db, "no-such-job") is None
    assert job is not None and job.active_version == 2
    assert job.languages == doc["job"]["languages"]


def test_a_stored_version_is_parsed_once(kiosk: Kiosk, invite: InviteFn) -> None:
    session_id = invite().session_id
    assert session_id
    session = kiosk.engine.session(session_id)
    with kiosk.store.read() as db:
        first = session_package(db, session)
        assert session_package(db, session) is first
        assert installed.package(db, JOB, 1) is first


def test_central_and_the_console_share_one_version_check(kiosk: Kiosk) -> None:
    from document_helpers import deliver, encode, package, signed

    import_package(kiosk.store, json.dumps(package(3)).encode(), "console", SYSTEM)
    old = deliver(kiosk, encode(signed("job_package", JOB, 2, package(2))))
    assert (old.status, old.reason) == ("rejected", "replay of an old version: job_package"
                                        f" {JOB} version 2 is older than the active version 3")
    same = deliver(kiosk, encode(signed("job_package", JOB, 3, package(3))))
    assert (same.status, same.reason) == ("unchanged", f"job_package {JOB} version 3 is"
                                          " already active")
    newer = deliver(kiosk, encode(signed("job_package", JOB, 4, package(4))))
    assert newer.status == "applied" and active_package(kiosk.store, JOB).package_version == 4
    with pytest.raises(PackageRejectedError, match="version 3 is older than the active version 4"):
        import_package(kiosk.store, json.dumps(package(3)).encode(), "console", SYSTEM)
