"""``kiosk central``: central, the other end of every box (``kiosk hr-receiver`` is the old
name, kept as an alias for this release).

``serve`` runs it (HTTPS and MQTT), ``worker`` ingests MQTT as one of many, ``keygen``
makes the signing key a box pins and ``admin-token`` an admin's credential; the commands
that talk to a running central's admin API are in :mod:`kiosk.cli_central_admin`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.contract import DocumentKind

PROG = "kiosk central"
DOCUMENT_KINDS: tuple[DocumentKind, ...] = ("job_package", "roster", "config", "deletion")
Handler = Callable[[argparse.Namespace, Any], int]


class UsageError(Exception):
    """Bad arguments or an unreadable file: exit status 2."""


def _usage(handler: Handler) -> Handler:
    def run(args: argparse.Namespace, config: Any) -> int:
        try:
            return handler(args, config)
        except UsageError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2

    return run


def _file(path: Path | None, what: str) -> Path | None:
    if path is not None and not path.is_file():
        raise UsageError(f"{what} {path}: no such file")
    return path


# -- serve / keygen -------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace, config: Any) -> int:
    import uvicorn

    from central import MqttSettings, Receiver, TlsSettings
    from central.errors import MqttConnectError, MqttRefusedError
    from central.server import uvicorn_config
    from device.ops import logs

    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.client_ca is not None and args.tls_cert is None:
        raise UsageError("--client-ca (mutual TLS) needs --tls-cert and --tls-key")
    mqtt_files = (args.mqtt_ca, args.mqtt_cert, args.mqtt_key)
    if args.mqtt_host is None and any(f is not None for f in mqtt_files):
        raise UsageError("--mqtt-ca/--mqtt-cert/--mqtt-key need --mqtt-host")
    if (args.mqtt_cert is None) != (args.mqtt_key is None):
        raise UsageError("--mqtt-cert and --mqtt-key go together")
    _database(args.database)
    for path, what in ((args.tls_cert, "--tls-cert"), (args.tls_key, "--tls-key"),
                       (args.client_ca, "--client-ca"), (args.mqtt_ca, "--mqtt-ca"),
                       (args.mqtt_cert, "--mqtt-cert"), (args.mqtt_key, "--mqtt-key")):
        _file(path, what)
    tls = TlsSettings(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
    mqtt = None
    if args.mqtt_host is not None:
        mqtt = MqttSettings(args.mqtt_host, args.mqtt_port, ca=args.mqtt_ca,
                            cert=args.mqtt_cert, key=args.mqtt_key,
                            client_id=args.mqtt_client_id, share_group=args.share_group)
    enrolment = _enrolment(args)
    if args.webhook_retry_hours <= 0:
        raise UsageError("--webhook-retry-hours must be above 0")
    if args.enrol_port is not None and tls is None:
        raise UsageError("--enrol-port needs --tls-cert and --tls-key")
    receiver = Receiver(args.data_dir, mqtt=mqtt, enrolment=enrolment, database=args.database)
    if args.broker_acl is not None:
        services = args.broker_service or ["central"]
        receiver.registry_listeners.append(_acl_writer(args.broker_acl, services,
                                                       args.broker_reload_command))
        receiver.registry_changed()
    logs.setup("INFO", "text")
    from central.webhooks.delivery import Deliverer, RetryPolicy

    deliverer = Deliverer(receiver.store,
                          policy=RetryPolicy(give_up_after_s=args.webhook_retry_hours * 3600))
    enrol_server = None
    try:
        deliverer.start()
        if args.enrol_port is not None and tls is not None:
            from central import ServerThread, TlsSettings

            # the same server certificate, no client certificate asked: boxes have none yet
            enrol_server = ServerThread(receiver.enrol_app, args.host, args.enrol_port,
                                        TlsSettings(tls.cert, tls.key)).start()
            print(f"{PROG}: enrolment on https://{args.host}:{enrol_server.port}/v1/enrol",
                  file=sys.stderr)
        if mqtt is not None:
            try:
                receiver.start_mqtt(wait_s=10.0)
            except MqttRefusedError:
                raise
            except MqttConnectError as exc:
                print(f"{PROG}: warning: {exc}", file=sys.stderr)
        scheme = "https" if tls else "http"
        print(f"{PROG}: serving {scheme}://{args.host}:{args.port} (signing key"
              f" {receiver.key_id}, data in {args.data_dir}, database"
              f" {_where(receiver.store.describe())})", file=sys.stderr)
        uvicorn.Server(uvicorn_config(receiver.app, args.host, args.port, tls,
                                      log_config=None)).run()
    finally:
        deliverer.stop()
        if enrol_server is not None:
            enrol_server.stop()
        receiver.close()
    return 0


def _acl_writer(path: Path, services: list[str],
                reload_command: str | None) -> Callable[[Any], None]:
    """Rewrite the broker's ACL file for the enrolled boxes, then have the broker reload it."""
    import shlex
    import subprocess

    from central.broker import write_acl

    def write(devices: Any) -> None:
        write_acl(path, devices, services)
        if reload_command:
            subprocess.run(shlex.split(reload_command), check=True, timeout=30)

    return write


