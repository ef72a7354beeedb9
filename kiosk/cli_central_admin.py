"""``kiosk central publish | messages | enrolment-token | devices``: central's admin API
from the command line, with an admin token (``--token`` or ``KIOSK_CENTRAL_TOKEN``)."""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from pathlib import Path
from typing import Any

from device.errors import KioskError
from kiosk.cli_central import DOCUMENT_KINDS, UsageError, _file, _usage


def cmd_devices(args: argparse.Namespace, config: Any) -> int:
    if args.add is None:
        found = _call(args, "GET", "/v1/admin/devices")["devices"]
        if args.json:
            print(json.dumps(found, indent=2))
        for d in [] if args.json else found:
            print(f"{d['device_id']:<24} {d['tenant']}/{d['site']}")
        return 0
    if args.tenant is None or args.site is None:
        raise UsageError("--add needs --tenant and --site")
    made = _call(args, "POST", "/v1/admin/devices",
                 json={"device_id": args.add, "tenant": args.tenant, "site": args.site,
                       "move": args.move})
    state = "registered" if made["new"] else "already registered"
    print(f"{made['device_id']} {state} for {made['tenant']}/{made['site']}")
    return 0


def _client(args: argparse.Namespace) -> Any:
    import httpx

    verify: ssl.SSLContext | bool = True
    if args.ca is not None or args.cert is not None:
        if (args.cert is None) != (args.key is None):
            raise UsageError("--cert and --key go together")
        for path, what in ((args.ca, "--ca"), (args.cert, "--cert"), (args.key, "--key")):
            _file(path, what)
        context = ssl.create_default_context(cafile=str(args.ca) if args.ca else None)
        if args.cert is not None:
            context.load_cert_chain(str(args.cert), str(args.key))
        verify = context
    token = args.token or os.environ.get("KIOSK_CENTRAL_TOKEN")
    if not token:
        raise UsageError("give the admin token with --token or KIOSK_CENTRAL_TOKEN (made"
                         " with 'kiosk central admin-token')")
    return httpx.Client(base_url=args.url.rstrip("/"), verify=verify, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    with _client(args) as client:
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise KioskError(f"cannot reach the receiver at {args.url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:200]}
    if response.status_code >= 400:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        raise KioskError(f"the receiver refused ({response.status_code}): {detail}")
    return body


def cmd_publish(args: argparse.Namespace, config: Any) -> int:
    if args.tenant is None and args.device is None:
        raise UsageError("give --tenant (or --device for a box the receiver has heard from)")
    try:
        body = json.loads(args.file.read_bytes())
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{args.file}: not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError(f"{args.file}: the document body must be a JSON object")
    request = {"kind": args.kind, "scope": args.scope, "tenant": args.tenant,
               "site": args.site, "device_id": args.device, "version": args.version,
               "body": body}
    document = _call(args, "POST", "/v1/admin/documents",
                     json={k: v for k, v in request.items() if v is not None})
    target = document.get("device_id") or f"every box of {document['tenant']}" + (
        f"/{document['site']}" if document.get("site") else "")
    print(f"published {document['kind']} {document['scope']} version {document['version']}"
          f" ({document['document_id']}) for {target}")
    return 0


def cmd_messages(args: argparse.Namespace, config: Any) -> int:
    params = {"device_id": args.device} if args.device else {}
    found = _call(args, "GET", "/v1/admin/messages", params=params)["messages"]
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("no messages stored")
        return 0
    print(f"{'ORDER':>6}  {'MESSAGE':<34} {'KIND':<17} {'SESSION':<20} {'SSEQ':>4} "
          f"{'COPIES':>6}  RECEIVED")
    for m in found:
        order = m["delivered_order"] if m["delivered_order"] is not None else "held"
        print(f"{order:>6}  {m['message_id']:<34} {m['kind']:<17} {m['session_id'] or '-':<20}"
              f" {m['session_seq'] or '-':>4} {m['copies']:>6}  {m['received']}")
    return 0


def cmd_enrolment_token(args: argparse.Namespace, config: Any) -> int:
    request = {"device_id": args.device_id, "tenant": args.tenant, "site": args.site,
               "ttl_h": args.ttl_h}
    made = _call(args, "POST", "/v1/admin/enrolment-tokens",
                 json={k: v for k, v in request.items() if v is not None})
    if args.json:
        print(json.dumps(made, indent=2))
        return 0
    print(f"enrolment token for {made['device_id']} ({made['tenant']}/{made['site']}),"
          f" valid until {made['expires']}, usable once; shown once:", file=sys.stderr)
    print(made["token"])
    return 0


def _admin_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="the receiver, e.g. https://127.0.0.1:8443")
    p.add_argument("--token", help="admin token (default: $KIOSK_CENTRAL_TOKEN)")
    p.add_argument("--ca", type=Path, help="CA certificate to check the receiver with")
    p.add_argument("--cert", type=Path, help="client certificate (mutual TLS)")
    p.add_argument("--key", type=Path, help="client certificate's private key")


def add_parsers(rsub: Any) -> None:
    publish = rsub.add_parser("publish", help="Sign and publish a document from a JSON file.")
    _admin_options(publish)
    publish.add_argument("kind", choices=DOCUMENT_KINDS, help="document kind")
    publish.add_argument("file", type=Path, help="the document body (JSON object)")
    publish.add_argument("--scope", required=True,
                         help="job id for job_package, 'device' for config, any for others")
    publish.add_argument("--device", help="only this box")
    publish.add_argument("--tenant", help="tenant (default: the box's, with --device)")
    publish.add_argument("--site", help="only boxes of this site")
    publish.add_argument("--version", type=int, help="version (default: the scope's last + 1)")
    publish.set_defaults(handler=_usage(cmd_publish))

    msgs = rsub.add_parser("messages", help="List stored messages in delivery order.")
    _admin_options(msgs)
    msgs.add_argument("--device", help="only this box's messages")
    msgs.add_argument("--json", action="store_true", help="print as JSON")
    msgs.set_defaults(handler=_usage(cmd_messages))

    tok = rsub.add_parser("enrolment-token", help="Create a one-time enrolment token for a"
                          " box (printed once).")
    _admin_options(tok)
    tok.add_argument("--device-id", required=True, help="the box's device id (its"
                     " certificate's CN)")
    tok.add_argument("--tenant", help="tenant (default: the receiver's --enrol-tenant)")
    tok.add_argument("--site", help="site (default: the receiver's --enrol-site)")
    tok.add_argument("--ttl-h", type=float, default=72.0,
                     help="hours the token stays valid (72)")
    tok.add_argument("--json", action="store_true", help="print the token and its binding"
                     " as JSON")
    tok.set_defaults(handler=_usage(cmd_enrolment_token))

    devs = rsub.add_parser("devices", help="List the enrolled boxes, or register one whose"
                           " certificate was issued by hand.")
    _admin_options(devs)
    devs.add_argument("--add", metavar="DEVICE_ID", help="register this box")
    devs.add_argument("--tenant", help="its tenant (with --add)")
    devs.add_argument("--site", help="its site (with --add)")
    devs.add_argument("--move", action="store_true",
                      help="with --add: move a registered box to this tenant and site")
    devs.add_argument("--json", action="store_true", help="print as JSON")
    devs.set_defaults(handler=_usage(cmd_devices))
