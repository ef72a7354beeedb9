"""Schemathesis over the local API's OpenAPI: generated requests never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.core.result import Err, Ok

from conftest import InviteFn, LiveServer
from device.audit import SYSTEM
from device.composition import Kiosk
from device.staff import tokens

pytestmark = pytest.mark.integration


@pytest.fixture
def fuzz_target(
    live: LiveServer, kiosk: Kiosk, invite: InviteFn, consent_version: str
) -> Iterator[dict[str, str]]:
    admin = tokens.create(kiosk.store, "fuzz-admin", "admin", [], SYSTEM).token
    sessions = []
    # real candidate tokens in several states, so candidate endpoints are reached for real
    for n in range(9):
        code = invite().invite_code
        assert code
        opened = kiosk.engine.check_in(code)
        if n % 3 >= 1:
            kiosk.engine.consent(opened.session_id, accept=True, consent_version=consent_version)
        if n % 3 == 2:
            kiosk.interview.present(opened.session_id)
        sessions.append(opened.token)
    yield {"admin": admin, **{f"s{i}": t for i, t in enumerate(sessions)}}


#: Operations that reach hardware, the network or the model registry on every call (a
#: model download, device tests, a disk write test, enrolment with central). Each has its
#: own tests of bad input; random bodies here would only make the run slow.
REAL_WORK = ("/models/install", "/selftest/", "/provision/enrol")


def _does_real_work(method: str, path: str) -> bool:
    return any(part in path for part in REAL_WORK)


def test_no_server_errors(live: LiveServer, fuzz_target: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    results = list(schema.get_all_operations())
    broken = [str(r.err()) for r in results if isinstance(r, Err)]
    assert broken == [], "the OpenAPI document has operations schemathesis cannot read"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 20
    session_tokens = [v for k, v in fuzz_target.items() if k != "admin"]
    failures: list[str] = []
    for operation in operations:
        if _does_real_work(operation.method, operation.path):
            continue

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), token=st.sampled_from(session_tokens))
        def call(case: Case[Any], token: str) -> None:
            headers = {"Authorization": f"Bearer {fuzz_target['admin']}",
                       "X-Session-Token": token}
            response = case.call(base_url=live.url, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> "
                                f"{response.status_code}: {response.text[:200]}")

        call()
    assert failures == []
