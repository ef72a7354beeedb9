"""A typed client of the box's local staff API (async httpx; the terminal UI's only link).

Errors carry the API's problem+json ``detail``, so a screen can say exactly why a request
failed or an action was refused.
"""

from __future__ import annotations

from typing import Any, cast

import httpx

from tui.models import (
    ActionOutcome,
    AnswerAnalysis,
    AuditEntry,
    AuditVerify,
    Health,
    Healthz,
    LogPage,
    Models,
    Provision,
    ReasonCount,
    SessionDetail,
    SessionRow,
    SyncControl,
    SyncQueue,
    SyncStatus,
    Whoami,
)
from tui.report_models import ChecklistOutcome, ReportEnvelope

STAFF = "/api/v1/staff"
DEFAULT_TIMEOUT_S = 10.0
#: The model self-test loads and runs every installed model (Whisper among them): on a busy
#: Pi 4 that takes well over the default, and a timeout there is no answer about the models.
MODEL_CHECK_TIMEOUT_S = 300.0


class ApiError(Exception):
    """A failed request: ``status`` (0 when the API could not be reached), ``code``, ``detail``."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class Unreachable(ApiError):
    """The local API did not answer (not running, wrong URL, socket missing)."""


class Unauthorized(ApiError):
    """The staff token is unknown or revoked (401)."""


class Forbidden(ApiError):
    """The token's role may not do this (403); ``detail`` says which roles may."""


class MissingEndpoint(ApiError):
    """The API has no such route (an older kiosk-device)."""


def split_url(url: str) -> tuple[str, str | None]:
    """``http://host:port`` as is; ``unix:/path/to.sock`` as a base URL plus a socket path."""
    if url.startswith("unix:"):
        path = url.removeprefix("unix:").removeprefix("//")
        return "http://kiosk", path
    return url.rstrip("/"), None


