"""Local API helpers: staff bearer headers, a candidate's check-in, problem+json checks."""

from __future__ import annotations

from typing import Any

import httpx

from device.audit import SYSTEM
from device.composition import Kiosk
from device.staff import tokens

PROBLEM = "application/problem+json"


def staff_headers(kiosk: Kiosk, role: str = "admin", jobs: list[str] | None = None,
                  name: str | None = None) -> dict[str, str]:
    created = tokens.create(kiosk.store, name or f"{role}-token", role, jobs or [], SYSTEM)
    return {"Authorization": f"Bearer {created.token}"}


def check_in(http: httpx.Client, code: str) -> dict[str, str]:
    r = http.post("/api/v1/checkin", json={"code": code, "language": "ko"})
    assert r.status_code == 200, r.text
    return {"X-Session-Token": r.json()["token"]}


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status and str(body["type"]).endswith("/" + code)
    assert body["detail"]
    return body
