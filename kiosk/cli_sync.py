"""``kiosk sync``: the sync agent (store-and-forward to central HR) and its status."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any

from device.config import KioskConfig
from kiosk.site_time import shown


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sync", help="Deliver the outbox to central and apply what central sends.",
        description="Run the sync agent (kiosk-sync): deliver the outbox to central over MQTT 5"
        " or HTTPS, upload recordings, and apply signed documents from central. Runs until"
        " stopped (SIGTERM/SIGINT).")
    p.add_argument("--until-drained", action="store_true",
                   help="exit 0 once every queued message is acknowledged by central")
    p.add_argument("--timeout", type=float, default=None,
                   help="with --until-drained: give up after this many seconds (exit 1)")
    p.set_defaults(handler=cmd_sync)
    actions = p.add_subparsers(dest="sync_command", metavar="ACTION")
    st = actions.add_parser("status", help="Link state and what is waiting for central.")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(handler=cmd_sync_status)
    for name, text in (("pause", "Stop sending new messages to central (kept queued)."),
                       ("resume", "Send to central again after a pause.")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--reason", required=True, help="why (kept in the audit log)")
        action.set_defaults(handler=cmd_sync_pause, paused=name == "pause")
    retry = actions.add_parser(
        "retry", help="Retry deferred messages and reconnect to central now.",
        description="Ask the running sync agent to retry deferred messages and reconnect now.")
    retry.add_argument("--reason", help="why (kept in the audit log)")
    retry.set_defaults(handler=cmd_sync_retry)


def _open_store(config: KioskConfig) -> Any:
    from device.storage.database import Store

    return Store(config.db_path, busy_timeout_ms=config.store.busy_timeout_ms,
                 check_integrity=config.store.check_integrity, mark=config.store_mark_path)


def cmd_sync(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.ops import logs
    from provisioning import notify, wipe
    from sync_agent.assembly import build

    wipe.refuse_if_pending(config)  # an interrupted factory reset must be finished first
    logs.setup(config.logging.level, config.logging.format, "kiosk-sync", config.data_dir)
    if not config.sync.enabled:
        print("kiosk sync: [sync] enabled = false; nothing to do", file=sys.stderr)
        return 0
    store = _open_store(config)
    dog: notify.Watchdog | None = None
    try:
        service = build(config, store)
        # systemd: READY=1 now, WATCHDOG=1 while the store answers, STOPPING=1 at the end
        interval = notify.watchdog_interval()
        notify.notify("READY=1")
        if interval:
            dog = notify.Watchdog(notify.store_answers(store), interval).start()
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if not args.until_drained:
            service.run(stop)
            return 0
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        worker = threading.Thread(target=service.run, args=(stop,), name="kiosk-sync")
        worker.start()
        try:
            while not stop.is_set():
                if service.agent.drained():
                    print("kiosk sync: every message is acknowledged by central")
                    return 0
                if deadline is not None and time.monotonic() > deadline:
                    print(f"kiosk sync: not drained after {args.timeout:g} s", file=sys.stderr)
                    return 1
                stop.wait(0.2)
            return 0
        finally:
            stop.set()
            worker.join()
    finally:
        if dog is not None:
            dog.stop()
        notify.notify("STOPPING=1")
        store.close()


def cmd_sync_status(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.central_link.sync_status import status

    store = _open_store(config)
    try:
        found = status(store, config)
    finally:
        store.close()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    if not found["links"]:
        print("link: the sync agent has not run yet")
    for link in found["links"]:
        detail = f" ({link['detail']})" if link["detail"] else ""
        print(f"link {link['transport']}: {link['state']}{detail}; reconnects"
              f" {link['reconnects']}, sent {link['sent']}, acked {link['acked']}")
    zone = config.site.time_zone
    print(_controls(found["control"], zone))
    print(f"last success: {shown(found['last_success'], zone) or 'never'}")
    error = found["last_error"]
    print(f"last error: {error['message']} (at {shown(error['at'], zone)})" if error
          else "last error: none")
    depth = found["outbox_depth"]
    parts = ", ".join(f"{kind} {n}" for kind, n in sorted(depth.items()))
    print(f"waiting for central: {found['waiting']}" + (f" ({parts})" if parts else ""))
    oldest = found["oldest_unsent"]
    if oldest and oldest["last_error"]:
        print(f"oldest: {oldest['message_id']} ({oldest['kind']}), {oldest['attempts']}"
              f" attempts, last error: {oldest['last_error']}")
    return 0


def _controls(c: dict[str, Any], zone: str) -> str:
    paused = "PAUSED" if c["paused"] else "running"
    by = f", set by {c['updated_by']} at {shown(c['updated'], zone)}" if c["updated_by"] else ""
    bandwidth = f"{c['bandwidth_kbps']} kbit/s" if c["bandwidth_kbps"] else "unlimited"
    return (f"delivery: {paused}; metered {'yes' if c['metered'] else 'no'}"
            f" ({c['metered_source']}); bandwidth {bandwidth} ({c['bandwidth_source']}){by}")


CONSOLE = ("technician", "console")


def cmd_sync_pause(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.central_link import sync_control as control

    store = _open_store(config)
    try:
        control.update(store, Actor(*CONSOLE), args.reason, paused=args.paused)
    finally:
        store.close()
    print("kiosk sync: delivery paused; messages stay queued" if args.paused
          else "kiosk sync: delivery resumed")
    return 0


def cmd_sync_retry(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.central_link import sync_control as control

    store = _open_store(config)
    try:
        requested = control.request_retry(store, Actor(*CONSOLE), args.reason)
    finally:
        store.close()
    at = shown(requested.wall, config.site.time_zone)
    print(f"kiosk sync: retry requested at {at}; the running agent acts on it"
          " within a second")
    return 0
