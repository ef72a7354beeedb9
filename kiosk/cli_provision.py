"""``kiosk provision``: enrol the box with central, check it, install its units, reset it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from kiosk.cli_confirm import device_id_typed


def cmd_enroll(args: argparse.Namespace, config: KioskConfig) -> int:
    from provisioning.enrol import enrol

    if args.ca is not None and not args.ca.is_file():
        print(f"kiosk: --ca {args.ca}: no such file", file=sys.stderr)
        return 2
    outcome = enrol(config, args.url, args.token, ca_file=args.ca, force=args.force)
    print(outcome.message)
    return 0


def cmd_status(args: argparse.Namespace, config: KioskConfig) -> int:
    from provisioning.status import status, summary_lines

    found = status(config)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print("\n".join(summary_lines(found)))
    return 0 if found["healthy"] else 1


def cmd_systemd(args: argparse.Namespace, config: KioskConfig) -> int:
    from provisioning.systemd import UnitSettings, install, next_steps

    settings = UnitSettings(user=args.user, venv=args.venv, config=args.unit_config,
                            data_dir=args.data_dir, ui_url=args.url_of_ui, cage=args.cage,
                            browser=args.browser)
    for written in install(args.dir, settings):
        print(f"{'wrote' if written.changed else 'unchanged'} {written.path}")
    print(f"next: {next_steps()}")
    return 0


def cmd_wipe(args: argparse.Namespace, config: KioskConfig) -> int:
    from provisioning.wipe import pending, wipe

    interrupted = pending(config.data_dir)
    device_id = (interrupted or {}).get("device_id") or config.device.id
    if interrupted:
        print(f"an interrupted factory reset of {device_id} is pending; this finishes it")
    else:
        print(f"factory reset of {device_id}: deletes every session, recording, log, key and"
              f" the enrolment in {config.data_dir}; keeps the installed models and the"
              " configuration file")
    if not device_id_typed(args.yes_wipe, device_id, "nothing was deleted"):
        return 1
    keep = [p for p in (args.config, os.environ.get("KIOSK_CONFIG")) if p]
    removed = wipe(config, device_id, keep=[Path(p) for p in keep])
    print(f"wiped {device_id}: removed {', '.join(removed) or 'nothing (already empty)'}")
    print("enrol the box again with `kiosk provision enroll` before using it")
    return 0


def register(sub: Any) -> None:
    """Add the ``provision`` subcommand."""
    p = sub.add_parser("provision", help="Enrol the box with central, check it, install its"
                       " systemd units, factory-reset it.",
                       description="Set-up and life cycle of a box: enrolment with central,"
                       " its status, its systemd units and the factory reset.")
    actions = p.add_subparsers(dest="provision_command", required=True, metavar="ACTION")

    en = actions.add_parser("enroll", help="Enrol this box with central (one-time token).",
                            description="Generate the device key on this box, have central"
                            " sign it with a one-time token, and store what central hands"
                            " back in <data_dir>/secrets and <data_dir>/enrolment.toml.")
    en.add_argument("--url", required=True, help="central's enrolment address, e.g."
                    " https://central.example:8444")
    en.add_argument("--token", required=True, help="the one-time enrolment token")
    en.add_argument("--ca", type=Path, help="CA certificate to check central's TLS with"
                    " (default: the system's trust store)")
    en.add_argument("--force", action="store_true", help="replace an existing enrolment"
                    " (recorded in the audit log)")
    en.set_defaults(handler=cmd_enroll)

    st = actions.add_parser("status", help="Enrolment, certificate and secret files; exit 1"
                            " unless enrolled and healthy.")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(handler=cmd_status)

    sd = actions.add_parser("systemd", help="Write the kiosk-device, kiosk-sync and kiosk-ui"
                            " units.")
    sd.add_argument("--dir", type=Path, default=Path("/etc/systemd/system"),
                    help="unit directory (/etc/systemd/system)")
    sd.add_argument("--user", default="kiosk", help="the services' user (kiosk)")
    sd.add_argument("--venv", type=Path, default=Path("/opt/kiosk/.venv"),
                    help="the kiosk's virtual environment (/opt/kiosk/.venv)")
    sd.add_argument("--config", dest="unit_config", type=Path,
                    default=Path("/etc/kiosk/kiosk.toml"),
                    help="configuration file the services read (/etc/kiosk/kiosk.toml)")
    sd.add_argument("--data-dir", type=Path, default=Path("/var/lib/kiosk"),
                    help="data directory, the only one the services may write"
                    " (/var/lib/kiosk)")
    sd.add_argument("--url-of-ui", default="http://127.0.0.1:8470/",
                    help="what the touchscreen shows (http://127.0.0.1:8470/)")
    sd.add_argument("--cage", type=Path, default=Path("/usr/bin/cage"),
                    help="the cage compositor (/usr/bin/cage)")
    sd.add_argument("--browser", type=Path, default=Path("/usr/bin/chromium"),
                    help="Chromium (/usr/bin/chromium; /usr/bin/chromium-browser on older"
                    " Raspberry Pi OS)")
    sd.set_defaults(handler=cmd_systemd)

    wp = actions.add_parser("wipe", help="Factory reset: delete every session, recording,"
                            " key and the enrolment.")
    wp.add_argument("--yes-wipe", metavar="DEVICE_ID",
                    help="confirm without the prompt by giving this box's exact device id")
    wp.set_defaults(handler=cmd_wipe)
