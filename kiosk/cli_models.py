"""``kiosk models``: install, add, list, verify and remove on-device models."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from device.errors import KioskError
from inference.errors import ModelError
from inference.models.store import ModelStore
from kiosk.progress import ProgressBar


def _store(config: KioskConfig) -> ModelStore:
    return ModelStore(config.models_dir)


def cmd_install(args: argparse.Namespace, config: KioskConfig) -> int:
    from inference.models.installer import install
    from inference.models.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    specs = [m for m in manifest.models
             if (m.name in args.name if args.name else not m.optional)]
    unknown = sorted(set(args.name or []) - {m.name for m in manifest.models})
    if unknown:
        raise ModelError(f"not in the manifest: {', '.join(unknown)}"
                         f" (it has: {', '.join(m.name for m in manifest.models)})")
    bar = ProgressBar()
    try:
        results = install(_store(config), specs, download_dir=args.download_dir,
                          force=args.force, progress=bar)
    finally:
        bar.close()
    for model, changed in results:
        state = "installed" if changed else "already installed, verified"
        print(f"{model.name:<26} {model.spec.version:<18} {state}")
    print(f"model store: {config.models_dir}")
    return 0


def cmd_add(args: argparse.Namespace, config: KioskConfig) -> int:
    from inference.models.installer import add_local_speech_model

    bar = ProgressBar()
    try:
        model = add_local_speech_model(_store(config), args.path, args.language,
                                       name=args.name, version=args.version, progress=bar)
    finally:
        bar.close()
    print(f"added {model.name} (speech, {model.spec.language}), {model.size / 1e6:.1f} MB")
    return 0


def cmd_list(args: argparse.Namespace, config: KioskConfig) -> int:
    models = _store(config).installed()
    if args.json:
        import json

        print(json.dumps([_row(m) for m in models], ensure_ascii=False, indent=2))
        return 0
    if not models:
        print(f"no models installed in {config.models_dir}; run `kiosk models install`")
        return 0
    print(f"{'NAME':<26} {'KIND':<15} {'LANG':<12} {'VERSION':<18} {'SIZE':>9}  LICENSE")
    for m in models:
        langs = ",".join(m.spec.served_languages()) or "-"
        print(f"{m.name:<26} {m.spec.kind:<15} {langs:<12} "
              f"{m.spec.version:<18} {m.size / 1e6:>7.1f}MB  {m.spec.license}")
    return 0


def _row(m: Any) -> dict[str, Any]:
    return {"name": m.name, "kind": m.spec.kind, "language": m.spec.language,
            "languages": list(m.spec.served_languages()), "backend": m.spec.backend,
            "version": m.spec.version, "license": m.spec.license, "size": m.size,
            "sha256": m.digest, "source": m.spec.source.model_dump()}


def cmd_verify(args: argparse.Namespace, config: KioskConfig) -> int:
    store = _store(config)
    found = store.verify(args.name or None)
    if not found:
        print(f"no models installed in {config.models_dir}")
        return 1
    failed = 0
    for name, problems in found.items():
        if problems:
            failed += 1
            print(f"{name}: FAILED")
            for problem in problems:
                print(f"  {problem}")
        else:
            print(f"{name}: ok")
    if failed:
        raise KioskError(f"{failed} model(s) failed verification and will not be loaded;"
                         " `kiosk models install` reinstalls them")
    return 0


def cmd_remove(args: argparse.Namespace, config: KioskConfig) -> int:
    _store(config).remove(args.name)
    print(f"removed {args.name}")
    return 0


def register(sub: Any) -> None:
    models = sub.add_parser("models", help="On-device models: install, add, list, verify.",
                            description="On-device models: install, add, list, verify.")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    inst = msub.add_parser("install", help="Install the models of the manifest (default: the"
                           " product's), each checked against its pinned sha256.")
    inst.add_argument("name", nargs="*", help="only these models, optional ones included"
                      " (default: every model not marked optional)")
    inst.add_argument("--manifest", type=Path, help="a model manifest file (JSON)")
    inst.add_argument("--download-dir", type=Path, help="look for release files here first and"
                      " keep downloads here (for offline provisioning)")
    inst.add_argument("--force", action="store_true", help="reinstall verified models too")
    inst.set_defaults(handler=cmd_install)

    add = msub.add_parser("add", help="Add a vosk speech model from a directory or .zip.")
    add.add_argument("path", type=Path, help="model directory or zip (e.g. vosk-model-small-cn)")
    add.add_argument("--language", required=True, help="language it recognises: zh-CN, en, ko")
    add.add_argument("--name", help="name in the store (default: from the file name)")
    add.add_argument("--version", default="local", help="version label (default: local)")
    add.set_defaults(handler=cmd_add)

    lst = msub.add_parser("list", help="List installed models.")
    lst.add_argument("--json", action="store_true", help="print as JSON")
    lst.set_defaults(handler=cmd_list)

    ver = msub.add_parser("verify", help="Check every installed file against its digest.")
    ver.add_argument("name", nargs="*", help="only these models (default: all)")
    ver.set_defaults(handler=cmd_verify)

    rm = msub.add_parser("remove", help="Remove an installed model.")
    rm.add_argument("name", help="model name")
    rm.set_defaults(handler=cmd_remove)
