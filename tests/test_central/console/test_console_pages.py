"""What HR sees on the console, read from central's tables on SQLite and PostgreSQL:
names from the roster, scores with "not assessed" never shown as 0, filters, sort, the CSV
export, the report rendered by the box's renderer, the state trail with staff reasons, the
statistics, the fleet, and a decision becoming an event for the HR system."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_fixtures import JOB, OTHER_JOB, console_client, csrf_of, seed

from central.console import queries, stats
from central.store import ReceiverStore
from central.webhooks import endpoints, events

S1, S2 = "/candidates/kiosk-sz2-01/s-1", "/candidates/kiosk-wx-01/s-2"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReceiverStore]:
    url = f"sqlite://{tmp_path / 'central.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("pg_url")
    s = ReceiverStore(url)
    seed(s)
    yield s
    s.close()


def test_candidates_come_with_roster_names_and_never_a_drill(store: ReceiverStore) -> None:
    found = {c.session_id: c for c in queries.candidates(store)}
    assert set(found) == {"s-1", "s-2", "s-3"}  # s-4 is a drill, s-5 is held back
    assert found["s-1"].name == "王芳" and found["s-1"].state == "completed"
    assert found["s-1"].scores == {"communication": 6.5, "problem_solving": None}
    assert found["s-2"].name == "Zhang Wei" and found["s-2"].state == "paused"
    assert found["s-2"].revision is None and found["s-2"].site == "wuxi-plant-1"
    assert found["s-3"].job_id == OTHER_JOB


def test_job_page_shows_not_assessed_filters_and_sorts(store: ReceiverStore) -> None:
    hr = console_client(store, "hr")
    page = hr.get(f"/jobs/{JOB}?lang=en").text
    assert "王芳" in page and "Zhang Wei" in page and "Ola Nordmann" not in page
    row = page[page.index("王芳"):].split("</tr>")[0]
    assert "6.5" in row and "not assessed" in row and ">0<" not in row
    paused = hr.get(f"/jobs/{JOB}?state=paused&lang=en").text
    assert "Zhang Wei" in paused and "王芳" not in paused
    by_site = hr.get(f"/jobs/{JOB}?site=suzhou-plant-2").text
    assert "王芳" in by_site and "Zhang Wei" not in by_site
    # session dates (the box's synchronised clock): s-1 began on 12-01, s-2 on 12-01 too;
    # a range after both keeps neither, one around them keeps both
    assert "No candidates match." in hr.get(f"/jobs/{JOB}?since=2026-12-02&lang=en").text
    ranged = hr.get(f"/jobs/{JOB}?since=2026-12-01&until=2026-12-01").text
    assert "王芳" in ranged and "Zhang Wei" in ranged
    assert "since=2026-12-01" in ranged.split("export.csv")[1][:120]  # export what is shown
    up = hr.get(f"/jobs/{JOB}?sort=name&dir=asc").text
    down = hr.get(f"/jobs/{JOB}?sort=name&dir=desc").text
    assert up.index("Zhang Wei") < up.index("王芳")
    assert down.index("王芳") < down.index("Zhang Wei")
    zh = hr.get(f"/jobs/{JOB}?lang=zh-CN").text
    assert '<html lang="zh-CN">' in zh and "未评估" in zh and "装配线操作工" in zh
    # the language chosen (a cookie) wins over the browser's
    assert '<html lang="zh-CN">' in hr.get("/jobs", headers={"Accept-Language": "en"}).text
    fresh = console_client(store, "hr")
    assert '<html lang="en">' in fresh.get("/jobs", headers={"Accept-Language": "en-GB"}).text


def test_csv_export_leaves_not_assessed_empty(store: ReceiverStore) -> None:
    got = console_client(store, "hm").get(f"/jobs/{JOB}/export.csv")
    assert got.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(got.text.lstrip("\ufeff"))))
    by_id = {r["candidate_id"]: r for r in table}
    assert set(by_id) == {"c-0042", "c-0043"}
    assert by_id["c-0042"]["name"] == "王芳" and by_id["c-0042"]["communication"] == "6.5"
    assert by_id["c-0042"]["problem_solving"] == ""
    assert by_id["c-0043"]["overall"] == ""


def test_csv_cells_are_never_formulas() -> None:
    job = queries.Job(JOB, {}, ())
    cand = queries.Candidate("d", "s", "site", JOB, "c-1", "=HYPERLINK(\"x\")")
    assert "'=HYPERLINK" in stats.csv_export(job, [cand])


def test_candidate_page_report_trail_and_staff_reasons(store: ReceiverStore) -> None:
    hr = console_client(store, "hr")
    page = hr.get(f"{S2}?lang=en").text
    assert "fire alarm drill in hall B" in page and "site_hr" in page
    assert 'name="decision"' not in page  # an HR specialist records no decision
    report = hr.get(f"{S1}/report?lang=en")
    assert report.status_code == 200
    assert "王芳" in report.text and "Li Wei" not in report.text  # the roster's name
    assert "frame-ancestors 'self'" in report.headers["content-security-policy"]
    assert hr.get(f"{S2}/report").status_code == 404  # no report yet
    compare = hr.get(f"/jobs/{JOB}/compare?lang=en").text
    assert compare.index("王芳") < compare.index("Zhang Wei")
    assert "not assessed" in compare


def test_statistics_hold_counts_and_withhold_small_groups(store: ReceiverStore) -> None:
    found = {s["job_id"]: s for s in console_client(store, "gm").get("/api/stats").json()}
    assert found[JOB]["candidates"] == 2
    assert found[JOB]["states"] == {"completed": 1, "paused": 1}
    assert found[JOB]["withheld"] is True  # two people: no score figures
    assert all(c["mean"] is None for c in found[JOB]["competencies"])


def test_fleet_shows_last_seen_and_held_back_backlog(store: ReceiverStore) -> None:
    boxes = {b["device_id"]: b for b in console_client(store, "admin").get("/api/fleet").json()}
    assert boxes["kiosk-sz2-01"]["held_back"] == 1 and boxes["kiosk-wx-01"]["held_back"] == 0
    assert boxes["kiosk-sz2-01"]["last_seen"]
    page = console_client(store, "admin").get("/fleet?lang=en").text
    assert "kiosk-sz2-01" in page and "not reported" in page


def test_a_decision_is_audited_and_becomes_an_event_in_one_go(store: ReceiverStore) -> None:
    endpoint, _ = endpoints.add(store, "https://hr.example.com/hook", [], "HR bridge")
    hm = console_client(store, "hm")
    csrf = csrf_of(hm.get(S1).text)
    assert hm.post(f"{S1}/decision", data={"decision": "advance", "reason": "   ",
                                           "csrf": csrf}).status_code == 400
    odd = hm.post(f"{S1}/decision", data={"decision": "<script>x</script>", "reason": "r",
                                          "csrf": csrf})
    assert odd.status_code == 400 and "<script>" not in odd.text
    got = hm.post(f"{S1}/decision", data={"decision": "advance",
                                          "reason": "steady hands, clear answers",
                                          "csrf": csrf})
    assert got.status_code == 303
    page = hm.get(got.headers["location"] + "&lang=en").text
    assert "Decision recorded." in page and "steady hands, clear answers" in page
    with store.read() as conn:
        made = events.after(conn, 0, 100, ("decision.recorded",))
    assert len(made) == 1
    data = made[0]["data"]
    assert data["decision"] == "advance" and data["candidate_id"] == "c-0042"
    assert data["decided_by"] == "hm" and data["job_id"] == JOB
    assert made[0]["session_id"] == "s-1" and made[0]["tenant"] == "acme"
    pending = store.all("SELECT state FROM webhook_deliveries WHERE endpoint_id = ?"
                        " AND event_seq = ?", (endpoint.id, made[0]["sequence"]))
    assert pending == [{"state": "pending"}]
    audited = store.all("SELECT details FROM console_audit WHERE action = 'decision.recorded'")
    assert json.loads(audited[0]["details"])["decision_id"] == data["decision_id"]


def test_an_uploaded_recording_plays_for_its_job_only_and_is_audited(
        store: ReceiverStore, tmp_path: Path) -> None:
    clip = tmp_path / "m-1"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    other = tmp_path / "m-3"
    other.write_bytes(b"forklift")
    with store.transaction() as conn:
        for media_id, path, device, session in (("m-1", clip, "kiosk-sz2-01", "s-1"),
                                                ("m-3", other, "kiosk-wx-01", "s-3")):
            conn.execute("INSERT INTO media (id, session_id, bytes, sha256, content_type,"
                         ' "offset", complete, path, restarts, created, completed, device_id)'
                         " VALUES (?, ?, ?, ?, 'video/mp4', ?, 1, ?, 0, 't', 't', ?)",
                         (media_id, session, path.stat().st_size, "0" * 64,
                          path.stat().st_size, str(path), device))
    hr = console_client(store, "hr")
    assert '<a href="/recordings/m-1">' in hr.get(S1).text
    got = hr.get("/recordings/m-1")
    assert got.status_code == 200 and got.content == clip.read_bytes()
    assert got.headers["content-type"] == "video/mp4"
    assert hr.get("/recordings/m-3").status_code == 403  # another job's
    assert console_client(store, "gm").get("/recordings/m-1").status_code == 403
    assert hr.get("/recordings/nope").status_code == 404
    seen = store.all("SELECT details FROM console_audit WHERE action = 'recording.viewed'")
    assert [json.loads(s["details"])["media_id"] for s in seen] == ["m-1"]


def test_a_candidate_central_asked_to_erase_is_shown_no_more(store: ReceiverStore) -> None:
    from central.documents import DocumentRequest, store_document
    from shared.signing import generate_key

    hr = console_client(store, "hr")
    assert hr.get(S2).status_code == 200
    store_document(store, generate_key(), DocumentRequest(
        kind="deletion", scope="erase-c-0043", tenant="acme",
        body={"request_id": "r-1", "candidate_id": "c-0043", "reason": "candidate asked"}))
    assert hr.get(S2).status_code == 404
    assert "Zhang Wei" not in hr.get(f"/jobs/{JOB}").text
    assert "c-0043" not in hr.get(f"/jobs/{JOB}/export.csv").text
