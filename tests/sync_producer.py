"""A process that writes results into a box's outbox, for crash and clock tests.

Run as ``python tests/sync_producer.py DB DEVICE TENANT SITE [options]``. It opens the
box's store as the device does and writes ``--transactions`` transactions (0: until
killed), each with ``--per-tx`` messages of one session, the way a state change and its
result are written together. With ``--stdin`` it writes, for each line ``n`` read from
stdin, ``n`` transactions, and stops at the end of stdin (no sleeping, no timing: a test
steps it). After each commit it writes one JSON line to stdout::

    {"tx": 3, "ids": ["dev-1:000000000007", "dev-1:000000000008"],
     "utc": "1970-01-01T00:00:01.2+00:00", "synced": false}

so a test that kills it knows which commits were reported. The line is written only after
``COMMIT`` returned; a message absent from stdout may or may not be in the outbox.

The test side drives it with :func:`start`, :func:`step` and :func:`run_until_killed`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from device.central_link import outbox
from device.central_link.outbox import Identity
from device.storage.database import Store
from shared.contract import MessageKind

#: Kinds of one session in the order the session engine writes them; priorities only
#: rise, as in a session that changes state, then reports.
KINDS: tuple[MessageKind, ...] = ("session.state", "session.result", "usage", "session.report")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("db", type=Path)
    p.add_argument("device")
    p.add_argument("tenant")
    p.add_argument("site")
    p.add_argument("--transactions", type=int, default=0, help="0: until killed")
    p.add_argument("--per-tx", type=int, default=2, help="messages per transaction")
    p.add_argument("--tx-per-session", type=int, default=2,
                   help="transactions per session before a new session starts")
    p.add_argument("--prefix", default="p", help="session id prefix")
    p.add_argument("--body-bytes", type=int, default=1000)
    p.add_argument("--stdin", action="store_true", help="write as many transactions as each"
                   " line read from stdin says, until end of input")
    args = p.parse_args(argv)

    identity = Identity(args.device, args.tenant, args.site)
    filler = "x" * args.body_bytes
    store = Store(args.db)
    try:
        tx = 0
        if args.stdin:
            for line in sys.stdin:
                for _ in range(int(line)):
                    write(store, identity, args, tx, filler)
                    tx += 1
            return 0
        while args.transactions == 0 or tx < args.transactions:
            write(store, identity, args, tx, filler)
            tx += 1
    finally:
        store.close()
    return 0


def write(store: Store, identity: Identity, args: argparse.Namespace, tx: int,
          filler: str) -> None:
    """One transaction of ``args.per_tx`` messages, reported on stdout once committed."""
    session = f"{args.prefix}{tx // args.tx_per_session}"
    first = (tx % args.tx_per_session) * args.per_tx
    at = store.now()
    with store.transaction() as db:
        ids = [outbox.enqueue(db, identity, at, KINDS[min(first + part, len(KINDS) - 1)],
                              {"tx": tx, "part": part, "of": args.per_tx,
                               "prefix": args.prefix, "filler": filler},
                              session_id=session)
               for part in range(args.per_tx)]
    sys.stdout.write(json.dumps({"tx": tx, "ids": ids, "utc": at.utc, "synced": at.synced,
                                 "mono": at.mono}) + "\n")
    sys.stdout.flush()


# -- the test's side ----------------------------------------------------------------------

def start(db: Path, identity: Identity, *args: str, env: dict[str, str] | None = None,
          wrapper: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """This script as a child process (under ``wrapper``, e.g. ``faketime``), pipes open."""
    return subprocess.Popen(
        [*wrapper, sys.executable, str(Path(__file__).resolve()), str(db), identity.device_id,
         identity.tenant, identity.site, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def read_reports(proc: subprocess.Popen[str], n: int) -> list[dict[str, Any]]:
    """The next ``n`` commit reports; fails with the child's stderr if it died."""
    assert proc.stdout is not None
    reports = []
    for _ in range(n):
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=10)
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"the result writer died ({proc.returncode}): {err}")
        reports.append(json.loads(line))
    return reports


def step(proc: subprocess.Popen[str], transactions: int) -> list[dict[str, Any]]:
    """Have a ``--stdin`` writer commit ``transactions`` transactions; their reports."""
    assert proc.stdin is not None
    proc.stdin.write(f"{transactions}\n")
    proc.stdin.flush()
    return read_reports(proc, transactions)


def run_until_killed(db: Path, identity: Identity, prefix: str,
                     lines: int) -> list[dict[str, Any]]:
    """Run the writer, SIGKILL it after ``lines`` reports; every report it made."""
    proc = start(db, identity, "--prefix", prefix)
    reports = read_reports(proc, lines)
    proc.kill()
    proc.wait(timeout=10)
    # read through the same buffered stream: communicate() would read the pipe's descriptor
    # directly and miss the reports readline() already pulled into the buffer
    assert proc.stdout is not None
    out = proc.stdout.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    for line in out.splitlines():
        try:
            reports.append(json.loads(line))
        except json.JSONDecodeError:  # a report the kill cut short: its commit may be there
            break
    return reports


if __name__ == "__main__":
    sys.exit(main())
