"""What the demo shows at the end: scores with their evidence, timings, what central got.

:func:`print_summary` words the same dictionary that ``kiosk demo --json`` prints.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from device.sessions import answer_rows
from device.storage.database import Store
from inference.speech.accuracy import error_rate, metric


def answers(store: Store, session_id: str, said: dict[str, str],
            language: str) -> list[dict[str, Any]]:
    """Per recorded item: what the candidate said (scripted) and what the box heard or saw,
    with the error rate between the two (CER for zh-CN and ko, WER for en)."""
    with store.read() as db:
        found = answer_rows.with_analysis(db, session_id)
    out = []
    for r in found:
        body = json.loads(r.body) if r.body else {}
        entry: dict[str, Any] = {"item_id": r.answer.item_id, "analysis": r.status,
                                 "analysis_cpu_s": round(r.cpu_s or 0.0, 2)}
        if r.error:
            entry["error"] = r.error
        if body.get("kind") == "question":
            metrics = body["metrics"]
            heard, script = body["transcript"]["text"], said.get(r.answer.item_id)
            entry.update(said=script, heard=heard,
                         recognition_quality=body["transcript"].get("quality"),
                         speaking_rate=metrics["speaking_rate"], rate_unit=metrics["rate_unit"],
                         star_covered=body["star"]["covered"])
            if script:
                entry["error_rate"] = {"metric": metric(language),
                                       "value": round(error_rate([script], [heard], language), 3)}
        elif body.get("kind") == "demonstration":
            activity = body["activity"]
            entry.update(active_ratio=activity.get("active_ratio"),
                         duration_s=activity.get("duration_s"),
                         activity_basis=activity.get("basis", "frame_motion"))
        if body.get("vision"):
            entry["face_present_ratio"] = body["vision"]["face_present_ratio"]
        out.append(entry)
    return out


def scores(scorecard: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Per competency: score on the package scale, status, explanation, evidence heard."""
    competencies = []
    for c in scorecard["competencies"]:
        competencies.append({
            "id": c["id"], "name": names.get(c["id"], c["id"]), "score": c["score"],
            "status": c["status"], "explanation": c["explanation"],
            "evidence": [{"item": e["item_id"], "heard": e["match"]["heard"],
                          "looked_for": e["match"]["phrase"],
                          "at_s": round(e["match"]["start"], 1)} for e in c["evidence"]],
        })
    return {"overall": scorecard["overall"], "scale": [scorecard["min_score"],
                                                       scorecard["max_score"]],
            "complete": scorecard["complete"], "competencies": competencies}


def received(messages: list[dict[str, Any]], media: list[dict[str, Any]],
             transport: str) -> dict[str, Any]:
    kinds = Counter(m["kind"] for m in messages)
    return {"transport": transport, "messages": len(messages), "by_kind": dict(kinds),
            "duplicates_dropped": sum(m["copies"] - 1 for m in messages),
            "media_files": len(media), "media_bytes": sum(m["bytes"] for m in media)}


def short(text: str, width: int = 100) -> str:
    """``text`` cut to ``width`` characters for a terminal line."""
    return text if len(text) <= width else text[: width - 1] + "…"


def print_summary(s: dict[str, Any]) -> None:
    speech = s["speech"]
    print("\n== Scores (decision support: every score carries its evidence) ==")
    sc = s["scores"]
    low, high = sc["scale"]
    for c in sc["competencies"]:
        score = "awaiting staff" if c["score"] is None else f"{c['score']:.1f} / {high:g}"
        print(f"  {c['name']:<24} {score:<14} {c['explanation']}")
        for e in c["evidence"][:3]:
            print(f"      heard \"{e['heard']}\" at {e['at_s']} s in {e['item']}"
                  f" (looked for \"{e['looked_for']}\")")
    overall = "n/a" if sc["overall"] is None else f"{sc['overall']:.1f}"
    print(f"  {'Overall':<24} {overall} on a {low:g}-{high:g} scale"
          f"{'' if sc['complete'] else ' (incomplete)'}")
    print("\n== Answers ==")
    for a in s["answers"]:
        print(f"  {a['item_id']} (analysed in {a['analysis_cpu_s']:.1f} s of CPU)")
        if "heard" in a:
            print(f"      said  \"{short(a['said'])}\"")
            print(f"      heard \"{short(a['heard'])}\"")
            quality = a.get("recognition_quality")
            rate = a.get("error_rate")
            print("      " + ", ".join(filter(None, (
                f"{rate['metric']} {rate['value']:.2f}" if rate else None,
                f"recognition quality {quality:.2f}" if quality is not None else None))))
        elif "active_ratio" in a:
            basis = str(a.get("activity_basis", "frame_motion")).replace("_", " ")
            print(f"      active {a['active_ratio']:.0%} of {a['duration_s']:.1f} s on camera"
                  f" ({basis})")
        if a.get("error"):
            print(f"      analysis failed: {a['error']}")
    print(f"\n  Speech model: {speech['summary']}")
    print(f"  {speech['note']}")
    print("\n== Timings ==")
    for name, seconds in s["stages"].items():
        print(f"  {name:<62} {seconds:7.1f} s")
    print(f"  {'total':<62} {s['seconds']:7.1f} s")
    got = s["central_received"]
    print(f"\n== What central received (over {got['transport'].upper()}, all acknowledged:"
          f" {'yes' if s['all_acked'] else 'NO'}) ==")
    for kind, n in sorted(got["by_kind"].items()):
        print(f"  {n:3d} × {kind}")
    print(f"  {got['media_files']:3d} recordings, {got['media_bytes'] / 1e6:.1f} MB"
          " (sealed on the box, uploaded in chunks, checked by SHA-256)")
    print(f"\nAudit chain: {'intact' if s['audit']['ok'] else 'BROKEN'},"
          f" {s['audit']['entries']} entries")
    print(f"Report for HR: {s['report']}")
