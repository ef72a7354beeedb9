"""``kiosk``: the command line of the interview kiosk.

Configuration is loaded here, once, and passed down. Errors become one clear line on
stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from device.config_loader import load_config
from device.errors import ConfigError, KioskError
from inference.errors import InferenceError
from kiosk import (
    analyze,
    cli_central,
    cli_devices,
    cli_models,
    cli_provision,
    cli_store,
    cli_sync,
    cli_transcribe,
    cli_tui,
)

Handler = Callable[[argparse.Namespace, KioskConfig], int]


def _open(config: KioskConfig) -> Any:
    from device.composition import open_kiosk
    from provisioning.wipe import refuse_if_pending

    refuse_if_pending(config)  # an interrupted factory reset must be finished first
    return open_kiosk(config)


def cmd_serve(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.api.app import create_app
    from device.api.serving import server_options
    from device.ops import logs
    from provisioning import notify, wipe

    wipe.refuse_if_pending(config)  # an interrupted factory reset must be finished first
    logs.setup(config.logging.level, config.logging.format, "kiosk-device", config.data_dir)
    analyzer = None
    if config.analysis.enabled:
        from device.composition import load_analyzer

        try:  # a model that fails verification is never loaded: refuse to start
            analyzer = load_analyzer(config)
        except InferenceError as exc:
            raise ConfigError(
                f"{exc} (to run without on-device analysis, set [analysis] enabled = false)"
            ) from None
    kiosk = _open(config)
    if analyzer is not None:
        kiosk.analysis.use(analyzer)
    from provisioning.for_api import BoxProvisioner

    app = create_app(kiosk, analyse=analyzer is not None, capture=config.capture.enabled,
                     provisioner=BoxProvisioner())
    socket = args.unix_socket or config.api.unix_socket
    host = args.host or config.api.host
    port = args.port or config.api.port
    options = server_options(config.api)
    try:
        # READY=1 once listening, WATCHDOG=1 while the store answers, STOPPING=1 (systemd)
        if socket:
            notify.run_server(app, kiosk.store, uds=str(socket), log_config=None, **options)
        else:
            notify.run_server(app, kiosk.store, host=host, port=port, log_config=None,
                              **options)
    finally:
        kiosk.close()
    return 0


def cmd_audit_verify(args: argparse.Namespace, config: KioskConfig) -> int:
    from device import audit

    kiosk = _open(config)
    with kiosk.store.read() as db:
        result = audit.verify(db)
    if result.ok:
        print(f"audit log intact: {result.entries} entries verified")
        return 0
    print(f"audit log FAILED verification after {result.entries} good entries: {result.problem}")
    return 1


def cmd_token_create(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.staff import tokens

    jobs = [j for j in (args.jobs or "").split(",") if j]
    created = tokens.create(_open(config).store, args.name, args.role, jobs,
                            Actor("admin", "console"))
    print(f"token for {created.name} ({created.role}); shown once, store it safely:")
    print(created.token)
    return 0


def cmd_token_list(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.staff import tokens

    for t in tokens.list_tokens(_open(config).store):
        status = f"revoked {t.revoked}" if t.revoked else "active"
        scope = ",".join(t.jobs) or "-"
        print(f"{t.name:<24} {t.role:<11} jobs={scope:<30} {status}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.staff import tokens

    tokens.revoke(_open(config).store, args.name, Actor("admin", "console"))
    print(f"token {args.name} revoked")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KioskError(f"{path}: cannot read: {exc.strerror}") from None


def cmd_jobs_import(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.jobs.installed import import_package

    kiosk = _open(config)
    outcome = import_package(kiosk.store, _read(args.file), str(args.file),
                             Actor("admin", "console"), kiosk.engine.languages)
    verb = "imported" if outcome.status == "imported" else "already active, unchanged:"
    print(f"{verb} job {outcome.job_id} version {outcome.version}")
    if outcome.notice:
        print(f"warning: {outcome.notice}")
    return 0


def cmd_jobs_list(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.jobs.installed import list_jobs

    kiosk = _open(config)
    for job in list_jobs(kiosk.store, kiosk.engine.languages):
        title = job["title"].get(job["language"], next(iter(job["title"].values())))
        off = job["languages_disabled"]
        note = f"  (cannot analyse: {', '.join(off)})" if off else ""
        print(f"{job['id']:<28} v{job['active_version']:<4} {job['cost_centre']:<18} {title}"
              f"{note}")
    return 0


def cmd_roster_import(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.sessions.roster import import_roster, parse_roster

    kiosk = _open(config)
    roster = parse_roster(_read(args.file), str(args.file))
    for i in import_roster(kiosk.engine, roster, str(args.file), Actor("admin", "console")):
        code = i.invite_code or "(unchanged)"
        print(f"{i.candidate_id:<24} {i.status:<16} invite code: {code}")
        if i.warning:
            print(f"  warning: {i.warning}")
    return 0


def cmd_drill(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.audit import Actor
    from device.sessions.roster import start_drill

    invited = start_drill(_open(config).engine, args.job, Actor("technician", "console"))
    print(f"drill session {invited.session_id}: check in with code {invited.invite_code}")
    return 0


def cmd_config_check(args: argparse.Namespace, config: KioskConfig) -> int:
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.demo import run_demo

    return run_demo(config, as_json=args.json, data_dir=args.data_dir, cache=args.cache,
                    serve=args.serve, ci=args.ci, language=args.language)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk", description="On-site interview kiosk: capture, analysis, sync, operation.")
    parser.add_argument("--config", type=Path, help="TOML configuration file "
                        "(default: $KIOSK_CONFIG, else built-in defaults)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    serve = add("serve", cmd_serve, "Run the local API and candidate UI (kiosk-device).")
    serve.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default from config: 8470)")
    serve.add_argument("--unix-socket", type=Path, help="listen on a unix socket instead")

    cli_models.register(sub)
    cli_sync.register(sub)
    cli_devices.register(sub)
    cli_tui.register(sub)
    cli_provision.register(sub)
    cli_store.register(sub)
    cli_central.register(sub)
    analyze.register(sub)
    cli_transcribe.register(sub)

    demo = add("demo", cmd_demo, "Run one scripted interview end to end: central, enrolment,"
               " capture, analysis, report, delivery.")
    demo.add_argument("--json", action="store_true",
                      help="print the summary as JSON on stdout (progress goes to stderr)")
    demo.add_argument("--serve", action="store_true",
                      help="then keep the kiosk running for the touchscreen and the TUI")
    demo.add_argument("--ci", action="store_true",
                      help="the same path with a shorter script (for CI)")
    demo.add_argument("--language", choices=("zh-CN", "en", "ko"),
                      help="the candidate's language (default: zh-CN, Mandarin)")
    demo.add_argument("--data-dir", type=Path,
                      help="the demo's data, emptied at each run (default: <data_dir>/demo)")
    demo.add_argument("--cache", type=Path,
                      help="downloads and sample media (default: <data_dir>/cache)")

    audit_p = sub.add_parser("audit", help="Audit log commands.")
    audit_sub = audit_p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="Verify the audit log's hash chain.")
    verify.set_defaults(handler=cmd_audit_verify)

    token = sub.add_parser("token", help="Staff tokens for the local API.")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="Create a token (printed once).")
    create.add_argument("--role", required=True, choices=["technician", "site_hr", "admin"])
    create.add_argument("--name", required=True, help="who holds it, e.g. 'alice-hr'")
    create.add_argument("--jobs", help="comma-separated job ids (required for site_hr)")
    create.set_defaults(handler=cmd_token_create)
    token_sub.add_parser("list", help="List tokens.").set_defaults(handler=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="Revoke a token by name.")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_token_revoke)

    jobs = sub.add_parser("jobs", help="Job packages.")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    imp = jobs_sub.add_parser("import", help="Import a job package file.")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_jobs_import)
    jobs_sub.add_parser("list", help="List active jobs.").set_defaults(handler=cmd_jobs_list)

    roster = sub.add_parser("roster", help="Candidate rosters.")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True, metavar="ACTION")
    rimp = roster_sub.add_parser("import", help="Invite the candidates of a roster file.")
    rimp.add_argument("file", type=Path)
    rimp.set_defaults(handler=cmd_roster_import)

    drill = add("drill", cmd_drill, "Create a drill session (installation test, training).")
    drill.add_argument("--job", required=True, help="job id")

    config = sub.add_parser("config", help="Configuration.")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_sub.add_parser("check", help="Validate and print the effective configuration."
                          ).set_defaults(handler=cmd_config_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        handler: Handler = args.handler
        return handler(args, config)
    except ConfigError as exc:
        print(f"kiosk: configuration error: {exc}", file=sys.stderr)
        return 2
    except (KioskError, InferenceError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