class ApiClient:
    """One staff token against one kiosk-device. The httpx client is made on first use,
    inside the event loop that uses it."""

    def __init__(self, url: str, token: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url
        self.token = token
        self.timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            base, uds = split_url(self.url)
            transport = httpx.AsyncHTTPTransport(uds=uds) if uds else None
            self._http = httpx.AsyncClient(
                base_url=base, transport=transport, timeout=self.timeout_s,
                headers={"Authorization": f"Bearer {self.token}"})
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, timeout_s: float | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            r = await self._client().request(method, path, params=query, json=json,
                                             timeout=timeout)
        except httpx.TimeoutException:
            raise Unreachable(0, "unreachable", f"kiosk-device at {self.url} did not answer"
                              f" within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise Unreachable(0, "unreachable",
                              f"kiosk-device not reachable at {self.url} ({exc})") from None
        if r.status_code < 400:
            return r.json()
        raise _error(r)

    # --- identity and sessions ------------------------------------------------------------

    async def whoami(self) -> Whoami:
        return cast(Whoami, await self.request("GET", f"{STAFF}/whoami"))

    async def sessions(self, *, state: str | None = None, job_id: str | None = None,
                       limit: int = 500) -> list[SessionRow]:
        found = await self.request("GET", f"{STAFF}/sessions",
                                   params={"state": state, "job_id": job_id, "limit": limit})
        return cast(list[SessionRow], found)

    async def session(self, session_id: str) -> SessionDetail:
        return cast(SessionDetail, await self.request("GET", f"{STAFF}/sessions/{session_id}"))

    async def analysis(self, session_id: str) -> list[AnswerAnalysis]:
        """Each answer's analysis: status, error, recognition quality, why not assessed."""
        found = await self.request("GET", f"{STAFF}/sessions/{session_id}/analysis")
        return cast(list[AnswerAnalysis], found)

    async def act(self, action: str, session_ids: list[str], reason: str) -> ActionOutcome:
        body = {"action": action, "session_ids": session_ids, "reason": reason}
        return cast(ActionOutcome,
                    await self.request("POST", f"{STAFF}/sessions/actions", json=body))

    async def reasons(self, days: int = 7) -> list[ReasonCount]:
        found = await self.request("GET", f"{STAFF}/sessions-summary/reasons",
                                   params={"days": days})
        return cast(list[ReasonCount], found)

    async def jobs(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], await self.request("GET", f"{STAFF}/jobs"))

    # --- reports --------------------------------------------------------------------------

    async def report(self, session_id: str) -> ReportEnvelope:
        """The session's report and its revision; a 404 ``ApiError`` when it has none yet."""
        found = await self.request("GET", f"{STAFF}/sessions/{session_id}/report")
        return cast(ReportEnvelope, found)

    async def score_checklist(self, session_id: str, item_id: str, points: dict[str, bool],
                              reason: str | None) -> ChecklistOutcome:
        """Score a demonstration's checklist (every point); ``reason`` is required by the box
        when the checklist was scored before."""
        found = await self.request("PUT", f"{STAFF}/sessions/{session_id}/checklist/{item_id}",
                                   json={"points": points, "reason": reason})
        return cast(ChecklistOutcome, found)

    # --- audit ------------------------------------------------------------------------------

    async def audit(self, *, subject: str | None = None, action: str | None = None,
                    limit: int = 200, before_seq: int | None = None) -> list[AuditEntry]:
        found = await self.request("GET", f"{STAFF}/audit", params={
            "subject": subject, "action": action, "limit": limit, "before_seq": before_seq})
        return cast(list[AuditEntry], found)

    async def audit_verify(self) -> AuditVerify:
        return cast(AuditVerify, await self.request("GET", f"{STAFF}/audit/verify"))

    # --- health -----------------------------------------------------------------------------

    async def healthz(self) -> Healthz:
        return cast(Healthz, await self.request("GET", "/healthz"))

    async def health(self) -> Health:
        return cast(Health, await self.request("GET", f"{STAFF}/health"))

    async def outbox(self) -> dict[str, int]:
        found = await self.request("GET", f"{STAFF}/outbox")
        return cast(dict[str, int], found["pending"])

    async def alerts(self) -> list[dict[str, Any]]:
        found = await self.request("GET", f"{STAFF}/alerts")
        return cast(list[dict[str, Any]], found["alerts"])

    async def capture(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("GET", f"{STAFF}/capture"))

    # --- sync and logs ----------------------------------------------------------------------

    async def sync_status(self) -> SyncStatus:
        return cast(SyncStatus, await self.request("GET", f"{STAFF}/sync"))

    async def sync_queue(self, *, limit: int = 50, kind: str | None = None) -> SyncQueue:
        found = await self.request("GET", f"{STAFF}/sync/queue",
                                   params={"limit": limit, "kind": kind})
        return cast(SyncQueue, found)

    async def sync_control(self, reason: str, **changes: Any) -> SyncControl:
        found = await self.request("POST", f"{STAFF}/sync/control",
                                   json={**changes, "reason": reason})
        return cast(SyncControl, found)

    async def sync_retry(self, reason: str) -> dict[str, Any]:
        found = await self.request("POST", f"{STAFF}/sync/retry", json={"reason": reason})
        return cast(dict[str, Any], found)

    async def logs(self, service: str, *, after: str | None = None,
                   limit: int = 200) -> LogPage:
        found = await self.request("GET", f"{STAFF}/logs",
                                   params={"service": service, "after": after, "limit": limit})
        return cast(LogPage, found)

    # --- self-test and models ---------------------------------------------------------------

    async def microphone(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("GET", f"{STAFF}/selftest/microphone"))

    async def camera(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("GET", f"{STAFF}/selftest/camera"))

    async def check_models(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request(
            "POST", f"{STAFF}/selftest/models", timeout_s=MODEL_CHECK_TIMEOUT_S))

    async def check_network(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("POST", f"{STAFF}/selftest/network"))

    async def check_disk(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("POST", f"{STAFF}/selftest/disk"))

    async def models(self) -> Models:
        return cast(Models, await self.request("GET", f"{STAFF}/models"))

    async def install_models(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.request("POST", f"{STAFF}/models/install"))

    # --- provisioning -----------------------------------------------------------------------

    async def provision(self) -> Provision:
        return cast(Provision, await self.request("GET", f"{STAFF}/provision"))

    async def enrol(self, url: str, token: str, ca_file: str | None,
                    force: bool = False) -> Provision:
        body = {"url": url, "token": token, "ca_file": ca_file, "force": force}
        return cast(Provision, await self.request("POST", f"{STAFF}/provision/enrol", json=body))


def _error(r: httpx.Response) -> ApiError:
    code, detail = "http-error", r.text.strip() or r.reason_phrase
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("type", "")).rsplit("/", 1)[-1] or str(body.get("code", code))
        detail = str(body.get("detail") or detail)
    if r.status_code == 401:
        return Unauthorized(401, code, detail)
    if r.status_code == 403:
        return Forbidden(403, code, detail)
    if r.status_code in (404, 405) and detail in ("Not Found", "Method Not Allowed"):
        return MissingEndpoint(r.status_code, code, f"kiosk-device has no {r.request.method}"
                               f" {r.request.url.path}; update kiosk-device")
    return ApiError(r.status_code, code, detail)