def cmd_admin_token(args: argparse.Namespace, config: Any) -> int:
    from central.admin import create_token
    from central.store import ReceiverStore

    if (args.data_dir is None) == (args.database is None):
        raise UsageError("give --data-dir (the embedded database) or --database URL")
    _database(args.database)
    store = ReceiverStore(args.database or args.data_dir / "receiver.db")
    try:
        token = create_token(store, args.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    print(f"{PROG}: admin token for {args.name!r}; shown once, keep it secret:",
          file=sys.stderr)
    print(token)
    return 0


def _database(url: str | None) -> None:
    if url is not None and not url.startswith(("postgresql://", "postgres://", "sqlite://")):
        raise UsageError(f"--database {url}: give postgresql://USER@HOST:PORT/DB or"
                         " sqlite:///PATH")


def _where(described: dict[str, Any]) -> str:
    return str(described.get("url") or described.get("path"))


def cmd_worker(args: argparse.Namespace, config: Any) -> int:
    import signal
    import threading

    from central.errors import MqttConnectError, MqttRefusedError
    from central.mqtt import MqttSettings, subscriptions
    from central.store import ReceiverStore
    from central.worker import IngestWorker
    from device.ops import logs

    _database(args.database)
    if (args.mqtt_cert is None) != (args.mqtt_key is None):
        raise UsageError("--mqtt-cert and --mqtt-key go together")
    for path, what in ((args.mqtt_ca, "--mqtt-ca"), (args.mqtt_cert, "--mqtt-cert"),
                       (args.mqtt_key, "--mqtt-key")):
        _file(path, what)
    try:
        topics = subscriptions(args.share_group)
    except ValueError as exc:
        raise UsageError(f"--share-group: {exc}") from None
    settings = MqttSettings(args.mqtt_host, args.mqtt_port, ca=args.mqtt_ca,
                            cert=args.mqtt_cert, key=args.mqtt_key, client_id=args.client_id,
                            share_group=args.share_group)
    logs.setup("INFO", "text")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = IngestWorker(ReceiverStore(args.database), settings)
    try:
        try:
            worker.start(wait_s=10.0)
        except MqttRefusedError:
            raise
        except MqttConnectError as exc:
            print(f"{PROG}: warning: {exc}", file=sys.stderr)
        if not worker.link.wait_subscribed(10.0):
            print(f"{PROG}: warning: no subscription granted yet", file=sys.stderr)
        print(f"{PROG}: worker {args.client_id} ingesting {', '.join(topics)} from"
              f" {args.mqtt_host}:{args.mqtt_port} into {_where(worker.store.describe())}",
              file=sys.stderr, flush=True)
        stop.wait()
    finally:
        worker.close()
    return 0


def _enrolment(args: argparse.Namespace) -> Any:
    from central.enrol import EnrolmentSettings
    from central.pki import CertificateAuthority

    if args.enrol_ca_dir is None:
        if args.public_mqtt or args.public_https_url or args.enrol_port is not None:
            raise UsageError("--public-mqtt, --public-https-url and --enrol-port need"
                             " --enrol-ca-dir (the CA that signs device certificates)")
        return None
    CertificateAuthority.load(args.enrol_ca_dir)  # missing or mismatched: stop now
    try:
        return EnrolmentSettings(args.enrol_ca_dir, mqtt=args.public_mqtt,
                                 https_url=args.public_https_url, tenant=args.enrol_tenant,
                                 site=args.enrol_site)
    except ValueError as exc:
        raise UsageError(f"enrolment: {exc} (give --public-mqtt HOST:PORT and/or"
                         " --public-https-url URL)") from None


def cmd_keygen(args: argparse.Namespace, config: Any) -> int:
    from central.documents import key_path, load_or_create_key, public_key_pem
    from shared.signing import key_id

    key, created = load_or_create_key(args.data_dir)
    pem = public_key_pem(key)
    state = "created" if created else "kept the existing"
    print(f"{PROG}: {state} signing key {key_path(args.data_dir)} (key id"
          f" {key_id(key.public_key())})", file=sys.stderr)
    if args.public_out is None:
        print(pem, end="")
        return 0
    try:
        args.public_out.parent.mkdir(parents=True, exist_ok=True)
        args.public_out.write_text(pem)
    except OSError as exc:
        raise UsageError(f"--public-out {args.public_out}: cannot write: {exc.strerror}"
                         ) from None
    print(f"public key written to {args.public_out}")
    return 0


# -- parser ----------------------------------------------------------------------------------

def register(sub: Any) -> None:
    p = sub.add_parser("central", aliases=["hr-receiver"],
                       help="Run central: ingest, documents, enrolment (alias: hr-receiver,"
                       " the old name, kept for this release only).",
                       description="Central: the other end of every box (ingest over MQTT"
                       " and HTTPS, signed documents, enrolment). 'kiosk hr-receiver' is the"
                       " old name of this command, kept as an alias for this release only.")
    rsub = p.add_subparsers(dest="receiver_command", required=True, metavar="ACTION")

    serve = rsub.add_parser("serve", help="Serve the receiver's HTTPS API and ingest MQTT.")
    serve.add_argument("--data-dir", type=Path, required=True, help="database, media, key")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8443, help="TCP port (8443)")
    serve.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="server certificate's key (PEM)")
    serve.add_argument("--client-ca", type=Path,
                       help="require client certificates signed by this CA (mutual TLS)")
    serve.add_argument("--mqtt-host", help="MQTT broker to ingest from (default: no MQTT)")
    serve.add_argument("--mqtt-port", type=int, default=8883, help="broker port (8883)")
    serve.add_argument("--mqtt-ca", type=Path, help="CA certificate of the broker")
    serve.add_argument("--mqtt-cert", type=Path, help="central's client certificate (CN central)")
    serve.add_argument("--mqtt-key", type=Path, help="central's client key")
    serve.add_argument("--mqtt-client-id", default="central",
                       help="MQTT client id (central); each instance needs its own")
    serve.add_argument("--share-group", help="ingest MQTT as a member of this shared"
                       " subscription group (default: receive everything)")
    serve.add_argument("--database", metavar="URL",
                       help="postgresql://… (several instances share it) or sqlite:///PATH"
                       " (default: receiver.db in --data-dir)")
    serve.add_argument("--enrol-ca-dir", type=Path,
                       help="enrol boxes: the CA directory (ca.pem, ca.key) that signs"
                       " device certificates")
    serve.add_argument("--public-mqtt", metavar="HOST:PORT",
                       help="the broker as boxes reach it, handed out at enrolment")
    serve.add_argument("--public-https-url", metavar="URL",
                       help="this receiver as boxes reach it, handed out at enrolment")
    serve.add_argument("--enrol-port", type=int,
                       help="also serve POST /v1/enrol on this port, TLS without client"
                       " certificates (needed when --client-ca is set)")
    serve.add_argument("--enrol-tenant", default="demo-tenant",
                       help="tenant of tokens created without --tenant (demo-tenant)")
    serve.add_argument("--enrol-site", default="demo-site",
                       help="site of tokens created without --site (demo-site)")
    serve.add_argument("--broker-acl", type=Path, metavar="FILE",
                       help="keep this Mosquitto ACL file written for the enrolled boxes"
                       " (each box only its own tenant/site/device topics)")
    serve.add_argument("--broker-service", action="append", metavar="CN",
                       help="a certificate CN of central's own (this instance's, each"
                       " worker's) that the ACL lets read and write everything; repeat it"
                       " (default: central)")
    serve.add_argument("--broker-reload-command", metavar="CMD",
                       help="run after each ACL rewrite, e.g. 'systemctl reload mosquitto'")
    serve.add_argument("--webhook-retry-hours", type=float, default=72.0, metavar="H",
                       help="keep retrying a webhook event this long before it becomes a"
                       " dead letter (default 72)")
    serve.set_defaults(handler=_usage(cmd_serve))

    token = rsub.add_parser("admin-token", help="Make an admin token (printed once) for the"
                            " admin routes and commands.")
    token.add_argument("--data-dir", type=Path, help="the receiver's data dir (SQLite)")
    token.add_argument("--database", metavar="URL",
                       help="or central's shared database, postgresql://USER@HOST:PORT/DB")
    token.add_argument("--name", required=True, help="who holds it, e.g. hr-ops")
    token.set_defaults(handler=_usage(cmd_admin_token))

    worker = rsub.add_parser("worker", help="Ingest MQTT into a shared database: one of any"
                             " number of workers on a shared subscription.")
    worker.add_argument("--database", metavar="URL", required=True,
                        help="postgresql://USER@HOST:PORT/DB, shared by every worker")
    worker.add_argument("--mqtt-host", required=True, help="the MQTT broker (cluster)")
    worker.add_argument("--mqtt-port", type=int, default=8883, help="broker port (8883)")
    worker.add_argument("--mqtt-ca", type=Path, help="CA certificate of the broker")
    worker.add_argument("--mqtt-cert", type=Path, help="central's client certificate (CN"
                        " central)")
    worker.add_argument("--mqtt-key", type=Path, help="central's client key")
    worker.add_argument("--share-group", default="ingest",
                        help="shared subscription group of all workers (ingest)")
    worker.add_argument("--client-id", required=True,
                        help="this worker's MQTT client id, unique and the same across"
                        " restarts: central-ingest-1, central-ingest-2, …")
    worker.set_defaults(handler=_usage(cmd_worker))

    keygen = rsub.add_parser("keygen", help="Create the signing key (if absent) and print the"
                             " public key a box pins.")
    keygen.add_argument("--data-dir", type=Path, required=True, help="the receiver's data dir")
    keygen.add_argument("--public-out", type=Path, help="write the public key PEM here")
    keygen.set_defaults(handler=_usage(cmd_keygen))

    from kiosk.cli_central_admin import add_parsers
    from kiosk.cli_console import add_parsers as add_console_parsers

    add_parsers(rsub)
    add_console_parsers(rsub)
