"""``kiosk central console`` (HR's console, on its own port) and ``kiosk central user
add | list | disable`` (its users, written straight into central's database)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from kiosk.cli_central import PROG, UsageError, _database, _file, _usage, _where


def _store(args: argparse.Namespace) -> Any:
    from central.store import ReceiverStore

    if (args.data_dir is None) == (args.database is None):
        raise UsageError("give --data-dir (the embedded database) or --database URL")
    _database(args.database)
    return ReceiverStore(args.database or args.data_dir / "receiver.db")


def cmd_console(args: argparse.Namespace, config: Any) -> int:
    import uvicorn

    from central.console import create_app
    from central.server import TlsSettings, uvicorn_config
    from device.ops import logs

    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    _file(args.tls_cert, "--tls-cert")
    _file(args.tls_key, "--tls-key")
    tls = TlsSettings(args.tls_cert, args.tls_key) if args.tls_cert else None
    store = _store(args)
    logs.setup("INFO", "text")
    try:
        scheme = "https" if tls else "http"
        if tls is None and args.host not in ("127.0.0.1", "::1", "localhost"):
            print(f"{PROG}: warning: serving the console without TLS on {args.host}; put it"
                  " behind TLS (--tls-cert/--tls-key or a reverse proxy)", file=sys.stderr)
        print(f"{PROG}: console on {scheme}://{args.host}:{args.port} (database"
              f" {_where(store.describe())})", file=sys.stderr)
        app = create_app(store, secure=tls is not None or args.behind_tls)
        uvicorn.Server(uvicorn_config(app, args.host, args.port, tls, log_config=None)).run()
    finally:
        store.close()
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise UsageError("the two passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace, config: Any) -> int:
    from central.console import users

    store = _store(args)
    try:
        user = users.add(store, args.username, args.role, _password(args), args.name,
                         tuple(args.job or ()))
    except users.UserError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    jobs = ", ".join(user.jobs) or "no jobs"
    print(f"{user.username} added as {user.role} ({jobs})")
    return 0


def cmd_user_list(args: argparse.Namespace, config: Any) -> int:
    from central.console import users

    store = _store(args)
    try:
        for u in users.listing(store):
            state = "disabled" if u.disabled else "active"
            print(f"{u.username:<24} {u.role:<16} {state:<8} {','.join(u.jobs) or '-'}"
                  f"  {u.display_name}")
    finally:
        store.close()
    return 0


def cmd_user_disable(args: argparse.Namespace, config: Any) -> int:
    from central.console import users

    store = _store(args)
    try:
        users.disable(store, args.username)
    except users.UserError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    print(f"{args.username} disabled; their sessions ended")
    return 0


def _where_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="central's data dir (its SQLite database)")
    p.add_argument("--database", metavar="URL",
                   help="or central's shared database, postgresql://USER@HOST:PORT/DB")


def add_parsers(rsub: Any) -> None:
    from central.console.users import ROLES

    console = rsub.add_parser("console", help="Serve central HR's console on its own port.")
    _where_args(console)
    console.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    console.add_argument("--port", type=int, default=8444, help="TCP port (8444)")
    console.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    console.add_argument("--tls-key", type=Path, help="server certificate's key (PEM)")
    console.add_argument("--behind-tls", action="store_true",
                         help="a TLS reverse proxy is in front: mark cookies Secure")
    console.set_defaults(handler=_usage(cmd_console))

    user = rsub.add_parser("user", help="The console's users: add, list, disable.")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="Add a console user with a role and the jobs they hold.")
    _where_args(add)
    add.add_argument("username", help="lower-case login name, e.g. wang.li")
    add.add_argument("--role", required=True, choices=ROLES, help="what they may see and do")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--job", action="append", metavar="JOB_ID",
                     help="a job they are responsible for; repeat it")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (default: ask twice)")
    add.set_defaults(handler=_usage(cmd_user_add))
    listing = usub.add_parser("list", help="List the console's users.")
    _where_args(listing)
    listing.set_defaults(handler=_usage(cmd_user_list))
    disable = usub.add_parser("disable", help="Disable a user and end their sessions.")
    _where_args(disable)
    disable.add_argument("username")
    disable.set_defaults(handler=_usage(cmd_user_disable))
