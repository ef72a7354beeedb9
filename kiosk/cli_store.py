"""``kiosk store``: start again after the database went backwards, continuing the sequence."""

from __future__ import annotations

import argparse
from typing import Any

from device.config import KioskConfig
from kiosk.cli_confirm import device_id_typed


def cmd_store_recover(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.errors import StoreError
    from device.ops.store_recovery import LOST, recover, refusal
    from provisioning.wipe import refuse_if_pending, running_services

    refuse_if_pending(config)
    services = running_services()
    if services:  # a running service could open the new database before it is ready
        raise StoreError(f"{', '.join(services)} still running: stop the kiosk services first"
                         f" (systemctl stop {' '.join(services)})")
    found = refusal(config)  # NothingToRecoverError (one clear line) when the box starts
    device_id = config.device.id
    start = max(found.mark.sent_seq, args.central_seq or 0)
    print(f"the database is refused: {found.problem}")
    print(f"recovery of {device_id}: moves {config.db_path} aside (kept, not deleted) and starts"
          f" a new database whose next message id is {device_id}:{start + 1:012d}")
    print(f"lost: {LOST}")
    if not device_id_typed(args.yes_recover, device_id, "nothing was changed"):
        return 1
    done = recover(config, device_id, args.reason, Actor("technician", "console"),
                   central_seq=args.central_seq)
    print(f"moved aside: {', '.join(done.moved) or 'nothing (the database file was missing)'}")
    print(f"new database {done.store_id}: the sequence continues after {done.continues_after};"
          f" the next message id is {done.next_message_id}")
    print("the recovery is the first entry of the new audit log; import the job packages and"
          " create the staff tokens again before the next interview")
    return 0


def register(sub: Any) -> None:
    """Add the ``store`` subcommand."""
    p = sub.add_parser("store", help="The box's database: recover after it went backwards.",
                       description="The box's database and the store mark that checks it.")
    actions = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    rc = actions.add_parser(
        "recover", help="Start a new database that continues the message sequence (after"
        " the database was refused as empty, replaced or older).",
        description="Move the refused database aside and start a new one whose message ids"
        " continue past every id central may hold; the recovery is the new audit log's first"
        " entry.")
    rc.add_argument("--continue-sequence", action="store_true", required=True,
                    help="required: the new database continues the message sequence")
    rc.add_argument("--reason", required=True, help="why (kept in the audit log)")
    rc.add_argument("--central-seq", type=int, metavar="SEQ",
                    help="central's last acknowledged seq for this box, when known (from"
                    " `kiosk central messages`); the sequence continues past it too")
    rc.add_argument("--yes-recover", metavar="DEVICE_ID",
                    help="confirm without the prompt by giving this box's exact device id")
    rc.set_defaults(handler=cmd_store_recover)
