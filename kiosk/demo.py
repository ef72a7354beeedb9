"""``kiosk demo``: a scripted interview through the real session engine.

It imports the shipped example job package into a fresh store, invites a candidate,
and walks the whole flow (check-in, consent, both spoken questions with a retake, an
exit and resume by code, the 10-minute assembly demonstration) on a simulated clock,
so it finishes in seconds. Then it prints what the box would deliver to central.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from device import audit
from device.audit import SYSTEM, Actor
from device.clock import ManualClock
from device.config import KioskConfig
from device.jobs import active_package, import_package
from device.package import example_package_path
from device.roster import Invite, Roster, import_roster
from device.runtime import Kiosk, open_kiosk


def _script(kiosk: Kiosk, clock: ManualClock, steps: list[dict[str, Any]]) -> str:
    def step(what: str, **detail: Any) -> None:
        steps.append({"step": what, **detail})

    job = import_package(kiosk.store, example_package_path().read_bytes(),
                         "example package", SYSTEM)
    step("job package imported", job=job.job_id, version=job.version)
    package = active_package(kiosk.store, job.job_id)
    invite = Invite(candidate_id="DEMO-0001", job_id=job.job_id, display_name="Demo Candidate",
                    language="en", extra_time_pct=25)
    invited = import_roster(kiosk.engine, Roster(format="kiosk-roster/1", invites=[invite]),
                            "demo roster", Actor("site_hr", "demo"))[0]
    assert invited.invite_code is not None
    step("candidate invited", candidate=invite.candidate_id, invite_code=invited.invite_code,
         extra_time_pct=invite.extra_time_pct)
    opened = kiosk.engine.check_in(invited.invite_code, language="en")
    sid = opened.session_id
    step("checked in", session=sid)
    kiosk.engine.consent(sid, accept=True, consent_version=package.consent.version)
    step("consent given", consent_version=package.consent.version, expression_analysis=False)
    flow = kiosk.interview
    answer_s = [48.0, 71.0, 512.0]
    for n in range(len(package.items) + 1):
        view = flow.present(sid)
        if view.phase == "done" or view.item is None:
            break
        clock.advance(8)
        flow.start_answer(sid)
        clock.advance(answer_s[n % len(answer_s)])
        view = flow.finish_answer(sid)
        step(f"answered {view.item['id'] if view.item else '?'}",
             seconds=answer_s[n % len(answer_s)], retakes_left=view.retakes_left)
        if n == 0 and view.retakes_left:
            flow.retake(sid)
            flow.start_answer(sid)
            clock.advance(55)
            flow.finish_answer(sid)
            step("retook the first answer", seconds=55)
        if n == 1:
            code = kiosk.engine.exit(sid)
            step("candidate left mid-interview", resume_code=code)
            clock.advance(40 * 60)
            kiosk.engine.resume_by_code(code)
            step("resumed by code 40 minutes later")
        if flow.advance(sid).state == "completed":
            step("interview completed")
            break
    return sid


def run_demo(config: KioskConfig, *, as_json: bool = False, data_dir: Path | None = None) -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as tmp:
        root = data_dir or Path(tmp)
        demo_config = config.model_copy(update={"data_dir": root})
        clock = ManualClock()
        kiosk = open_kiosk(demo_config, clock)
        steps: list[dict[str, Any]] = []
        try:
            sid = _script(kiosk, clock, steps)
            session = kiosk.engine.session(sid)
            with kiosk.store.read() as db:
                chain = audit.verify(db)
            messages = kiosk.store.all(
                "SELECT message_id, kind, payload FROM outbox ORDER BY priority, seq")
            result = kiosk.store.one("SELECT body FROM results WHERE session_id = ?", (sid,))
        finally:
            kiosk.close()
    summary = {
        "session_id": sid,
        "final_state": session["state"],
        "steps": steps,
        "result": json.loads(result["body"]) if result else None,
        "outbox": [{"message_id": m["message_id"], "kind": m["kind"],
                    "to": json.loads(m["payload"])["body"].get("to")} for m in messages],
        "audit": {"ok": chain.ok, "entries": chain.entries},
        "seconds": round(time.perf_counter() - started, 3),
        "note": "Simulated clock; capture, analysis and delivery to central are not run here.",
    }
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)
    return 0 if session["state"] == "completed" and chain.ok else 1


def _print_summary(s: dict[str, Any]) -> None:
    print("Interview kiosk demo: one scripted interview through the session engine\n")
    for st in s["steps"]:
        extra = ", ".join(f"{k}={v}" for k, v in st.items() if k != "step")
        print(f"  - {st['step']}" + (f"  ({extra})" if extra else ""))
    print(f"\nFinal state: {s['final_state']}")
    if s["result"]:
        print("Answers kept:")
        for item in s["result"]["items"]:
            print(f"  {item['item_id']:<32} takes={item['takes']} "
                  f"duration={item['duration_s']} s")
    print(f"\nOutbox (what central will receive, in delivery order): {len(s['outbox'])}")
    for m in s["outbox"]:
        print(f"  {m['message_id']:<26} {m['kind']:<16} {m['to'] or ''}")
    print(f"\nAudit chain: {'intact' if s['audit']['ok'] else 'BROKEN'}, "
          f"{s['audit']['entries']} entries")
    print(f"Done in {s['seconds']} s. {s['note']}")
