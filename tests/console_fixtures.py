"""Central's console over a seeded central: two published jobs, a roster with names,
sessions from two boxes (one drill), a held-back message, and a user of every role.

``console_client(store, username)`` is a TestClient signed in through the login form.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from report_helpers import report

from central.console import create_app, users
from central.console.auth import LoginLimiter
from central.documents import DocumentRequest, store_document
from central.messages import ingest
from central.store import ReceiverStore
from shared.contract import Envelope
from shared.signing import generate_key

ROOT = Path(__file__).resolve().parents[1]
JOB, OTHER_JOB = "assembly-line-operator", "forklift-driver"
TENANT = "acme"
PASSWORD = "correct horse battery"
#: (username, role, jobs)
PEOPLE: tuple[tuple[str, users.Role, tuple[str, ...]], ...] = (
    ("hr", "hr_specialist", (JOB,)),
    ("hm", "hiring_manager", (JOB,)),
    ("gm", "general_manager", ()),
    ("admin", "admin", ()),
)
#: What a general manager must never receive: every name and candidate reference.
PERSONAL = ("王芳", "Zhang Wei", "Ola Nordmann", "Li Wei", "c-0042", "c-0043", "c-0077",
            "c-0099")


def package(job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (ROOT / "device" / "examples" / "assembly-line-operator.json").read_text())
    body = copy.deepcopy(body)
    body["job"]["id"] = job_id
    if job_id == OTHER_JOB:
        body["job"]["title"] = {"zh-CN": "叉车司机", "en": "Forklift Driver"}
    return body


def roster() -> dict[str, Any]:
    return {"format": "kiosk-roster/1", "invites": [
        {"candidate_id": "c-0042", "job_id": JOB, "display_name": "王芳"},
        {"candidate_id": "c-0043", "job_id": JOB, "display_name": "Zhang Wei"},
        {"candidate_id": "c-0077", "job_id": OTHER_JOB, "display_name": "Ola Nordmann"},
        {"candidate_id": "c-0099", "job_id": JOB, "display_name": "Drill Person"}]}


class Box:
    """Messages of one box, numbered as the box would."""

    def __init__(self, device_id: str, site: str) -> None:
        self.device_id, self.site, self.seq = device_id, site, 0
        self.session_seq: dict[str, int] = {}

    def send(self, store: ReceiverStore, kind: str, session: str, body: dict[str, Any],
             *, drill: bool = False, skip: bool = False) -> None:
        self.seq += 1
        n = self.session_seq.get(session, 0) + (2 if skip else 1)
        self.session_seq[session] = n
        env = Envelope.model_validate({
            "message_id": f"{self.device_id}:{self.seq:012d}", "schema_version": "kiosk/v1",
            "kind": kind, "device_id": self.device_id, "tenant": TENANT, "site": self.site,
            "seq": self.seq, "session_id": session, "drill": drill, "session_seq": n,
            "recorded_at": {"utc": f"2026-12-0{min(n, 9)}T08:00:00Z", "mono": float(self.seq),
                            "boot": "b-1", "synced": True},
            "body": body})
        with store.transaction() as conn:
            ingest(conn, env, "https")

    def state(self, store: ReceiverStore, session: str, job: str, candidate: str, frm: str | None,
              to: str, action: str, actor: str = "candidate", reason: str | None = None,
              **kw: Any) -> None:
        self.send(store, "session.state", session, {
            "from": frm, "to": to, "action": action, "reason": reason, "actor_role": actor,
            "job_id": job, "job_version": 3, "candidate_id": candidate}, **kw)


def scored_report(session: str, candidate: str, job: str, scores: dict[str, float | None]
                  ) -> dict[str, Any]:
    full = report().model_copy(update={"candidate_name": None, "candidate_id": candidate,
                                       "session_id": session})
    return {"revision": 1, "report": full.model_dump(mode="json"), "scorecard": {
        "job_id": job, "package_version": 3, "complete": True, "pending": [], "overall": 7.0,
        "min_score": 0, "max_score": 10,
        "competencies": [{"id": k, "score": v, "status": "scored" if v is not None
                          else "not_assessed"} for k, v in scores.items()]}}


def seed(store: ReceiverStore) -> None:
    key = generate_key()
    for job in (JOB, OTHER_JOB):
        store_document(store, key, DocumentRequest(kind="job_package", scope=job, tenant=TENANT,
                                                   body=package(job)))
    store_document(store, key, DocumentRequest(kind="roster", scope="spring", tenant=TENANT,
                                               body=roster()))
    a, b = Box("kiosk-sz2-01", "suzhou-plant-2"), Box("kiosk-wx-01", "wuxi-plant-1")
    a.state(store, "s-1", JOB, "c-0042", None, "checked_in", "check_in")
    a.state(store, "s-1", JOB, "c-0042", "checked_in", "completed", "finish")
    a.send(store, "session.report", "s-1", scored_report(
        "s-1", "c-0042", JOB, {"communication": 6.5, "problem_solving": None}))
    b.state(store, "s-2", JOB, "c-0043", None, "checked_in", "check_in")
    b.state(store, "s-2", JOB, "c-0043", "checked_in", "paused", "pause", actor="site_hr",
            reason="fire alarm drill in hall B")
    b.state(store, "s-3", OTHER_JOB, "c-0077", None, "completed", "finish")
    b.send(store, "session.report", "s-3", scored_report(
        "s-3", "c-0077", OTHER_JOB, {"communication": 8.0, "problem_solving": 7.0}))
    a.state(store, "s-4", JOB, "c-0099", None, "completed", "finish", drill=True)
    a.state(store, "s-5", JOB, "c-0042", None, "completed", "finish", skip=True)  # held back
    for username, role, jobs in PEOPLE:
        users.add(store, username, role, PASSWORD, f"{username} person", jobs)
    users.add(store, "gone", "hr_specialist", PASSWORD, "Gone", (JOB,))
    users.disable(store, "gone")


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def console_client(store: ReceiverStore, username: str | None = None,
                   password: str = PASSWORD) -> TestClient:
    client = TestClient(create_app(store, limiter=LoginLimiter()), follow_redirects=False)
    if username is not None:
        page = client.get("/login")
        done = client.post("/login", data={"username": username, "password": password,
                                           "csrf": csrf_of(page.text)})
        assert done.status_code == 303, done.text
    return client
